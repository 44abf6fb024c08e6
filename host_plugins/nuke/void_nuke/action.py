"""The "VOID ▸ Remove Object…" command (GUI) and its batch twin for ``nuke -t`` scripts."""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Tuple

import nuke

from . import nodes, ui
from .errors import SetupError
from .runner import JobInputs, Outcome, RemoveJob
from .selection import Inputs, check_formats, default_frame_range, pick_inputs
from .settings import RemoveSettings, default_engine_address, default_timeout

#: Jobs started from the menu in this session, newest last (keeps their threads reachable from
#: the Script Editor: ``void_nuke.action.JOBS[-1].outcome``).
JOBS: List[RemoveJob] = []


def default_out_dir(plate: nuke.Node) -> str:
    """Results go beside the plate (``<plate folder>/void``), else beside the saved script; else ""
    (the artist must choose: the system's temp folder is no place for a shot's results)."""
    source = nodes.read_source(plate)
    path = source.pattern or (str(plate["file"].value()) if plate.Class() == "Read" else "")
    if path:
        return os.path.join(os.path.dirname(path), "void")
    try:
        script = nuke.scriptName()
    except RuntimeError:  # an unsaved script has no name
        script = ""
    if script:
        return os.path.join(os.path.dirname(script), "void")
    return ""


def job_inputs(inputs: Inputs) -> JobInputs:
    """Check the nodes, pin them down by name and find the plate's files (main thread)."""
    check_formats(inputs)
    source = nodes.read_source(inputs.plate)
    return JobInputs(
        plate=inputs.plate.name(),
        remove=inputs.remove.name(),
        affected=inputs.affected.name() if inputs.affected is not None else None,
        plate_pattern=source.pattern,
        plate_colorspace=source.colorspace,
    )


def remove_object() -> Optional[RemoveJob]:
    """Menu command: selection -> panel -> job in a thread. Returns the job (None when not started)."""
    from .panel import RemovePanel  # nukescripts' panels exist only where Nuke has a GUI

    try:
        inputs = pick_inputs(nuke.selectedNodes())
        check_formats(inputs)  # before the panel: no point filling it in for mattes that cannot work
        first, last = default_frame_range(inputs.plate)
        panel = RemovePanel(inputs, first, last, default_out_dir(inputs.plate), default_engine_address())
        if not panel.showModalDialog():
            return None
        settings = panel.settings()
        if settings.mask_mode == "quadmask":
            inputs = pick_inputs(nuke.selectedNodes(), quadmask=True)
        job = RemoveJob(settings, job_inputs(inputs))
    except SetupError as exc:
        ui.show_message(str(exc))
        return None
    JOBS.append(job)
    if nuke.GUI:
        job.start()
    else:
        job.run()
    return job


def remove_object_batch(
    plate: str,
    remove: str,
    prompt: str,
    *,
    affected: Optional[str] = None,
    first: Optional[int] = None,
    last: Optional[int] = None,
    out_dir: Optional[str] = None,
    seed: int = 0,
    steps: int = 0,
    pass2: bool = False,
    mask_mode: str = "mattes",
    engine: Optional[str] = None,
    transfer: str = "auto",
    timeout_s: Optional[float] = None,
    keyframes: Optional[Tuple[int, ...]] = None,
    instruction: str = "",
    echo: Optional[Callable[[str], None]] = None,
) -> Outcome:
    """The same job for ``nuke -t`` scripts, with node names given explicitly; runs to the end.

    Example: ``remove_object_batch("Read1", "Roto1", "empty street", first=1001, last=1096)``.
    For mask modes "propagate"/"reason", ``keyframes`` are the frames the roto is drawn on
    (default: the first frame of the range). ``echo`` gets each progress line. Errors are not
    printed: ``outcome.message`` holds them. SIGINT (KeyboardInterrupt) cancels the engine job
    and raises :class:`void_nuke.runner.Interrupted`.
    """
    found = {}
    for role, name in (("plate", plate), ("remove", remove), ("affected", affected)):
        if name is None:
            continue
        node = nuke.toNode(name)
        if node is None:
            raise SetupError(f"No node called {name!r} for the {role}.")
        found[role] = node
    inputs = Inputs(plate=found["plate"], remove=found["remove"], affected=found.get("affected"))
    d_first, d_last = default_frame_range(inputs.plate)
    settings = RemoveSettings(
        prompt=prompt,
        first=d_first if first is None else first,
        last=d_last if last is None else last,
        out_dir=out_dir or default_out_dir(inputs.plate),
        seed=seed,
        steps=steps,
        pass2=pass2,
        mask_mode=mask_mode,
        engine=engine or default_engine_address(),
        transfer=transfer,
        timeout_s=default_timeout() if timeout_s is None else timeout_s,
        keyframes=tuple(keyframes) if keyframes else (d_first if first is None else first,),
        instruction=instruction,
    )
    return RemoveJob(settings, job_inputs(inputs), batch=True, echo=echo).run()
