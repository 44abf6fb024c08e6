"""Engine benchmark: does the GPU wait? The serial worker against the pipelined one, in one run.

    .venv/bin/python bench/engine_bench.py                       # 6 jobs x 85 frames of 2K, 10 s "GPU"/job
    .venv/bin/python bench/engine_bench.py --jobs 3 --frames 12 --gpu-s 8     # quick

A queue of ``--jobs`` jobs of ``--frames`` frames of 2K half RGBA (zip) goes by path through a real
engine process (`void-engine serve`, ZeroMQ on 127.0.0.1), whose "sleep" backend stands for the
GPU: it holds it for ``--gpu-s`` seconds per job (a wait, not CPU work: on a GPU box the GPU does
that part) and returns its input. The same queue runs twice, on ``[worker] pipeline = false``
(the serial worker) and ``= true``. For each it prints the wall time, the sum of backend time and
the GPU idle fraction: 1 - backend time / wall time after the first job's read (from the first
backend start to the last job done). It then times the plate round-trip the engine runs (ROI read
for the model, composite and write, frames on the engine's I/O pool) against plain OpenImageIO
read + write of the same files with the same compression, as a ratio (on the queue's shot, whose
moving ball needs the whole frame as region of interest, and on bench/plates_bench.py's shot, whose
small moving box needs a fraction of it), and prints the engine's peak resident memory (VmHWM)
against the configured cap plus a fixed margin.

The figures the issue asks for come last, one ``name: value`` line each; the exit status is 1 when
a target is missed: pipelined idle fraction <= 0.10 (when the backend time per job is at least the
job's plate time) and at least 2x lower than the serial one, round-trip <= 1.2x plain OpenImageIO,
peak RSS under the cap plus the margin. Report ``uptime`` with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))

# Resident memory beyond the configured cap that the engine may use: the interpreter and its
# libraries (numpy, OpenImageIO, OpenColorIO, OpenCV, ZeroMQ, SQLite) and the full plate frames
# in flight on the I/O threads (a few 2K RGBA float32 frames, 38 MB each, per thread).
RSS_MARGIN_BYTES = 1024**3


# -- the "sleep" backend, registered when the engine imports this file as a plugin --------------


def _register() -> None:
    from void_engine.backends import Cancelled, register_backend

    class SleepBackend:
        """Holds the "GPU" for VOID_BENCH_GPU_S seconds per job, in ``steps`` steps; returns its
        input. Each run's (start, end) goes to VOID_BENCH_BACKEND_LOG, one JSON line each."""

        def __init__(self, settings):
            self.gpu_s = float(os.environ.get("VOID_BENCH_GPU_S", "10"))
            self.log = os.environ.get("VOID_BENCH_BACKEND_LOG")

        def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
            start = time.time()
            for step in range(1, steps + 1):
                if cancel is not None and cancel():
                    raise Cancelled("cancelled")
                time.sleep(self.gpu_s / steps)
                if progress is not None:
                    progress(0, step, steps)
            if self.log:
                with open(self.log, "a") as f:
                    f.write(json.dumps({"start": start, "end": time.time()}) + "\n")
            return video.copy()

    register_backend("sleep", SleepBackend)


if __name__ != "__main__":
    _register()


# -- the engine process ----------------------------------------------------------------------


def start_engine(state: Path, roots: list[Path], *, pipeline: bool, memory_cap: int, gpu_s: float, log: Path):
    """`void-engine serve` in a child process; returns (process, endpoint)."""
    from tests.engine.engine_harness import write_config

    config = write_config(
        state.with_suffix(".toml"),
        {
            "server": {
                "bind": "tcp://127.0.0.1:*",
                "state_dir": str(state),
                "roots": [str(r) for r in roots],
                "plugins": ["engine_bench"],
            },
            "worker": {
                "backend": "sleep",
                "steps": 10,
                "pipeline": pipeline,
                "pipeline_memory_bytes": memory_cap,
            },
        },
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    env.update(VOID_BENCH_GPU_S=str(gpu_s), VOID_BENCH_BACKEND_LOG=str(log), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "void_engine.cli", "serve", "--config", str(config)],
        cwd=str(REPO),
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(state.with_suffix(".log"), "w"),
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc, line.strip().split()[-1]
    raise RuntimeError(f"engine did not start: {state.with_suffix('.log').read_text()}")


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_queue(shot, work: Path, *, pipeline: bool, jobs: int, gpu_s: float, memory_cap: int) -> dict:
    """Submit ``jobs`` jobs of the shot at once, wait for all; wall, backend and idle figures."""
    from bridge.client import EngineClient
    from bridge.protocol import JobSpec

    name = "pipelined" if pipeline else "serial"
    out = work / f"out-{name}"
    out.mkdir()
    log = work / f"backend-{name}.jsonl"
    proc, endpoint = start_engine(
        work / f"state-{name}", [Path(shot.root), out], pipeline=pipeline, memory_cap=memory_cap, gpu_s=gpu_s, log=log
    )
    try:
        with EngineClient(endpoint, timeout=30.0, token="bench-token-0123") as client:
            t0 = time.time()
            ids = [
                client.submit(
                    JobSpec(
                        plate=shot.plate,
                        frames=tuple(shot.frames),
                        prompt=f"job {n}",
                        out=str(out / f"job{n}"),
                        remove=shot.remove_matte,
                        affected=shot.affected_matte,
                    )
                )
                for n in range(jobs)
            ]
            final = [client.wait(j, give_up_after=3600) for j in ids]
            t1 = time.time()
            rss = peak_rss(proc.pid)
    finally:
        proc.kill()  # the journal is not needed again
        proc.wait()
    states = [s.state for s in final]
    if states != ["done"] * jobs:
        raise SystemExit(f"{name}: jobs ended {states}: {[s.error for s in final]}")
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    busy = sum(r["end"] - r["start"] for r in runs)
    first_start = min(r["start"] for r in runs)
    after_read = t1 - first_start
    return {
        "wall_s": t1 - t0,
        "backend_s": busy,
        "first_read_s": first_start - t0,
        "idle": 1.0 - busy / after_read,
        "peak_rss": rss,
    }


# -- plate round-trip against plain OpenImageIO ------------------------------------------------


def plain_oiio(paths: list[Path], dest: Path) -> float:
    """Seconds to read every file whole and write it again with its own spec (compression too)."""
    import OpenImageIO as oiio

    dest.mkdir()
    t0 = time.perf_counter()
    for p in paths:
        inp = oiio.ImageInput.open(str(p))
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
        inp.close()
        out = oiio.ImageOutput.create(str(dest / p.name))
        out.open(str(dest / p.name), spec)
        out.write_image(pixels)
        out.close()
    return time.perf_counter() - t0


def engine_roundtrip(shot, dest: Path, threads: int) -> float:
    """Seconds for the engine's plate path on the same files (``Shot.load``: ROI read, colour,
    resize; ``Shot.write_result``: full read, composite, atomic write), with the frames on an I/O
    pool as the pipelined worker runs them. The quadmasks are built from the mattes first, untimed."""
    import numpy as np

    from void_engine.finish import FinishSettings
    from void_engine.levels import AFFECTED, KEEP, REMOVE
    from void_engine.plates import FrameSequence, Shot, ShotSettings, read_image_channel
    from void_engine.plates.shot import executor_frame_map

    seq = FrameSequence(shot.plate, tuple(shot.frames))

    def quadmask(frame: int) -> np.ndarray:
        q = np.full((shot.height, shot.width), KEEP, np.uint8)
        q[read_image_channel(FrameSequence(shot.affected_matte, seq.frames).path(frame)) > 0.5] = AFFECTED
        q[read_image_channel(FrameSequence(shot.remove_matte, seq.frames).path(frame)) > 0.5] = REMOVE
        return q

    with ThreadPoolExecutor(threads) as pool:
        masks = list(pool.map(quadmask, seq.frames))  # the mask stage's part, not timed
        t0 = time.perf_counter()
        frame_map = executor_frame_map(pool)
        loaded = Shot.load(
            seq, masks, ShotSettings(finish=FinishSettings(enabled=False)), frame_map=frame_map
        )  # the plate path alone
        del masks
        loaded.write_result(loaded.model_video, dest, "bench", frame_map=frame_map)
        return time.perf_counter() - t0


def plate_ratio(shot, work: Path, threads: int) -> tuple[float, float, float]:
    """(engine s, plain s, ratio) for the shot's plate frames."""
    from void_engine.plates import FrameSequence
    from void_engine.plates.exr import set_io_threads

    set_io_threads(threads)
    paths = list(FrameSequence(shot.plate, tuple(shot.frames)).paths())
    plain = plain_oiio(paths, work / "plain")
    ours = engine_roundtrip(shot, work / "rt", threads)
    return ours, plain, ours / plain


def small_roi_ratio(work: Path, frames: int, width: int, height: int, threads: int) -> float:
    """The same ratio on bench/plates_bench.py's shot: a 160x220 box moving across the frame, so
    the region of interest is a fraction of it (the sample shot's ball needs the whole frame)."""
    from plates_bench import make_sequence, moving_quadmasks

    from void_engine.finish import FinishSettings
    from void_engine.plates import FrameSequence, Shot, ShotSettings
    from void_engine.plates.shot import executor_frame_map

    (work / "boxsrc").mkdir()
    pattern = make_sequence(work / "boxsrc", range(1001, 1001 + frames), width, height)
    seq = FrameSequence(pattern, tuple(range(1001, 1001 + frames)))
    masks = moving_quadmasks(frames, width, height)
    plain = plain_oiio(list(seq.paths()), work / "boxplain")
    with ThreadPoolExecutor(threads) as pool:
        frame_map = executor_frame_map(pool)
        t0 = time.perf_counter()
        loaded = Shot.load(
            seq, masks, ShotSettings(finish=FinishSettings(enabled=False)), frame_map=frame_map
        )  # the plate path alone
        loaded.write_result(loaded.model_video, work / "boxrt", "bench", frame_map=frame_map)
        ours = time.perf_counter() - t0
    return ours / plain


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--frames", type=int, default=85)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--height", type=int, default=1152)
    ap.add_argument("--gpu-s", type=float, default=10.0, help="seconds the sleep backend holds the GPU per job")
    ap.add_argument("--memory-cap", type=int, default=3 * 1024**3, help="[worker] pipeline_memory_bytes")
    ap.add_argument("--shot-dir", type=Path, default=None, help="where to keep the generated shot (cached)")
    ap.add_argument("--ratio-only", action="store_true", help="only the plate round-trip against OpenImageIO")
    args = ap.parse_args()

    from void_engine.demo.samples import make_sample_shot

    threads = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        work = Path(tmp)
        shot_dir = args.shot_dir or work / "shot"
        shot = make_sample_shot(shot_dir, width=args.width, height=args.height, frames=args.frames)
        print(f"shot: {args.frames} frames {args.width}x{args.height} half RGBA (zip), {args.jobs} jobs by path")
        print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {threads} cores")
        if args.ratio_only:
            ours, plain, ratio = plate_ratio(shot, work, threads)
            small = small_roi_ratio(work, args.frames, args.width, args.height, threads)
            print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")
            print(f"plate_roundtrip_vs_oiio: {ratio:.3f}")
            print(f"plate_roundtrip_vs_oiio_small_roi: {small:.3f}")
            return 1 if ratio > 1.2 else 0
        serial = run_queue(shot, work, pipeline=False, jobs=args.jobs, gpu_s=args.gpu_s, memory_cap=args.memory_cap)
        piped = run_queue(shot, work, pipeline=True, jobs=args.jobs, gpu_s=args.gpu_s, memory_cap=args.memory_cap)
        ours, plain, ratio = plate_ratio(shot, work, threads)
        small = small_roi_ratio(work, args.frames, args.width, args.height, threads)
        print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")

    for name, r in (("serial", serial), ("pipelined", piped)):
        print(
            f"{name:9}: wall {r['wall_s']:7.1f} s, backend {r['backend_s']:6.1f} s, "
            f"first read {r['first_read_s']:5.1f} s, GPU idle {r['idle']:.3f}, peak RSS {r['peak_rss'] / 2**20:.0f} MiB"
        )
    plate_s = serial["wall_s"] / args.jobs - args.gpu_s  # the serial worker's plate time per job
    print(f"plate time per job (serial): {plate_s:.1f} s; backend per job: {args.gpu_s:.1f} s")
    print(
        f"plate round-trip: engine {args.frames / ours:.2f} frames/s, plain OpenImageIO {args.frames / plain:.2f} "
        f"frames/s"
    )
    limit = args.memory_cap + RSS_MARGIN_BYTES
    print(f"rss limit (cap + margin): {limit} ({args.memory_cap} + {RSS_MARGIN_BYTES})")
    print(f"gpu_idle_fraction_serial: {serial['idle']:.3f}")
    print(f"gpu_idle_fraction_pipelined: {piped['idle']:.3f}")
    print(f"plate_roundtrip_vs_oiio: {ratio:.3f}")
    print(f"plate_roundtrip_vs_oiio_small_roi: {small:.3f}")
    print(f"peak_rss_bytes: {piped['peak_rss']}")

    missed = []
    if args.gpu_s >= plate_s and piped["idle"] > 0.10:
        missed.append(f"pipelined GPU idle {piped['idle']:.3f} > 0.10")
    if piped["idle"] * 2 > serial["idle"]:
        missed.append(f"pipelined idle {piped['idle']:.3f} is not 2x below serial {serial['idle']:.3f}")
    if ratio > 1.2:
        missed.append(f"plate round-trip {ratio:.2f}x plain OpenImageIO > 1.2x")
    if piped["peak_rss"] > limit:
        missed.append(f"peak RSS {piped['peak_rss']} > cap + margin {limit}")
    for m in missed:
        print(f"MISSED: {m}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
