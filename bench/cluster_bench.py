"""Cluster benchmark: jobs/minute for N fake-GPU engine actors behind one ZeroMQ gateway.

    .venv/bin/python bench/cluster_bench.py                        # N = 1 2 4 8, 1.0 s of "GPU" per job
    .venv/bin/python bench/cluster_bench.py --engines 1 2 --jobs-per-engine 3 --gpu-s 0.5   # quick

One local Ray with N fake GPUs. Each engine actor runs the "fake-gpu" backend: the real preview
fill (CPU) plus ``--gpu-s`` seconds of waiting that stands for model time on a GPU (a wait, not CPU
work, because on a real node the GPU does that part). Jobs go through the real path: a ZeroMQ
client submits by path, the gateway journals, claims, streams events from the actor, and the actor
reads the plate, runs the backend and writes versioned EXRs.

It prints, per N: jobs/minute, the speed-up over N = 1, and the ideal (N x one engine). A last row
runs the same jobs with ``--gpu-s 0`` on the largest N: no model time at all, so what is left is
the gateway (journal writes, claims, ZeroMQ, Ray calls) plus plate I/O on this machine's CPUs -
the ceiling where adding engines stops helping. A row for the single engine (no Ray) with the
same backend shows what Ray adds per job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


# -- the fake-GPU backend, registered when an engine (or actor) imports this file as a plugin ---


def _register() -> None:
    from void_engine.backends import Cancelled, register_backend

    class FakeGpu:
        """Preview fill, then hold the "GPU" for VOID_BENCH_GPU_S seconds in ``steps`` steps."""

        def __init__(self, settings):
            from void_engine.backends.preview import preview_inpaint

            self.fill = preview_inpaint
            self.gpu_s = float(os.environ.get("VOID_BENCH_GPU_S", "1.0"))

        def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
            out = self.fill(video, quadmask)
            for step in range(1, steps + 1):
                if cancel is not None and cancel():
                    raise Cancelled("cancelled")
                time.sleep(self.gpu_s / steps)
                if progress is not None:
                    progress(0, step, steps)
            return out

    register_backend("fake-gpu", FakeGpu)


if __name__ != "__main__":
    _register()


# -- the benchmark -----------------------------------------------------------------------------


def run_jobs(endpoint: str, shot, out: Path, jobs: int, steps: int) -> float:
    """Submit ``jobs`` jobs at once, wait for all; seconds from first submit to last done."""
    from bridge.client import EngineClient
    from bridge.protocol import JobSpec

    with EngineClient(endpoint, timeout=30) as client:
        t0 = time.perf_counter()
        ids = [
            client.submit(
                JobSpec(
                    plate=shot.plate,
                    frames=tuple(shot.frames),
                    prompt="bench",
                    out=str(out),
                    remove=shot.remove_matte,
                    affected=shot.affected_matte,
                    steps=steps,
                    seed=i,
                )
            )
            for i in range(jobs)
        ]
        states = [client.wait(j).state for j in ids]
        took = time.perf_counter() - t0
    bad = [s for s in states if s != "done"]
    if bad:
        raise RuntimeError(f"{len(bad)} job(s) did not finish: {bad[:3]}")
    return took


def engine_config(tmp: Path, shot, **over):
    from void_engine.config import load_config

    out = tmp / "out"
    out.mkdir(parents=True, exist_ok=True)
    return load_config(
        None,
        bind="tcp://127.0.0.1:*",
        state_dir=tmp / "state",
        roots=[Path(shot.root), out],
        plugins=["cluster_bench"],
        backend="fake-gpu",
        steps=5,
        model_size=[64, 112],
        **over,
    ), out


def serve_in_thread(engine) -> threading.Thread:
    t = threading.Thread(target=engine.serve_forever, daemon=True)
    t.start()
    return t


EVENTS_PER_JOB: list[float] = []


def journal_write_ms(folder: Path, samples: int = 200) -> float:
    """Milliseconds for one stored event in a fresh journal on this disk (one transaction, fsync).

    Every state change and progress event of every job is one such write, made one at a time
    under the journal's lock: this is the part of the gateway that does not grow with engines.
    """
    from bridge.protocol import JobSpec
    from void_engine.service.journal import Journal

    folder.mkdir(parents=True, exist_ok=True)
    journal = Journal(folder / "journal.sqlite3")
    try:
        rec, _ = journal.submit(
            "bench", JobSpec(plate="/p.####.exr", frames=(1,), prompt="x", out="/o", remove="/r.####.exr")
        )
        t = time.perf_counter()
        for i in range(samples):
            journal.add_event(rec.id, kind="step", window=0, step=i, total=samples)
        return 1000 * (time.perf_counter() - t) / samples
    finally:
        journal.close()


def bench_cluster(shot, tmp: Path, engines: int, jobs: int, steps: int) -> float:
    from bridge.client import EngineClient
    from void_engine.cluster.gateway import ClusterGateway

    cfg, out = engine_config(tmp, shot, ray_address="auto", engines=engines, cpus_per_engine=0.0)
    gw = ClusterGateway(cfg)
    thread = serve_in_thread(gw)
    try:
        if not gw.dispatcher.ready.wait(120):
            raise RuntimeError("engine actors did not start")
        with EngineClient(gw.endpoint) as c:  # every actor has loaded its backend before timing
            deadline = time.monotonic() + 120
            while sum(s.info is not None for s in gw.dispatcher.slots) < engines and time.monotonic() < deadline:
                time.sleep(0.1)
            c.ping()
        took = run_jobs(gw.endpoint, shot, out, jobs, steps)
        # Journal writes per job: its events (each stored on its own) plus the claim and finish.
        EVENTS_PER_JOB.append(statistics.mean(gw.journal.last_seq(r.id) for r in gw.journal.list_jobs(None, jobs)))
        return took
    finally:
        gw.stop()
        thread.join(timeout=60)


def bench_single(shot, tmp: Path, jobs: int, steps: int) -> float:
    from void_engine.service.server import Engine

    cfg, out = engine_config(tmp, shot)
    eng = Engine(cfg)
    thread = serve_in_thread(eng)
    try:
        run_jobs(eng.endpoint, shot, out, 1, steps)  # backend loaded before timing
        return run_jobs(eng.endpoint, shot, out, jobs, steps)
    finally:
        eng.stop()
        thread.join(timeout=60)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", type=int, nargs="+", default=[1, 2, 4, 8], help="engine actor counts to try")
    ap.add_argument("--jobs-per-engine", type=int, default=4, help="jobs per engine in each run")
    ap.add_argument("--gpu-s", type=float, default=1.0, help="fake model time per job (seconds)")
    ap.add_argument("--steps", type=int, default=5, help="progress events per job")
    ap.add_argument("--frames", type=int, default=3, help="frames per job (160x96 sample shot)")
    args = ap.parse_args(argv)

    import ray

    from void_engine.demo.samples import make_sample_shot

    top = max(args.engines)
    tmp = Path(tempfile.mkdtemp(prefix="void-cluster-bench-"))
    shot = make_sample_shot(tmp / "shot", seed=3, width=160, height=96, frames=args.frames)
    os.environ["VOID_BENCH_GPU_S"] = str(args.gpu_s)
    # The gateway imports the plugin too: as a script, this folder is first on sys.path already.
    ray_env = {"PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}
    print(
        f"machine: {os.cpu_count()} CPU cores; fake GPU time {args.gpu_s:g} s/job; {args.frames} frames/job; "
        f"{args.jobs_per_engine} jobs per engine",
        flush=True,
    )
    rows: list[tuple[str, int, int, float]] = []
    try:
        single_jobs = args.jobs_per_engine
        took = bench_single(shot, tmp / "single", single_jobs, args.steps)
        rows.append(("single engine, no Ray", 1, single_jobs, took))
        ray.init(
            address="local",
            num_cpus=max(2, os.cpu_count() or 2),
            num_gpus=top,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
            runtime_env={"env_vars": {**ray_env, "VOID_BENCH_GPU_S": str(args.gpu_s)}},
        )
        for n in args.engines:
            jobs = n * args.jobs_per_engine
            took = bench_cluster(shot, tmp / f"n{n}", n, jobs, args.steps)
            rows.append((f"Ray gateway, {n} engine(s)", n, jobs, took))
            print(f"  {n} engines: {jobs} jobs in {took:.2f} s", flush=True)
        ray.shutdown()
        # The ceiling: no model time, the most engines.
        ray.init(
            address="local",
            num_cpus=max(2, os.cpu_count() or 2),
            num_gpus=top,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
            runtime_env={"env_vars": {**ray_env, "VOID_BENCH_GPU_S": "0"}},
        )
        jobs = top * args.jobs_per_engine
        took = bench_cluster(shot, tmp / "ceiling", top, jobs, args.steps)
        rows.append((f"Ray gateway, {top} engines, 0 s GPU", top, jobs, took))
    finally:
        if ray.is_initialized():
            ray.shutdown()

    base = next((60 * j / t for name, n, j, t in rows if name.startswith("Ray") and n == min(args.engines)), None)
    print()
    print(f"{'run':<36} {'jobs':>5} {'seconds':>8} {'jobs/min':>9} {'speed-up':>9} {'ideal':>6}")
    for name, n, jobs, took in rows:
        rate = 60 * jobs / took
        speed = f"{rate / base:.2f}x" if base and name.startswith("Ray") and "0 s" not in name else ""
        ideal = f"{n / min(args.engines):.0f}x" if speed else ""
        print(f"{name:<36} {jobs:>5} {took:>8.2f} {rate:>9.1f} {speed:>9} {ideal:>6}")
    per_job = [t / j for name, n, j, t in rows if "0 s" in name]
    if per_job:
        print(
            f"\ngateway + plate I/O ceiling: {60 / statistics.mean(per_job):.0f} jobs/min "
            f"({1000 * statistics.mean(per_job):.0f} ms of non-model time per job on this machine)"
        )
    if EVENTS_PER_JOB:
        write_ms = journal_write_ms(tmp / "journal-probe")
        writes = statistics.mean(EVENTS_PER_JOB)
        print(
            f"gateway journal: {writes:.0f} stored events per job x {write_ms:.2f} ms per write (one at a time, "
            f"fsync) = {writes * write_ms:.0f} ms -> the gateway alone tops out near "
            f"{60000 / (writes * write_ms):.0f} jobs/min at {args.steps} steps/job; more steps per job lower it"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
