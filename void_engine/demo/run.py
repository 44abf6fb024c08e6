"""`void-engine demo` (what `make demo` runs): the product end to end on a shot with ground truth.

1. Generate (or reuse) the sample shot: a ball rolling across a textured set, casting a shadow,
   with its mattes and the clean plate as ground truth (``void_engine.demo.samples``).
2. Turn the mattes into a quadmask sequence, as a host plugin does from its roto.
3. Remove the ball and its shadow: through a local engine (``void-engine serve`` on 127.0.0.1,
   submitted by path with ``bridge.client``, like a plugin), or in this process with
   ``--in-process``. The backend is ``preview`` (CPU, seconds) unless ``VOID_MODEL_DIR`` points at
   real VOID weights, in which case it is ``void``.
4. Write the versioned result EXRs, a contact sheet (plate | quadmask | result | ground truth), and
   measure: PSNR inside the mask against the ground truth, and the number of pixels changed outside
   the composite matte. These are the last two lines printed, exactly::

       psnr_in_mask_db: <float>
       changed_outside_mask: <int>

The measurement reads the files back with OpenImageIO and converts colour with OpenColorIO on its
own, so it checks the plate layer rather than trusting it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import EngineConfig, write_config
from ..levels import KEEP
from ..service.local import LOOPBACK_ANY_PORT, EngineStartError, LocalEngine
from .samples import SampleShot, make_sample_shot

DEFAULT_OUT = Path("demo_out")
PROMPT = "an empty room: a textured plaster wall above a tiled floor"
SMALL_SIZE = (320, 180, 9)  # width, height, frames: the tests' shot
DISPLAY_SPACE = "sRGB Encoded Rec.709 (sRGB)"


@dataclass(frozen=True)
class Figures:
    """The demo's verdict on one result sequence."""

    psnr_in_mask_db: float  # display-referred RGB, inside the quadmask, against the clean plate
    changed_outside_mask: int  # pixels (any channel, bitwise) changed where the composite matte is 0
    masked_pixels: int
    outside_pixels: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``void-engine demo``."""
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="work folder for the sample shot and results (default: ./demo_out)",
    )
    parser.add_argument("--seed", type=int, default=7, help="sample shot seed (default 7)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--small",
        action="store_true",
        help=f"a small, quick shot ({SMALL_SIZE[0]}x{SMALL_SIZE[1]}, {SMALL_SIZE[2]} frames)",
    )
    size.add_argument("--size", metavar="WxH", help="plate size, e.g. 1920x1080 (default 2048x1152)")
    parser.add_argument("--frames", type=int, default=None, help="number of frames (default 49)")
    parser.add_argument(
        "--backend",
        choices=("auto", "preview", "void"),
        default="auto",
        help="auto: void when VOID_MODEL_DIR is set, else preview",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run the backend in this process instead of through a local engine"
    )
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (void backend)")
    parser.add_argument("--sheet-frames", type=int, default=3, help="frames on the contact sheet")


def run(args: argparse.Namespace) -> int:
    """Run the demo. Returns 0 when nothing changed outside the mask and, for the preview backend,
    PSNR inside the mask is at least PREVIEW_PSNR_BAR_DB; 1 otherwise."""
    previous = _exit_cleanly_on_termination()
    try:
        return _run(args)
    finally:
        import signal

        for sig, handler in previous.items():
            signal.signal(sig, handler)


PREVIEW_PSNR_BAR_DB = 30.0


def _run(args: argparse.Namespace) -> int:
    width, height, frames = _shot_size(args)
    backend = _choose_backend(args.backend)
    out_dir = Path(args.out)
    started = time.monotonic()

    _say(f"sample shot: {width}x{height}, {frames} frames, seed {args.seed}")
    try:
        shot = make_sample_shot(
            out_dir / f"sample_{width}x{height}_{frames}f_s{args.seed}",
            seed=args.seed,
            width=width,
            height=height,
            frames=frames,
        )
    except ValueError as exc:
        raise SystemExit(f"void-engine demo: {exc}") from None
    quadmask_pattern, quadmasks = _write_quadmasks(shot)
    _say(f"  plate    {shot.plate}  ({shot.frame_range})")
    _say(f"  quadmask {quadmask_pattern}")
    _say(f"  ({time.monotonic() - started:.1f} s)")

    t0 = time.monotonic()
    in_process = args.in_process or not _engine_available()
    if in_process:
        if not args.in_process:
            _say("  (the engine is not part of this build: running the backend in this process)")
        _say(f"removing the ball and its shadow in this process (backend: {backend})")
        result_pattern = _run_in_process(shot, quadmasks, backend, args.steps, args.seed)
    else:
        _say(f"removing the ball and its shadow through a local engine (backend: {backend})")
        result_pattern = _run_through_engine(shot, quadmask_pattern, backend, args.steps, args.seed, out_dir)
    _say(f"  result   {result_pattern}  ({time.monotonic() - t0:.1f} s)")

    figures = measure(shot, quadmasks, result_pattern)
    sheet = write_contact_sheet(out_dir / "contact_sheet.png", shot, quadmasks, result_pattern, count=args.sheet_frames)
    _say(f"  contact sheet {sheet}")
    _say(
        f"done in {time.monotonic() - started:.1f} s; figures over {figures.masked_pixels} masked "
        f"and {figures.outside_pixels} outside pixels:"
    )
    sys.stderr.flush()
    print(f"psnr_in_mask_db: {figures.psnr_in_mask_db:.2f}")
    print(f"changed_outside_mask: {figures.changed_outside_mask}", flush=True)
    ok = figures.changed_outside_mask == 0
    if backend == "preview" and not figures.psnr_in_mask_db >= PREVIEW_PSNR_BAR_DB:
        ok = False
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------
# steps


def _exit_cleanly_on_termination() -> dict:
    """SIGTERM/SIGHUP (a closed terminal, `timeout`, a CI runner) unwind like Ctrl-C does, so the
    ``finally`` blocks run and the engine we started is stopped rather than orphaned.
    Returns the handlers it replaced."""
    import signal

    def unwind(signum, frame):
        raise SystemExit(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, unwind)
    return previous


def _shot_size(args: argparse.Namespace) -> tuple[int, int, int]:
    width, height, frames = 2048, 1152, 49
    if args.small:
        width, height, frames = SMALL_SIZE
    elif args.size:
        try:
            w, h = args.size.lower().split("x")
            width, height = int(w), int(h)
        except ValueError:
            raise SystemExit(f"void-engine demo: --size wants WxH, e.g. 1920x1080, got {args.size!r}") from None
    if args.frames is not None:
        frames = args.frames
    return width, height, frames


def _choose_backend(requested: str) -> str:
    if requested != "auto":
        return requested
    return "void" if os.environ.get("VOID_MODEL_DIR") else "preview"


def _write_quadmasks(shot: SampleShot) -> tuple[str, list[np.ndarray]]:
    """Quadmask EXRs from the shot's mattes (cached beside them), as a plugin renders its roto."""
    from ..masks.quadmask import quadmask_from_mattes, read_matte, read_quadmask, write_quadmask

    pattern = str(shot.root / "quadmask" / "quadmask.####.exr")
    quadmasks = []
    for frame in shot.frames:
        q = quadmask_from_mattes(
            read_matte(shot.path(shot.remove_matte, frame), frame=frame),
            read_matte(shot.path(shot.affected_matte, frame), frame=frame),
        )
        path = shot.path(pattern, frame)
        # Rewritten whenever the mattes changed (a regenerated shot), never trusted blindly.
        if not (path.is_file() and np.array_equal(read_quadmask(path, frame=frame), q)):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_quadmask(path, q, frame=frame, overwrite=True)
        quadmasks.append(q)
    return pattern, quadmasks


def _run_in_process(shot: SampleShot, quadmasks: list[np.ndarray], backend: str, steps: int | None, seed: int) -> str:
    """Plate layer + backend in this process; returns the result's ``####`` pattern."""
    from ..plates import FrameSequence, Shot, ShotSettings

    plate = FrameSequence(shot.plate, tuple(shot.frames))
    loaded = Shot.load(plate, quadmasks, ShotSettings())
    progress = _progress_printer()
    if backend == "preview":
        from ..backends.preview import preview_inpaint

        video = preview_inpaint(loaded.model_video, loaded.model_quadmask, progress=progress)
    else:
        video = _void_in_process(loaded.model_video, loaded.model_quadmask, steps, seed, progress)
    written = loaded.write_result(
        video,
        shot.root / "void",
        "sample_void",
        {
            "backend": backend,
            "seed": str(seed),
            "prompt": PROMPT,
            "mask_source": "sample shot mattes (void_engine.demo.samples)",
        },
    )
    return str(Path(written.version_dir) / Path(written.pattern).name)


def _void_in_process(video: np.ndarray, quadmask: np.ndarray, steps: int | None, seed: int, progress):
    import torch

    from ..pipeline import VoidPipeline
    from ..pipeline.model_dir import ModelDir

    model_dir = os.environ.get("VOID_MODEL_DIR")
    if not model_dir:
        raise SystemExit("void-engine demo: the void backend needs VOID_MODEL_DIR (the model folder)")
    paths = ModelDir.locate(model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    pipe = VoidPipeline.from_pretrained(paths.base, pass1=paths.pass1, pass2=paths.pass2, device=device, dtype=dtype)
    # Without --steps, the engine's own default (a job that names no steps gets the same).
    steps = steps or EngineConfig().steps
    return pipe(video, quadmask, PROMPT, seed=seed, num_inference_steps=steps, progress=progress)


def _engine_available() -> bool:
    """Whether this build has the engine server and the client (they are separate parts)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("bridge.client", "void_engine.commands.serve"))


def _run_through_engine(
    shot: SampleShot, quadmask_pattern: str, backend: str, steps: int | None, seed: int, work_dir: Path
) -> str:
    """Start `void-engine serve` on a free 127.0.0.1 port, submit the shot by path with
    ``bridge.client`` as a plugin does, follow its events, and return the result's pattern.

    The engine process is always stopped on the way out, whatever happens here.
    """
    from bridge.client import EngineUnavailable
    from bridge.protocol import ProtocolError

    work_dir = work_dir.resolve()
    engine = _local_engine(work_dir, backend, steps)
    try:
        with engine:
            return _submit_and_follow(engine, shot, quadmask_pattern, backend, steps, seed)
    except EngineStartError as exc:
        raise SystemExit(f"void-engine demo: {exc.reason}; see {exc.log_path}") from None
    except (EngineUnavailable, ProtocolError) as exc:
        raise SystemExit(f"void-engine demo: the engine answered: {exc}; engine log: {engine.log_path}") from None


def _submit_and_follow(
    engine: LocalEngine, shot: SampleShot, quadmask_pattern: str, backend: str, steps: int | None, seed: int
) -> str:
    from bridge.client import EngineClient
    from bridge.protocol import JobSpec

    _say(f"  engine   {engine.endpoint} (pid {engine.pid}, log {engine.log_path})")
    with EngineClient(engine.endpoint, timeout=30.0) as client:
        hello = client.hello()
        available = hello.get("backends")
        if isinstance(available, (list, tuple)) and available and backend not in available:
            raise SystemExit(f"void-engine demo: the engine offers backends {list(available)}, not {backend!r}")
        spec = JobSpec(
            plate=str(Path(shot.plate).resolve()),
            frames=tuple(shot.frames),
            prompt=PROMPT,
            out=str((shot.root / "void").resolve()),
            quadmask=str(Path(quadmask_pattern).resolve()),
            backend=backend,
            seed=seed,
            steps=steps,
            name="sample_void",
        )
        job = client.submit(spec)
        _say(f"  job      {job}")
        printers: dict[str, Callable[[int | None, int, int], None]] = {}

        def on_event(event) -> None:
            if event.kind == "step" and event.step is not None and event.total:
                printer = printers.setdefault("model", _progress_printer("model"))
                printer(event.window or 0, event.step, event.total)
            elif event.kind == "stage" and event.stage:
                if event.stage not in printers:
                    printers[event.stage] = _progress_printer(event.stage)
                if event.step and event.total:
                    printers[event.stage](None, event.step, event.total)
            elif event.kind == "state" and event.state:
                _say(f"  state    {event.state}")

        # A real model on a CPU can be silent for minutes between steps; keep listening.
        status = client.wait(job, on_event=on_event, give_up_after=None)
        if status.state != "done":
            raise SystemExit(
                f"void-engine demo: job {job} ended {status.state}: {status.error or '(no message)'}"
                f"; engine log: {engine.log_path}"
            )
        return client.fetch(job).pattern


def _local_engine(work_dir: Path, backend: str, steps: int | None) -> LocalEngine:
    """The demo's engine: serves ``work_dir`` on a free 127.0.0.1 port, journal in work_dir/engine."""
    worker: dict[str, object] = {"backend": backend}
    if backend == "void":
        model = os.environ.get("VOID_MODEL_DIR")
        if not model:
            raise SystemExit("void-engine demo: the void backend needs VOID_MODEL_DIR (the model folder)")
        worker["model"] = str(Path(model).resolve())
        if os.environ.get("VOID_DEVICE"):
            worker["device"] = os.environ["VOID_DEVICE"]
    if steps:
        worker["steps"] = steps
    state_dir = work_dir / "engine"
    state_dir.mkdir(parents=True, exist_ok=True)
    config = write_config(
        state_dir / "engine.toml",
        {
            "server": {"bind": LOOPBACK_ANY_PORT, "roots": [str(work_dir)], "state_dir": str(state_dir)},
            "worker": worker,
        },
    )
    return LocalEngine(config, log_path=work_dir / "engine.log", start_timeout=120.0)


# ---------------------------------------------------------------------------------------------
# measuring


def _read(path: Path) -> np.ndarray:
    """All channels of an EXR's display window, float32 (H, W, C) — independent of void_engine.plates."""
    import OpenImageIO as oiio

    buf = oiio.ImageBuf(str(path))
    if buf.has_error:
        raise OSError(f"cannot read {path}: {buf.geterror()}")
    spec = buf.spec()
    roi = oiio.ROI(
        spec.full_x, spec.full_x + spec.full_width, spec.full_y, spec.full_y + spec.full_height, 0, 1, 0, spec.nchannels
    )
    pixels = buf.get_pixels(oiio.FLOAT, roi)
    if pixels is None or buf.has_error:
        raise OSError(f"cannot read pixels of {path}: {buf.geterror()}")
    return np.asarray(pixels, np.float32).reshape(spec.full_height, spec.full_width, spec.nchannels)


def _display_processor(source_space: str):
    import PyOpenColorIO as ocio

    config = ocio.Config.CreateFromFile(os.environ.get("OCIO") or "ocio://studio-config-latest")
    return config.getProcessor(source_space, DISPLAY_SPACE).getDefaultCPUProcessor()


def _to_display(processor, rgb: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(rgb[..., :3], np.float32).copy()
    processor.applyRGB(out.reshape(-1, 3))
    return np.clip(np.nan_to_num(out), 0.0, 1.0)


def _outside_matte(quadmask: np.ndarray) -> np.ndarray:
    """Where the composite matte must be exactly 0: beyond the dilation and feather of the mask.

    Measured with a Euclidean distance here (plus a pixel for the discrete kernels) rather than
    with the plate layer's own matte function, so a bug there cannot hide itself.
    """
    import cv2

    from ..plates import ShotSettings

    settings = ShotSettings()
    reach = float(settings.dilate_px) + float(settings.feather_px) + 1.0
    region = quadmask != KEEP
    if not region.any():
        return np.ones(quadmask.shape, bool)
    distance = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance > reach


def _measure_frame(shot: SampleShot, frame: int, q: np.ndarray, result_pattern: str, processor):
    plate = _read(shot.path(shot.plate, frame))
    clean = _read(shot.path(shot.clean_plate, frame))
    result = _read(Path(result_pattern.replace("####", f"{frame:04d}")))
    if result.shape != plate.shape:
        raise ValueError(f"result frame {frame} is {result.shape}, the plate is {plate.shape}")
    inside = q != KEEP
    diff = _to_display(processor, result[inside]) - _to_display(processor, clean[inside])
    squared = float(np.square(diff, dtype=np.float64).sum())
    keep = _outside_matte(q)
    # Bitwise, every channel: NaN == NaN here, and -0.0 != 0.0, as a compositor's diff would see it.
    differs = (result.view(np.uint32) != plate.view(np.uint32)).any(axis=2)
    return squared, int(inside.sum()), int((differs & keep).sum()), int(keep.sum())


def measure(shot: SampleShot, quadmasks: list[np.ndarray], result_pattern: str) -> Figures:
    """PSNR inside the quadmask (display-referred RGB vs the clean plate) and the count of pixels
    changed, bit for bit in any channel, outside the composite matte's reach."""
    from concurrent.futures import ThreadPoolExecutor

    processor = _display_processor(shot.colourspace)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        parts = list(
            pool.map(
                lambda fq: _measure_frame(shot, fq[0], fq[1], result_pattern, processor), zip(shot.frames, quadmasks)
            )
        )
    squared = sum(p[0] for p in parts)
    masked = sum(p[1] for p in parts)
    mse = squared / max(3 * masked, 1)
    psnr = math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
    return Figures(psnr, sum(p[2] for p in parts), masked, sum(p[3] for p in parts))


# ---------------------------------------------------------------------------------------------
# contact sheet


def write_contact_sheet(
    path: Path,
    shot: SampleShot,
    quadmasks: list[np.ndarray],
    result_pattern: str,
    count: int = 3,
    tile_width: int = 480,
) -> Path:
    """A PNG grid, one row per frame: plate | quadmask | result | ground truth (display-referred)."""
    import cv2

    processor = _display_processor(shot.colourspace)
    count = max(1, min(count, len(shot.frames)))
    # Evenly spaced inside the shot: at the very first and last frames the ball is at the edge.
    picks = sorted({round((i + 1) * (len(shot.frames) - 1) / (count + 1)) for i in range(count)})
    tile_w = min(tile_width, shot.width)
    tile_h = max(1, round(tile_w * shot.height / shot.width))
    label_h = 28
    rows = []
    header = np.full((label_h, tile_w * 4, 3), 24, np.uint8)
    for col, name in enumerate(("plate", "quadmask", "result", "ground truth")):
        cv2.putText(
            header, name, (col * tile_w + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (235, 235, 235), 1, cv2.LINE_AA
        )
    rows.append(header)
    for index in picks:
        frame = shot.frames[index]
        tiles = []
        for kind in ("plate", "quadmask", "result", "clean"):
            if kind == "quadmask":
                img = np.repeat((quadmasks[index].astype(np.float32) / 255.0)[..., None], 3, axis=2)
            else:
                src = {
                    "plate": shot.path(shot.plate, frame),
                    "clean": shot.path(shot.clean_plate, frame),
                    "result": Path(result_pattern.replace("####", f"{frame:04d}")),
                }[kind]
                img = _to_display(processor, _read(src))
            small = cv2.resize(img, (tile_w, tile_h), interpolation=cv2.INTER_AREA)
            tiles.append(np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8))
        row = np.concatenate(tiles, axis=1)
        cv2.putText(row, str(frame), (8, tile_h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    sheet = np.concatenate(rows, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    if not cv2.imwrite(str(tmp), sheet[..., ::-1]):  # OpenCV writes BGR
        raise OSError(f"cannot write the contact sheet {path}")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
# terminal output: progress and notes go to stderr, the figures alone to stdout


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress_printer(label: str = "model"):
    """A progress(window, step, total) callback drawing one updating line on stderr."""
    tty = sys.stderr.isatty()
    last = {"shown": -1}

    def progress(window: int | None, step: int, total: int) -> None:
        where = f"{label} window {window}" if window is not None else label
        if tty:
            end = "\n" if step >= total else ""
            print(f"\r  {where}: {step}/{total}", end=end, file=sys.stderr, flush=True)
            return
        # Not a terminal (CI, a log): a line per ~10 %, not one per step.
        tenth = (10 * step) // max(total, 1)
        if tenth != last["shown"] or step >= total:
            last["shown"] = tenth
            print(f"  {where}: {step}/{total}", file=sys.stderr, flush=True)

    return progress
