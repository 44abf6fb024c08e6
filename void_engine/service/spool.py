"""Bounded disk: how many bytes the engine's spool holds, and the retention of by-value results.

The spool is everything by-value jobs put on the engine's disk: uploads in progress
(``state_dir/spool``), the inputs of jobs not yet finished and the results clients fetch
(``state_dir/jobs/<id>/``). :class:`SpoolKeeper` measures it (a walk of those folders, never on the
socket loop: at start, then on its own thread every ``interval_s``), applies the retention
settings to finished jobs' results, oldest first, and answers :meth:`SpoolKeeper.used_bytes` from
its last walk plus what was added since, so that ``upload`` can refuse what would pass
``[limits] max_spool_bytes`` without touching the disk. By-path results live in the studio's
folders, never here, and are never deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bridge.protocol import TERMINAL_STATES

from .journal import Journal

log = logging.getLogger("void_engine.service.spool")


@dataclass(frozen=True)
class Retention:
    """How long by-value results are kept: ``max_age_s`` after their job ended, and ``max_bytes``
    in all (the oldest go first); 0 = no limit."""

    max_age_s: float = 0.0
    max_bytes: int = 0


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (0 when it is gone; files vanishing meanwhile
    are skipped)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


class SpoolKeeper:
    """Measures the spool and deletes by-value results past their retention (thread-safe)."""

    def __init__(self, state_dir: Path, journal: Journal, retention: Retention, interval_s: float = 30.0):
        self.jobs_dir = Path(state_dir) / "jobs"
        self.spool_dir = Path(state_dir) / "spool"
        self.journal = journal
        self.retention = retention
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._measured = 0  # bytes under jobs/ and spool/ at the last walk
        self._added = 0  # bytes announced since (uploads begun), until the next walk
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def used_bytes(self) -> int:
        """The spool's bytes: the last walk's plus those announced since."""
        with self._lock:
            return self._measured + self._added

    def added(self, n: int) -> None:
        """``n`` bytes are about to be written to the spool (an upload's announced total)."""
        with self._lock:
            self._added += n

    def sweep(self, now: float | None = None) -> list[str]:
        """Apply the retention settings, then measure the spool again; returns the ids of the jobs
        whose results were deleted."""
        deleted = self._apply_retention(time.time() if now is None else now)
        with self._lock:
            added_before = self._added
        measured = tree_bytes(self.jobs_dir) + tree_bytes(self.spool_dir)
        with self._lock:
            # Uploads announced during the walk may or may not be in it: keep them counted.
            self._measured, self._added = measured, self._added - added_before
        return deleted

    def _finished_results(self) -> list[tuple[float, str, Path]]:
        """(time the job ended, job id, result folder) of by-value jobs in a final state."""
        found = []
        for folder in self.jobs_dir.iterdir() if self.jobs_dir.is_dir() else []:
            out = folder / "out"
            if not out.is_dir():
                continue
            rec = self.journal.get(folder.name)
            # Only a job that will never run again may lose its results; a job unknown to the
            # journal is not ours to judge.
            if rec is not None and rec.state in TERMINAL_STATES and rec.spec.upload is not None:
                found.append((rec.updated, rec.id, out))
        return sorted(found)

    def _apply_retention(self, now: float) -> list[str]:
        r = self.retention
        if not r.max_age_s and not r.max_bytes:
            return []
        results = self._finished_results()
        doomed: list[tuple[str, Path]] = []
        if r.max_age_s:
            doomed += [(jid, out) for ended, jid, out in results if now - ended > r.max_age_s]
        if r.max_bytes:
            young = [(jid, out) for ended, jid, out in results if not r.max_age_s or now - ended <= r.max_age_s]
            kept = [(jid, out, tree_bytes(out)) for jid, out in young]
            total = sum(size for _, _, size in kept)
            for jid, out, size in kept:  # oldest first
                if total <= r.max_bytes:
                    break
                doomed.append((jid, out))
                total -= size
        for jid, out in doomed:
            shutil.rmtree(out, ignore_errors=True)
            log.info("result of job %s deleted (retention: %s)", jid, r)
        return [jid for jid, _ in doomed]

    # -- its thread ----------------------------------------------------------------------------

    def start(self) -> None:
        """Sweep every ``interval_s`` on a thread of its own (the engine sweeps once at start)."""
        self._thread = threading.Thread(target=self._run, name="void-spool", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:  # a disk hiccup must not end the keeping; the next sweep retries
                log.exception("spool sweep failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
