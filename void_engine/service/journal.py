"""The job journal: every job and every progress event, in SQLite, stored before announced.

A job's life is the table :data:`TRANSITIONS` below: born ``queued`` (:meth:`Journal.submit`), then
``running`` (:meth:`Journal.claim_next`), then ``done | failed | cancelled`` (:meth:`Journal.finish`),
or back to ``queued`` when its engine died (:meth:`Journal.requeue`). Every change of state goes
through one method, ``Journal._move``, which checks the table inside the transaction, updates the
row and appends the state event; a move the table does not hold is refused with
:class:`IllegalTransition` and changes nothing. A transition is committed before anyone is told
about it, so a crash can never have reported a state the journal lacks. After a crash,
:meth:`Journal.recover` re-queues the jobs that were running (or fails those out of attempts).
Submit is idempotent on ``(owner, job_key)``.

One Journal is shared by the socket loop and the worker thread; a lock serialises access to
its single connection (SQLite would serialise the writes anyway).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bridge.protocol import CANCELLED, DONE, FAILED, QUEUED, RUNNING, TERMINAL_STATES, Event, JobSpec, JobStatus

# The job states (their names are the wire's, from bridge.protocol) and, for each, the states it may
# move to. Nothing else moves a job: Journal._move refuses any other step.
TRANSITIONS: dict[str, frozenset[str]] = {
    # Stored, waiting for an engine, in priority order. An engine takes it (claim_next), or its
    # owner cancels it before it ran (request_cancel).
    QUEUED: frozenset({RUNNING, CANCELLED}),
    # On an engine; one attempt used. It ends (finish: done, failed, or cancelled once the engine
    # has stopped it), or goes back to wait when its engine died (requeue, recover).
    RUNNING: frozenset({DONE, FAILED, CANCELLED, QUEUED}),
    # Final: the result folder is written and fetchable.
    DONE: frozenset(),
    # Final: ``error`` says why.
    FAILED: frozenset(),
    # Final: stopped on its owner's (or an admin's) request.
    CANCELLED: frozenset(),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    owner TEXT NOT NULL,
    job_key TEXT,
    spec_hash TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    error TEXT,
    result TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_key ON jobs(owner, job_key) WHERE job_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(state, priority, seq);
CREATE TABLE IF NOT EXISTS events (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job, seq)
);
"""


@dataclass(frozen=True)
class JobRecord:
    """One row of the journal, with its spec decoded."""

    id: str
    owner: str
    spec: JobSpec
    state: str
    attempts: int
    cancel_requested: bool
    created: float
    updated: float
    error: str | None
    result: dict[str, Any] | None

    def status(self, last_seq: int) -> JobStatus:
        res = self.result or {}
        return JobStatus(
            job=self.id,
            state=self.state,
            attempts=self.attempts,
            created=self.created,
            updated=self.updated,
            error=self.error,
            output=res.get("pattern"),
            frames=tuple(res.get("frames", ())),
            last_seq=last_seq,
            spec=self.spec.to_wire(),
        )


class DuplicateKeyError(ValueError):
    """A job_key reused by the same owner for different inputs."""


class QueueFullError(RuntimeError):
    """The queue already holds the most jobs the engine accepts."""


class IllegalTransition(RuntimeError):
    """A state change the journal refused: the job is not in the state the move starts from, or
    :data:`TRANSITIONS` has no such move. Nothing was changed."""

    def __init__(self, job: str, state: str, move: tuple[str, str]):
        self.job, self.state, self.move = job, state, move
        frm, to = move
        why = "a final state" if state in TERMINAL_STATES else f"not {frm}" if state != frm else "no such transition"
        super().__init__(f"job {job} is {state} ({why}): {frm} -> {to} refused")


def spec_hash(spec: JobSpec) -> str:
    """Hash of what the job computes (not of its bookkeeping fields)."""
    wire = spec.to_wire()
    for k in ("job_key", "priority", "upload"):
        wire.pop(k, None)
    return hashlib.sha256(json.dumps(wire, sort_keys=True).encode()).hexdigest()


class Journal:
    """SQLite-backed job store. Thread-safe."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a transition that was announced must survive power loss as well as kill -9.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- helpers ---------------------------------------------------------------------------

    def _tx(self):
        return _Tx(self._db, self._lock)

    def _record(self, row: tuple) -> JobRecord:
        (jid, owner, spec, state, attempts, cancel, created, updated, error, result) = row
        return JobRecord(
            jid,
            owner,
            JobSpec.from_stored(json.loads(spec)),
            state,
            attempts,
            bool(cancel),
            created,
            updated,
            error,
            json.loads(result) if result else None,
        )

    _COLS = "id, owner, spec, state, attempts, cancel_requested, created, updated, error, result"

    def _append_event(self, job: str, body: dict[str, Any]) -> Event:
        now = time.time()
        (last,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE job=?", (job,)).fetchone()
        ev = Event.from_wire({**body, "job": job, "seq": last + 1, "ts": now})
        self._db.execute(
            "INSERT INTO events(job, seq, ts, body) VALUES (?,?,?,?)", (job, ev.seq, now, json.dumps(ev.to_wire()))
        )
        return ev

    def _move(
        self, job: str, frm: str, to: str, *, columns: dict[str, Any] | None = None, event: dict[str, Any] | None = None
    ) -> Event:
        """The one way a job changes state. Call inside a transaction (``self._tx()``).

        Checks that the job is in ``frm`` and that :data:`TRANSITIONS` allows ``frm -> to``, then
        sets ``state`` (plus ``columns``, names fixed by the callers here) and appends the state
        event (plus ``event``'s fields). Raises KeyError for an unknown job and IllegalTransition,
        before any write, for a move the table does not hold.
        """
        row = self._db.execute("SELECT state FROM jobs WHERE id=?", (job,)).fetchone()
        if row is None:
            raise KeyError(job)
        if row[0] != frm or to not in TRANSITIONS[frm]:
            raise IllegalTransition(job, row[0], (frm, to))
        values = {"state": to, "updated": time.time(), **(columns or {})}
        self._db.execute(
            f"UPDATE jobs SET {', '.join(f'{name}=?' for name in values)} WHERE id=?", (*values.values(), job)
        )
        return self._append_event(job, {"kind": "state", "state": to, **(event or {})})

    # -- public API -------------------------------------------------------------------------

    def submit(
        self, owner: str, spec: JobSpec, max_queued: int | None = None, on_create: Callable[[str], None] | None = None
    ) -> tuple[JobRecord, bool]:
        """Store a new queued job (or return the owner's existing job with the same job_key).

        Returns (record, created). Raises DuplicateKeyError when the key names other inputs,
        QueueFullError when ``max_queued`` jobs are already waiting (an existing job is still returned).
        ``on_create(job_id)`` runs for a new job before it is committed, so no other thread can
        claim the job until it returns (its uploaded inputs are moved into place there); if it
        raises, the job is not stored.
        """
        h = spec_hash(spec)
        with self._tx():
            if spec.job_key is not None:
                row = self._db.execute(
                    f"SELECT {self._COLS}, spec_hash FROM jobs WHERE owner=? AND job_key=?", (owner, spec.job_key)
                ).fetchone()
                if row is not None:
                    if row[-1] != h:
                        raise DuplicateKeyError(
                            f"job_key {spec.job_key!r} was already used for a job with other inputs ({row[0]})"
                        )
                    return self._record(row[:-1]), False
            if max_queued is not None:
                (waiting,) = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state=?", (QUEUED,)).fetchone()
                if waiting >= max_queued:
                    raise QueueFullError(
                        f"{waiting} jobs are already queued (the limit is {max_queued}); try again later"
                    )
            now = time.time()
            jid = uuid.uuid4().hex[:16]
            (seq,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()
            self._db.execute(
                "INSERT INTO jobs(id, seq, owner, job_key, spec_hash, spec, state, priority, created, updated)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (jid, seq, owner, spec.job_key, h, json.dumps(spec.to_wire()), QUEUED, spec.priority, now, now),
            )
            self._append_event(jid, {"kind": "state", "state": QUEUED})
            if on_create is not None:
                on_create(jid)
        rec = self.get(jid)
        assert rec is not None  # committed just above; jobs are never deleted
        return rec, True

    def find_by_key(self, owner: str, spec: JobSpec) -> JobRecord | None:
        """The owner's existing job with ``spec.job_key`` (None without a key or a match).

        Raises DuplicateKeyError when the key names other inputs, as :meth:`submit` does.
        """
        if spec.job_key is None:
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLS}, spec_hash FROM jobs WHERE owner=? AND job_key=?", (owner, spec.job_key)
            ).fetchone()
        if row is None:
            return None
        if row[-1] != spec_hash(spec):
            raise DuplicateKeyError(f"job_key {spec.job_key!r} was already used for a job with other inputs ({row[0]})")
        return self._record(row[:-1])

    def get(self, job: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLS} FROM jobs WHERE id=?", (job,)).fetchone()
        return self._record(row) if row else None

    def status(self, job: str) -> JobStatus | None:
        rec = self.get(job)
        return rec.status(self.last_seq(job)) if rec else None

    def last_seq(self, job: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE job=?", (job,)).fetchone()
        return n

    def list_jobs(self, owner: str | None = None, limit: int = 100) -> list[JobRecord]:
        """Newest first; all owners when ``owner`` is None."""
        q = (
            f"SELECT {self._COLS} FROM jobs"
            + (" WHERE owner=?" if owner is not None else "")
            + " ORDER BY seq DESC LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(q, ((owner, limit) if owner is not None else (limit,))).fetchall()
        return [self._record(r) for r in rows]

    def count_queued(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state=?", (QUEUED,)).fetchone()
        return n

    def count_by_state(self) -> dict[str, int]:
        """How many jobs the journal holds in each state (a state with none is absent)."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: n for state, n in rows}

    def events(self, job: str, after: int = 0, limit: int = 500) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM events WHERE job=? AND seq>? ORDER BY seq LIMIT ?", (job, after, limit)
            ).fetchall()
        return [Event.from_wire(json.loads(b)) for (b,) in rows]

    def add_event(self, job: str, **body: Any) -> Event:
        """Store a progress event (stage/step/log) for a job."""
        with self._tx():
            return self._append_event(job, body)

    def claim_next(self) -> JobRecord | None:
        """Move the highest-priority, oldest queued job to running (one attempt used)."""
        with self._tx():
            row = self._db.execute(
                "SELECT id, attempts FROM jobs WHERE state=? ORDER BY priority DESC, seq ASC LIMIT 1", (QUEUED,)
            ).fetchone()
            if row is None:
                return None
            jid, attempts = row
            self._move(jid, QUEUED, RUNNING, columns={"attempts": attempts + 1})
        return self.get(jid)

    def finish(self, job: str, state: str, *, error: str | None = None, result: dict[str, Any] | None = None) -> Event:
        """``running -> done | failed | cancelled``: the row and its event, atomically.

        Raises IllegalTransition (and stores nothing) when the job is not running: a job is
        finished once, by the engine that ran it.
        """
        with self._tx():
            return self._finish(job, state, error=error, result=result)

    def _finish(self, job: str, state: str, *, error: str | None, result: dict[str, Any] | None) -> Event:
        if state not in TERMINAL_STATES:
            raise ValueError(f"finish takes a final state ({', '.join(sorted(TERMINAL_STATES))}), not {state!r}")
        event: dict[str, Any] = {}
        if error:
            event["message"] = error
        if result and result.get("pattern"):
            event["output"] = result["pattern"]
        columns = {"error": error, "result": json.dumps(result) if result is not None else None}
        return self._move(job, RUNNING, state, columns=columns, event=event)

    def request_cancel(self, job: str) -> tuple[str, Event | None]:
        """Cancel a queued job now, or flag a running one for the worker.

        Returns (state after the call, the event stored if the job became cancelled).
        """
        with self._tx():
            row = self._db.execute("SELECT state FROM jobs WHERE id=?", (job,)).fetchone()
            if row is None:
                raise KeyError(job)
            state = row[0]
            if state == QUEUED:
                return CANCELLED, self._move(job, QUEUED, CANCELLED, columns={"cancel_requested": 1})
            if state == RUNNING:  # not a move yet: the engine running it stops it and finishes it
                self._db.execute("UPDATE jobs SET cancel_requested=1 WHERE id=?", (job,))
            return state, None

    def cancel_requested(self, job: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job,)).fetchone()
        return bool(row and row[0])

    def requeue(self, job: str, message: str) -> str:
        """``running -> queued`` for one job (its engine died), state and event in one transaction.

        Returns the job's state afterwards: ``queued`` (the event carries ``message``), or
        ``cancelled`` if a cancel was asked while it ran. A job already queued is left as it is.
        Raises IllegalTransition for a job in a final state. :meth:`recover` does this for every
        running job at start-up; a gateway needs it for one job while the others keep running.
        """
        with self._tx():
            return self._requeue(job, message)

    def _requeue(self, job: str, message: str) -> str:
        row = self._db.execute("SELECT state, cancel_requested FROM jobs WHERE id=?", (job,)).fetchone()
        if row is None:
            raise KeyError(job)
        state, cancel = row
        if state == QUEUED:
            return QUEUED
        if cancel:
            self._move(job, RUNNING, CANCELLED)
            return CANCELLED
        self._move(job, RUNNING, QUEUED, event={"message": message})
        return QUEUED

    def running_ids(self) -> list[str]:
        """Ids of the jobs in state ``running`` (at start-up: those a crash interrupted)."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM jobs WHERE state=?", (RUNNING,)).fetchall()
        return [jid for (jid,) in rows]

    def recover(self, max_attempts: int) -> tuple[list[str], list[str]]:
        """At start-up: re-queue jobs left running by a crash, or fail those out of attempts.

        Returns (requeued ids, failed ids). A job whose cancel was requested becomes cancelled.
        """
        requeued: list[str] = []
        failed: list[str] = []
        with self._tx():
            rows = self._db.execute(
                "SELECT id, attempts, cancel_requested FROM jobs WHERE state=?", (RUNNING,)
            ).fetchall()
            for jid, attempts, cancel in rows:
                if attempts >= max_attempts and not cancel:
                    msg = f"engine stopped while this job ran, {attempts} time(s); giving up"
                    self._finish(jid, FAILED, error=msg, result=None)
                    failed.append(jid)
                elif self._requeue(jid, "re-queued after engine restart") == QUEUED:
                    requeued.append(jid)
        return requeued, failed


class _Tx:
    """Lock + BEGIN IMMEDIATE/COMMIT (ROLLBACK on error)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock):
        self.db, self.lock = db, lock

    def __enter__(self):
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.lock.release()
        return False
