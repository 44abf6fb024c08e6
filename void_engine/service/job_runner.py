"""The seam between the socket loop and whatever runs the queued jobs.

The loop (:class:`~.server.Engine`) stores jobs in the journal and answers requests; a
:class:`JobRunner` takes queued jobs from the same journal, on threads of its own, and runs them.
The single engine's runner is :class:`~.worker.WorkerThread` (the local GPU); the cluster
gateway's is :class:`void_engine.cluster.dispatcher.ClusterDispatcher` (Ray engine actors). The
loop reads nothing else of either: everything it needs from a runner is declared here.

The two never call each other while a job runs: the runner stores every event in the journal,
then calls the loop's ``notify(job_id)``, and the loop answers whoever waits for that job.
"""

from __future__ import annotations

import threading
from typing import Callable, Collection, Literal, Mapping, Protocol

from .journal import Journal
from .mask_stage import MaskStage

# What `hello` says of a backend: loaded and serving jobs, still loading (its first job waits for
# it), or unavailable (every job for it fails, with the error `hello` reports).
BackendState = Literal["ready", "loading", "error"]

# notify(job_id): called by the runner, from any of its threads, after it stored an event of job_id.
Notify = Callable[[str], None]


class JobRunner(Protocol):
    """What the socket loop needs from the thing that runs its jobs (a thread, as far as it knows)."""

    @property
    def wake(self) -> threading.Event:
        """Set by the loop after each submit: a queued job may be waiting, look now."""
        ...

    @property
    def mask_stage(self) -> MaskStage:
        """The mask stage whose settings jobs run with; the loop's submit-time checks (SAM2 files,
        the reasoner's key) and `hello`'s capabilities ask it, so a job this runner cannot run is
        refused at submit."""
        ...

    def backend_state(self, name: str) -> tuple[BackendState, str | None]:
        """The state of backend ``name`` and, in state ``error``, why (None otherwise)."""
        ...

    def start(self) -> None:
        """Begin taking queued jobs (called once, when the loop starts serving)."""
        ...

    def stop(self) -> None:
        """Take no more jobs and stop the running ones; a job stopped so is left ``running`` in the
        journal, and the next start's recovery re-queues it. Returns at once (then :meth:`join`)."""
        ...

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the runner to end after :meth:`stop`."""
        ...

    def is_alive(self) -> bool:
        """Whether the runner still runs (the loop keeps the ZeroMQ context alive while it does)."""
        ...


# Builds an engine's runner from the engine's journal and its notify; the engine calls it once,
# in its constructor, and starts the runner when it starts serving.
RunnerFactory = Callable[[Journal, Notify], JobRunner]


def backend_state(name: str, loaded: Collection[str], errors: Mapping[str, str]) -> tuple[BackendState, str | None]:
    """:meth:`JobRunner.backend_state` from the names loaded and the errors of those that failed."""
    if name in errors:
        return "error", errors[name]
    return ("ready" if name in loaded else "loading"), None
