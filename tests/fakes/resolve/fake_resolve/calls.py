"""A shared call log: every fake API call is recorded as (object, method, args)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallLog:
    calls: list[tuple[str, str, tuple[Any, ...]]] = field(default_factory=list)
    host_thread: int = field(default_factory=threading.get_ident)
    off_thread: list[str] = field(default_factory=list)

    def record(self, obj: str, method: str, *args: Any) -> None:
        self.calls.append((obj, method, args))
        # Resolve's objects belong to the thread that runs the script; a plugin that calls
        # them from its worker thread is recorded here so a test can fail it.
        if threading.get_ident() != self.host_thread:
            self.off_thread.append(f"{obj}.{method}")

    def names(self) -> list[str]:
        return [f"{o}.{m}" for o, m, _ in self.calls]


LOG = CallLog()


def reset() -> CallLog:
    """A fresh log owned by the calling thread."""
    global LOG
    LOG = CallLog()
    return LOG


def record(obj: str, method: str, *args: Any) -> None:
    LOG.record(obj, method, *args)
