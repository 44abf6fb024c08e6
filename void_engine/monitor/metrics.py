"""``/metrics``: the engine's numbers in the Prometheus text format (prometheus_client).

Counters and histograms move with jobs: :meth:`EngineMetrics.observe` is fed every journal event
stored since the engine started (by the monitor's :class:`~.tracker.JobTracker`, in journal
order). Gauges — queue length, jobs by state, uptime, GPU memory — are read when scraped. Each
engine has its own registry (nothing is registered in prometheus_client's global one).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.protocol import CANCELLED, DONE, FAILED, QUEUED, RUNNING, TERMINAL_STATES, Event

from .tracker import JobProgress

STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
_JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_IO_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class GpuMemory:
    """One CUDA device's allocator figures, in bytes."""

    device: str
    in_use: int
    reserved: int
    peak: int


def torch_gpu_memory() -> list[GpuMemory]:
    """The engine process's CUDA memory, per device; empty when it has not used CUDA.

    torch is looked up, never imported: a preview or CPU engine has not loaded it, and importing
    it (or initialising CUDA) from a scrape would cost seconds and GPU memory.
    """
    torch: Any = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return []
    return [
        GpuMemory(
            f"cuda:{i}",
            int(torch.cuda.memory_allocated(i)),
            int(torch.cuda.memory_reserved(i)),
            int(torch.cuda.max_memory_allocated(i)),
        )
        for i in range(torch.cuda.device_count())
    ]


class _ScrapeTimeGauges(Collector):
    """Gauges computed at each scrape: from the journal, the clock and the GPU."""

    def __init__(
        self,
        count_by_state: Callable[[], dict[str, int]],
        started: float,
        gpu_memory: Callable[[], list[GpuMemory]],
    ):
        self.count_by_state = count_by_state
        self.started = started
        self.gpu_memory = gpu_memory

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # computed at collect time; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        uptime = GaugeMetricFamily("void_engine_uptime_seconds", "Seconds since the engine started.")
        uptime.add_metric([], time.monotonic() - self.started)
        yield uptime
        counts = self.count_by_state()
        queue = GaugeMetricFamily("void_engine_queue_length", "Jobs waiting in the queue.")
        queue.add_metric([], counts.get(QUEUED, 0))
        yield queue
        jobs = GaugeMetricFamily("void_engine_jobs", "Jobs in the journal, by state.", labels=["state"])
        for state in sorted(set(STATES) | set(counts)):
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs
        gpus = self.gpu_memory()
        families = (
            ("void_engine_gpu_memory_used_bytes", "GPU memory held by tensors now.", "in_use"),
            ("void_engine_gpu_memory_reserved_bytes", "GPU memory held by the CUDA caching allocator now.", "reserved"),
            ("void_engine_gpu_memory_peak_bytes", "Most GPU memory held by tensors since the engine started.", "peak"),
        )
        for name, doc, attr in families:
            fam = GaugeMetricFamily(name, doc, labels=["device"])
            for g in gpus:
                fam.add_metric([g.device], getattr(g, attr))
            yield fam


class EngineMetrics:
    """The engine's Prometheus registry; :meth:`observe` moves it with each job event."""

    def __init__(
        self,
        count_by_state: Callable[[], dict[str, int]],
        *,
        started: float | None = None,
        gpu_memory: Callable[[], list[GpuMemory]] = torch_gpu_memory,
    ):
        self.registry = CollectorRegistry()
        r = self.registry
        self.submitted = Counter("void_engine_jobs_submitted", "Jobs submitted since the engine started.", registry=r)
        self.finished = Counter(
            "void_engine_jobs_finished", "Jobs that ended since the engine started, by state.", ["state"], registry=r
        )
        self.job_seconds = Histogram(
            "void_engine_job_seconds",
            "Seconds a job ran, from running to its end, by how it ended.",
            ["state"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "void_engine_denoise_step_seconds",
            "Seconds per denoising step, by pass (model = pass 1, pass2).",
            ["stage"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self.plate_io_seconds = Histogram(
            "void_engine_plate_io_seconds",
            "Seconds a job spent reading its plate (and masks) or writing its result, per job.",
            ["direction"],
            buckets=_IO_BUCKETS,
            registry=r,
        )
        self.plate_frames = Counter(
            "void_engine_plate_frames", "Frames read or written by jobs.", ["direction"], registry=r
        )
        for state in TERMINAL_STATES:
            self.finished.labels(state)
        for direction in ("read", "write"):
            self.plate_frames.labels(direction)
        r.register(_ScrapeTimeGauges(count_by_state, time.monotonic() if started is None else started, gpu_memory))

    def observe(self, ev: Event, before: JobProgress) -> None:
        """Count one journal event; ``before`` is its job's progress just before it."""
        if ev.kind == "state":
            if ev.state == QUEUED and ev.seq == 1:
                self.submitted.inc()
            elif ev.state in TERMINAL_STATES:
                self.finished.labels(ev.state).inc()
                if before.started_at is not None and before.ended_at is None:
                    self.job_seconds.labels(ev.state).observe(max(0.0, ev.ts - before.started_at))
        elif ev.kind == "step" and before.last_ts is not None:
            stage = before.stage if before.stage in ("model", "pass2") else "model"
            follows_step = (
                before.last_kind == "step" and before.window == ev.window and before.step == (ev.step or 0) - 1
            )
            # Step 1 is timed from its stage's start; a window's first step after another window
            # would include the window change-over, so it is not counted.
            follows_start = before.last_kind == "stage" and before.stage in ("model", "pass2") and ev.step == 1
            if follows_step or follows_start:
                self.step_seconds.labels(stage).observe(max(0.0, ev.ts - before.last_ts))
        elif ev.kind == "stage" and ev.stage in ("read", "write") and ev.total and ev.step == ev.total:
            if before.stage == ev.stage and before.stage_started_at is not None:
                self.plate_io_seconds.labels(ev.stage).observe(max(0.0, ev.ts - before.stage_started_at))
                self.plate_frames.labels(ev.stage).inc(ev.total)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
