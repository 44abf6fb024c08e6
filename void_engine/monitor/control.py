"""What an admin may do from the page: cancel a job, or retry one that failed or was cancelled.

Both go through the journal's public API, then tell the socket loop (``notify``, the same
thread-safe call the worker makes after each event) so clients following the job hear of it at
once, and wake the worker for a retried job. Callers check the admin token first (app.py).
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from bridge.protocol import CANCELLED, FAILED, TERMINAL_STATES, Event, JobSpec


class JournalControl(Protocol):
    """The journal's write side the monitor uses (void_engine.service.journal.Journal)."""

    def get(self, job: str) -> Any: ...

    def request_cancel(self, job: str) -> tuple[str, Event | None]: ...

    def submit(
        self, owner: str, spec: JobSpec, max_queued: int | None = None, on_create: Callable[[str], None] | None = None
    ) -> tuple[Any, bool]: ...

    def add_event(self, job: str, **body: Any) -> Event: ...


class ActionRefused(Exception):
    """The action does not apply to this job now; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ActionResult:
    job: str
    state: str
    retried_as: str | None = None


class JobControl:
    """Cancel and retry, as the engine's own ``cancel`` request and a fresh ``submit`` do them."""

    def __init__(
        self,
        journal: JournalControl,
        *,
        state_dir: Path,
        max_queued: int,
        notify: Callable[[str], None],
        wake: Callable[[], None],
    ):
        self.journal = journal
        self.state_dir = Path(state_dir)
        self.max_queued = max_queued
        self.notify = notify
        self.wake = wake

    def _record(self, jid: str) -> Any:
        rec = self.journal.get(jid)
        if rec is None:
            raise ActionRefused(404, f"no job {jid!r}")
        return rec

    def cancel(self, jid: str) -> ActionResult:
        """Cancel a queued job now, or ask the worker to stop a running one (within one step)."""
        rec = self._record(jid)
        if rec.state in TERMINAL_STATES:
            raise ActionRefused(409, f"job {jid} is already {rec.state}")
        state, event = self.journal.request_cancel(jid)
        if event is not None and rec.spec.upload is not None:
            # As the engine's cancel request does: a by-value job cancelled before it ran never
            # reaches the worker, which would otherwise delete its uploaded inputs.
            shutil.rmtree(self.state_dir / "jobs" / jid / "inputs", ignore_errors=True)
        self.notify(jid)
        return ActionResult(jid, state)

    def retry(self, jid: str) -> ActionResult:
        """Queue a failed or cancelled job's spec again, as a new job of the same owner."""
        rec = self._record(jid)
        if rec.state not in (FAILED, CANCELLED):
            raise ActionRefused(409, f"job {jid} is {rec.state}; only failed or cancelled jobs can be retried")
        if rec.spec.upload is not None:
            raise ActionRefused(
                409,
                f"job {jid} sent its frames by value and they were deleted when it ended; "
                "submit it again from the host",
            )
        from void_engine.service.journal import QueueFullError

        # Without its job_key: the key would find the old job instead of queueing a new one.
        spec = dataclasses.replace(rec.spec, job_key=None)
        try:
            new, _ = self.journal.submit(rec.owner, spec, max_queued=self.max_queued)
        except QueueFullError as exc:
            raise ActionRefused(503, str(exc)) from None
        self.journal.add_event(jid, kind="log", message=f"retried from the monitor as job {new.id}")
        self.wake()
        self.notify(jid)
        return ActionResult(jid, rec.state, retried_as=new.id)
