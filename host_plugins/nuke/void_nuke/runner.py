"""One "Remove Object" job, start to finish, off Nuke's main thread.

:class:`RemoveJob` renders what needs rendering (one frame per main-thread hop, so the UI
breathes between frames), submits to the engine, follows its events into a
``nuke.ProgressTask``, cancels the engine job when the task's cancel is pressed, and finally
asks the main thread for a Read of the result. In a GUI session it runs in its own thread
(:meth:`RemoveJob.start`); under ``nuke -t`` it runs on the caller's thread (:meth:`RemoveJob.run`).
"""

from __future__ import annotations

import re
import shutil
import threading
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

import nuke
from bridge.client import EngineClient, EngineUnavailable, default_token
from bridge.protocol import DONE, FAILED, ProtocolError
from bridge.versions import next_version, version_name

from . import nodes, ui
from .errors import SetupError, artist_message, failed_job_message
from .progress import describe
from .settings import KEYFRAME_MODES, RemoveSettings, build_spec, check_affected, under_roots

INPUTS_FOLDER = ".void-inputs"


@dataclass(frozen=True)
class JobInputs:
    """The job's nodes by name (names cross threads; nodes are touched on the main thread only)."""

    plate: str
    remove: str
    affected: Optional[str]
    plate_pattern: Optional[str]  # a Read's own EXR sequence, used as it is
    plate_colorspace: str


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``done`` (with the result Read), ``failed`` (with the message shown) or ``cancelled``."""

    state: str
    job: Optional[str] = None
    read_node: Optional[str] = None
    output: Optional[str] = None
    message: Optional[str] = None


class _Cancelled(Exception):
    pass


def next_version_dir(out_dir: Path) -> Path:
    """``out_dir/v###`` one past the highest existing version (for results fetched by value)."""
    return out_dir / version_name(next_version(out_dir))


class RemoveJob:
    """A job from panel settings and selected nodes to a result Read node."""

    def __init__(self, settings: RemoveSettings, inputs: JobInputs):
        self.settings = settings.check()
        self.inputs = inputs
        self.key = uuid.uuid4().hex
        self.outcome: Optional[Outcome] = None
        self.finished = threading.Event()
        self.job_id: Optional[str] = None
        self.thread: Optional[threading.Thread] = None
        self._temp_writes: List[str] = []
        self._engine_done = False  # the engine no longer needs the rendered inputs

    # -- entry points -----------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a daemon thread (GUI sessions); returns at once."""
        self.thread = threading.Thread(target=self.run, name=f"void-remove-{self.key[:8]}", daemon=True)
        self.thread.start()
        return self.thread

    def run(self) -> Outcome:
        """Do the whole job on this thread; never raises (the outcome says what happened)."""
        task = nuke.ProgressTask("VOID: Remove Object")
        try:
            self.outcome = self._run(task)
        except _Cancelled:
            self.outcome = Outcome("cancelled", self.job_id, message="Cancelled before the job reached the engine.")
        except (SetupError, EngineUnavailable, ProtocolError) as exc:
            self.outcome = self._fail(artist_message(exc, self.settings.engine))
        except Exception as exc:  # a bug must still end with a message, not a silent thread
            traceback.print_exc()
            self.outcome = self._fail(artist_message(exc, self.settings.engine))
        finally:
            self._cleanup()
            del task  # Nuke closes the progress bar when the task object goes away
            self.finished.set()
        return self.outcome

    # -- the steps --------------------------------------------------------------------------

    def _fail(self, text: str) -> Outcome:
        ui.show_message(text)
        return Outcome("failed", self.job_id, message=text)

    def _run(self, task: Any) -> Outcome:
        s = self.settings
        work = Path(s.out_dir) / INPUTS_FOLDER / self.key
        task.setMessage("Preparing inputs")
        check_affected(s, self.inputs.affected)  # before any rendering
        plate = self.inputs.plate_pattern
        colorspace = self.inputs.plate_colorspace
        if plate is None:
            plate, colorspace = self._render(task, self.inputs.plate, work / "plate.####.exr", "rgba")
        mask_channels = "rgb" if s.mask_mode == "quadmask" else "alpha"
        if s.mask_mode in KEYFRAME_MODES:
            # Only the key frames: the engine propagates the roto over the range (mask mode c/d).
            remove, _ = self._render(
                task, self.inputs.remove, work / "roto.####.exr", "alpha", frames=tuple(sorted(s.keyframes))
            )
        else:
            remove, _ = self._render(task, self.inputs.remove, work / "remove.####.exr", mask_channels)
        affected = None
        if self.inputs.affected is not None:
            affected, _ = self._render(task, self.inputs.affected, work / "affected.####.exr", "alpha")
        self._drop_temp_writes()
        spec = build_spec(
            s,
            plate=plate,
            remove=remove,
            affected=affected,
            name=f"{ui.call(_plate_label, self.inputs.plate)}_void",
            job_key=self.key,
        )

        with EngineClient(s.engine, timeout=s.timeout_s, token=default_token()) as client:
            task.setMessage(f"Connecting to the engine at {s.engine}")
            caps = client.hello()
            by_value = self._by_value(caps, [p for p in (plate, remove, affected, s.out_dir) if p])
            if task.isCancelled():
                raise _Cancelled()
            task.setMessage("Sending frames to the engine" if by_value else "Submitting the job")
            self.job_id = job = client.submit(spec, by_value=by_value, progress=_upload_progress(task))
            stop = threading.Event()
            watcher = threading.Thread(
                target=self._watch_cancel, args=(task, job, stop), daemon=True, name=f"void-cancel-{job}"
            )
            watcher.start()
            try:
                for event in client.events(job, wait=1.0, give_up_after=max(30.0, 6 * s.timeout_s)):
                    shown = describe(event, job)
                    if shown is not None:
                        task.setMessage(shown[0])
                        if shown[1] >= 0:
                            task.setProgress(int(shown[1]))
            finally:
                stop.set()
                watcher.join()
            status = client.status(job)
            self._engine_done = True
            if status.state == FAILED:
                return self._fail(failed_job_message(job, status.error))
            if status.state != DONE:
                return Outcome("cancelled", job, message=f"Job {job} was cancelled.")
            if by_value:
                task.setMessage("Fetching the result")
                fetched = client.fetch(job, dest=next_version_dir(Path(s.out_dir)))
                output, frames = fetched.local_pattern or fetched.pattern, fetched.frames
            else:
                fetched = client.fetch(job)
                output, frames = fetched.pattern, fetched.frames
        version = Path(output).parent.name
        label = f"VOID {version}: remove\n{_short(s.prompt)}\njob {job}"
        read = ui.call(nodes.create_result_read, self.inputs.plate, output, frames, colorspace, label)
        task.setProgress(100)
        return Outcome("done", job, read_node=read, output=output)

    def _render(
        self, task: Any, node: str, pattern: Path, channels: str, frames: Optional[Tuple[int, ...]] = None
    ) -> tuple:
        """Render ``node`` to an EXR sequence over ``frames`` (default: the job's range); returns
        (pattern, colourspace)."""
        frames = self.settings.frames if frames is None else frames
        write = ui.call(nodes.make_temp_write, node, str(pattern), channels)
        self._temp_writes.append(write)
        for i, frame in enumerate(frames):
            if task.isCancelled():
                raise _Cancelled()
            task.setMessage(f"Rendering {node} {i + 1}/{len(frames)}")
            ui.call(nodes.render_frame, write, frame)
        return str(pattern), ui.call(nodes.write_colorspace, write)

    def _by_value(self, caps: dict, paths: List[str]) -> bool:
        mode = self.settings.transfer
        if mode != "auto":
            return mode == "value"
        return not (caps.get("by_path") and under_roots(paths, caps.get("roots") or []))

    def _watch_cancel(self, task: Any, job: str, stop: threading.Event) -> None:
        """Poll the task's cancel button; a click cancels the job on the engine.

        Its own client: ZeroMQ sockets belong to one thread, and the events loop may be waiting.
        """
        while not stop.wait(0.1):
            if task.isCancelled():
                try:
                    with EngineClient(
                        self.settings.engine, timeout=self.settings.timeout_s, token=default_token()
                    ) as client:
                        client.cancel(job)
                except (EngineUnavailable, ProtocolError) as exc:
                    ui.show_message(artist_message(exc, self.settings.engine))
                return

    def _drop_temp_writes(self) -> None:
        while self._temp_writes:
            ui.call(nodes.delete_node, self._temp_writes.pop())

    def _cleanup(self) -> None:
        try:
            self._drop_temp_writes()
        except Exception:
            traceback.print_exc()
        if self.job_id is None or self._engine_done:
            # A job we lost track of (engine unreachable mid-job) may still read its inputs: keep them.
            shutil.rmtree(Path(self.settings.out_dir) / INPUTS_FOLDER / self.key, ignore_errors=True)


def _plate_label(name: str) -> str:
    """The plate's file name stem for a Read (``sh010_plate``), else the node's name."""
    node = nuke.toNode(name)
    if node is not None and node.Class() == "Read":
        base = Path(str(node["file"].value())).name
        stem = re.split(r"[.#%@$]", base, maxsplit=1)[0].rstrip("_")
        if stem:
            return stem
    return name


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _upload_progress(task: Any) -> Any:
    def progress(done: int, total: int) -> None:
        task.setMessage(f"Sending frames {done * 100 // max(1, total)}%")

    return progress
