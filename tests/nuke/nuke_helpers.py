"""Helpers shared by the Nuke plugin tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from void_engine.config import write_config
from void_engine.service.local import LOOPBACK_ANY_PORT, LocalEngine

REPO = Path(__file__).resolve().parents[2]
FAKES = REPO / "tests" / "fakes" / "nuke"
PLUGIN = REPO / "host_plugins" / "nuke"
ENGINE_START_TIMEOUT_S = 60.0


def start_engine(root: Path, state: Path, backend: str = "preview", config: Path | None = None) -> LocalEngine:
    """A real ``void-engine serve`` on a free 127.0.0.1 port whose root is ``root``; ``config``
    adds settings (its roots, state folder and backend are replaced)."""
    if config is None:
        config = write_config(state / "engine.toml", {})  # the flags below say it all
    args = ["--bind", LOOPBACK_ANY_PORT, "--backend", backend, "--root", str(root), "--state-dir", str(state)]
    return LocalEngine(
        config, args=args, cwd=REPO, log_path=state / "engine.log", start_timeout=ENGINE_START_TIMEOUT_S
    ).start()


# The fake's own renderer needs numpy and OpenImageIO (Nuke renders in C++); a child interpreter
# that must not see site-packages gets them from a folder of links of their own.
FAKE_RENDER_DEPS = ("numpy", "numpy.libs", "OpenImageIO")


def link_fake_render_deps(folder: Path) -> Path:
    """``folder`` with links to the fake renderer's packages only (no zmq, msgpack or bridge)."""
    import numpy

    folder.mkdir(parents=True, exist_ok=True)
    site = Path(numpy.__file__).resolve().parents[1]
    for name in FAKE_RENDER_DEPS:
        if (site / name).exists():
            (folder / name).symlink_to(site / name)
    return folder


def write_plate(folder: Path, frames: range, size: tuple[int, int] = (48, 80), seed: int = 0) -> str:
    """A scene-linear half RGBA EXR sequence written straight through OpenImageIO; returns its pattern."""
    import OpenImageIO as oiio

    rng = np.random.default_rng(seed)
    h, w = size
    folder.mkdir(parents=True, exist_ok=True)
    for f in frames:
        px = np.empty((h, w, 4), np.float32)
        px[..., :3] = rng.uniform(0.0, 2.0, (h, w, 3))
        px[..., 3] = 1.0
        spec = oiio.ImageSpec(w, h, 4, oiio.HALF)
        spec.channelnames = ("R", "G", "B", "A")
        spec.attribute("compression", "zip")
        path = str(folder / f"plate.{f:04d}.exr")
        out = oiio.ImageOutput.create(path)
        assert out.open(path, spec), out.geterror()
        out.write_image(px)
        out.close()
    return str(folder / "plate.####.exr")


def read_exr(path: Path) -> tuple[np.ndarray, list[str]]:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, f"{path}: {oiio.geterror()}"
    spec = inp.spec()
    px = np.asarray(inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT), np.float32)
    inp.close()
    return px.reshape(spec.height, spec.width, spec.nchannels), list(spec.channelnames)


def pump_until_finished(nuke, job, timeout: float = 40.0) -> None:
    """Run the fake's main-thread event loop until ``job`` ends."""
    nuke.fake_process_events(until=job.finished.is_set, timeout=timeout)
    # Messages the job posted on its way out are still queued: let the loop show them.
    nuke.fake_process_events(until=nuke.fake_state.main_queue.empty, timeout=5.0)


PLATE_HW = (96, 192)


def make_scene(nuke, folder: Path, frames: range, *, tag_affected: bool = False, select: bool = True):
    """A Read of a fresh EXR plate and a Roto box moving right (plus an 'affected' Roto); returns (read, roto)."""
    pattern = write_plate(folder / "plates", frames, size=PLATE_HW)
    nuke.root().fake_set_format(PLATE_HW[1], PLATE_HW[0])  # the project format matches the plate
    nuke.root()["OCIO_config"].setValue("aces_1.2")  # the plate's colourspace is an ACES one
    read = nuke.nodes.Read(file=pattern, first=frames[0], last=frames[-1], colorspace="ACES - ACEScg")
    read.setXYpos(100, 200)
    roto = nuke.nodes.Roto()
    roto.fake_shape = lambda f: (16 + (f - frames[0]), 40, 32 + (f - frames[0]), 60)
    chosen = [read, roto]
    if tag_affected:
        shadow = nuke.nodes.Roto(label="affected: shadow")
        shadow.fake_shape = (16, 30, 40, 40)
        chosen.append(shadow)
    if select:
        for n in chosen:
            n.setSelected(True)
    return read, roto


def answer_panel(nukescripts, engine_address: str, **knobs) -> None:
    """Play the artist in the modal panel: a prompt, the engine address, and ``knobs``."""

    def on_modal(panel):
        panel.fake_set("prompt", "empty street")
        panel.fake_set("engine", engine_address)
        for k, v in knobs.items():
            panel.fake_set(k, v)

    nukescripts.fake_on_modal = on_modal
