"""What the page and /metrics know about jobs: summaries kept up to date from the journal's events.

:class:`JobTracker` polls the journal from the monitor's own thread (never the socket loop's): it
lists the newest jobs, reads only the events each unfinished job added since the last poll, and
folds them into a :class:`JobProgress` (stage, step, overall fraction, run times). Every event
stored after the monitor started is also handed to an ``observe`` callback once, in journal
order, which is how the Prometheus counters move with jobs.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from bridge.protocol import QUEUED, RUNNING, TERMINAL_STATES, Event, JobSpec

log = logging.getLogger("void_engine.monitor.tracker")

# Where each stage sits in a job's overall progress (start, end). VOID's time goes to the model;
# the plate stages are a few percent each. Pass 2, when asked, takes the second half of "model".
_SPAN = {
    "resolve": (0.0, 0.01),
    "masks": (0.01, 0.08),
    "mask-read": (0.01, 0.03),
    "propagate": (0.03, 0.06),
    "reason": (0.06, 0.08),
    "read": (0.08, 0.15),
    "model": (0.15, 0.9),
    "write": (0.9, 1.0),
}
_PASS1_WITH_PASS2 = (0.15, 0.52)
_PASS2 = (0.52, 0.9)
_BATCH = 500  # events read per journal query


class JournalView(Protocol):
    """The journal's read side, as the monitor uses it (void_engine.service.journal.Journal)."""

    def list_jobs(self, owner: str | None = None, limit: int = 100) -> list[Any]: ...

    def get(self, job: str) -> Any: ...

    def events(self, job: str, after: int = 0, limit: int = 500) -> list[Event]: ...

    def last_seq(self, job: str) -> int: ...


@dataclass
class JobProgress:
    """One job's progress as its events tell it."""

    seq: int = 0
    state: str = QUEUED
    stage: str | None = None
    stage_step: int = 0
    stage_total: int = 0
    window: int | None = None
    step: int = 0
    total: int = 0
    pass2: bool = False
    fraction: float = 0.0
    stage_started_at: float | None = None
    last_kind: str | None = None
    last_ts: float | None = None
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    message: str | None = None

    def apply(self, ev: Event) -> None:
        """Fold one event (in seq order) into the summary."""
        self._fold(ev)
        self.seq, self.last_kind, self.last_ts = ev.seq, ev.kind, ev.ts

    def _fold(self, ev: Event) -> None:
        if ev.kind == "state" and ev.state:
            self.state = ev.state
            if ev.state == QUEUED:
                self.queued_at = self.queued_at or ev.ts
                self.started_at = self.ended_at = None
                self.stage, self.fraction = None, 0.0
            elif ev.state == RUNNING:
                self.started_at, self.ended_at = ev.ts, None
                self.stage, self.fraction = None, 0.0
            elif ev.state in TERMINAL_STATES:
                self.ended_at = ev.ts
                if ev.state == "done":
                    self.fraction = 1.0
            if ev.message:
                self.message = ev.message
        elif ev.kind == "stage" and ev.stage:
            if ev.stage == "pass2":
                self.pass2 = True
            if ev.stage != self.stage or not ev.step:
                self.stage_started_at = ev.ts
            self.stage, self.stage_step, self.stage_total = ev.stage, ev.step or 0, ev.total or 0
            if ev.stage in ("model", "pass2"):
                self.window, self.step, self.total = None, 0, ev.total or 0
            self._advance(ev.stage, self.stage_step, self.stage_total)
        elif ev.kind == "step":
            self.window, self.step, self.total = ev.window, ev.step or 0, ev.total or 0
            self._advance(self.stage if self.stage in ("model", "pass2") else "model", self.step, self.total)
        elif ev.kind == "log" and ev.message:
            self.message = ev.message

    def _advance(self, stage: str, done: int, total: int) -> None:
        if stage == "pass2":
            lo, hi = _PASS2
        elif stage == "model" and self.pass2:
            lo, hi = _PASS1_WITH_PASS2
        else:
            lo, hi = _SPAN.get(stage, (self.fraction, self.fraction))
        within = min(1.0, done / total) if total else 0.0
        self.fraction = lo + (hi - lo) * within

    def stage_label(self) -> str:
        """``model · window 1 · step 14/50``, ``read 3/96``, or the state when no stage runs."""
        if self.state != RUNNING or self.stage is None:
            return self.state
        if self.stage in ("model", "pass2") and self.total:
            where = f" · window {self.window + 1}" if self.window else ""
            return f"{self.stage}{where} · step {self.step}/{self.total}"
        if self.stage_total > 1:
            return f"{self.stage} {self.stage_step}/{self.stage_total}"
        return self.stage

    def elapsed(self, now: float) -> float | None:
        """Seconds it has run (or ran), or has waited while queued."""
        if self.started_at is not None:
            return (self.ended_at or now) - self.started_at
        if self.queued_at is not None and self.state == QUEUED:
            return now - self.queued_at
        return None

    def eta(self, now: float) -> float | None:
        """Seconds left at the pace so far (None until there is a pace to go by)."""
        if self.state != RUNNING or self.started_at is None or self.fraction < 0.02:
            return None
        spent = now - self.started_at
        return spent * (1.0 - self.fraction) / self.fraction


@dataclass(frozen=True)
class JobSummary:
    """A job row for the page: the journal's record (a JobRecord) plus its progress."""

    record: Any
    progress: JobProgress = field(default_factory=JobProgress)

    @property
    def id(self) -> str:
        return str(self.record.id)

    @property
    def spec(self) -> JobSpec:
        return self.record.spec

    @property
    def state(self) -> str:
        return str(self.record.state)

    @property
    def result(self) -> dict[str, Any] | None:
        return self.record.result

    @property
    def shot(self) -> str:
        """The shot's name: the job's ``name`` or the plate's file name without frame token."""
        return self.spec.name or shot_name(self.spec.plate)

    def to_json(self, now: float) -> dict[str, Any]:
        from void_engine.plates.sequence import compress_frames

        p, rec = self.progress, self.record
        return {
            "id": self.id,
            "state": self.state,
            "owner": rec.owner,
            "shot": self.shot,
            "plate": self.spec.plate,
            "frames": compress_frames(list(self.spec.frames)),
            "frame_count": len(self.spec.frames),
            "by_value": self.spec.upload is not None,
            "backend": self.spec.backend,
            "steps": self.spec.steps,
            "priority": self.spec.priority,
            "pass2": self.spec.pass2,
            "prompt": self.spec.prompt,
            "attempts": rec.attempts,
            "cancel_requested": rec.cancel_requested,
            "created": rec.created,
            "updated": rec.updated,
            "error": rec.error,
            "output": (self.result or {}).get("pattern"),
            "progress": round(p.fraction, 4),
            "stage": p.stage_label(),
            "message": p.message,
            "elapsed_s": p.elapsed(now),
            "eta_s": p.eta(now),
        }


def shot_name(plate_pattern: str) -> str:
    """``/shots/a/bigben.####.exr`` -> ``bigben``."""
    base = Path(plate_pattern).name
    return re.split(r"[.#%@$]", base, maxsplit=1)[0].rstrip("_") or base


Observer = Callable[[Event, JobProgress], None]


class JobTracker:
    """Summaries of the newest ``limit`` jobs, refreshed by :meth:`poll` (thread-safe reads).

    ``observe(event, progress_before)`` is called for each event stored at or after
    ``since`` (a time.time()), once, from the polling thread; earlier events only build summaries.
    """

    def __init__(self, journal: JournalView, *, limit: int, observe: Observer | None = None, since: float = 0.0):
        self.journal = journal
        self.limit = limit
        self.observe = observe
        self.since = since
        self._progress: dict[str, JobProgress] = {}
        self._rows: list[JobSummary] = []
        self._lock = threading.Lock()

    def poll(self) -> None:
        """Read what changed since the last poll (one list query plus one per unfinished job)."""
        recs = self.journal.list_jobs(None, self.limit)
        rows = []
        for rec in recs:
            prog = self._progress.get(rec.id)
            if prog is None and rec.state in TERMINAL_STATES and rec.updated < self.since:
                prog = self._settled(rec.id)
            elif prog is None or not (prog.state in TERMINAL_STATES and prog.seq and rec.state == prog.state):
                prog = prog or JobProgress()
                self._catch_up(rec.id, prog)
            self._progress[rec.id] = prog
            rows.append(JobSummary(rec, replace(prog)))
        keep = {r.id for r in rows}
        for jid in [j for j in self._progress if j not in keep]:
            del self._progress[jid]
        with self._lock:
            self._rows = rows

    def _settled(self, jid: str) -> JobProgress:
        """A job that ended before the monitor started: its first events (queued, running) and its
        last, not every frame and step between (a long 4K job stores thousands)."""
        prog = JobProgress()
        for ev in self.journal.events(jid, 0, _BATCH):
            prog.apply(ev)
        last = self.journal.last_seq(jid)
        if last > prog.seq:
            for ev in self.journal.events(jid, last - 1, 1):
                prog.apply(ev)
        return prog

    def _catch_up(self, jid: str, prog: JobProgress, *, observe: bool = True) -> None:
        while True:
            evs = self.journal.events(jid, prog.seq, _BATCH)
            for ev in evs:
                before = replace(prog)
                prog.apply(ev)
                if observe and self.observe is not None and ev.ts >= self.since:
                    try:
                        self.observe(ev, before)
                    except Exception:  # a metrics bug must not stop the page
                        log.exception("observing event %s/%s failed", jid, ev.seq)
            if len(evs) < _BATCH:
                return

    def rows(self) -> list[JobSummary]:
        """The newest jobs first, as of the last poll."""
        with self._lock:
            return list(self._rows)

    def job(self, jid: str) -> JobSummary | None:
        """One job: from the last poll if it is among the newest, else read from the journal now."""
        with self._lock:
            for row in self._rows:
                if row.id == jid:
                    return row
        rec = self.journal.get(jid)
        if rec is None:
            return None
        prog = JobProgress()
        # Not observed: the polling thread alone feeds the metrics, each event once.
        self._catch_up(jid, prog, observe=False)
        return JobSummary(rec, prog)
