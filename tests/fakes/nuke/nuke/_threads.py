"""Nuke's threads: the main thread's event loop, calls queued onto it, and ProgressTask."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable

from ._state import Result, gui, require_main, session


def fake_process_events(until: Callable[[], bool] | None = None, timeout: float = 30.0) -> None:
    """Run queued main-thread calls (Nuke's event loop) until ``until()`` or ``timeout``.

    Raises TimeoutError when ``until`` never turns true.
    """
    require_main("fake_process_events")
    deadline = time.monotonic() + timeout
    while True:
        if until is not None and until():
            return
        left = deadline - time.monotonic()
        if left <= 0:
            if until is None:
                return
            raise TimeoutError("fake_process_events: condition not met in time")
        try:
            call, args, kwargs, result = session().main_queue.get(timeout=min(left, 0.02))
        except queue.Empty:
            continue
        try:
            value = call(*args, **kwargs)
            if result is not None:
                result.value = value
        except BaseException as exc:  # handed back to the caller that waits, like Nuke does
            if result is None:
                raise
            result.error = exc
        finally:
            if result is not None:
                result.done.set()


def executeInMainThread(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> None:
    """Queue ``call`` for the main thread; returns at once."""
    if not isinstance(args, tuple):
        args = (args,)
    if not gui() or threading.current_thread() is threading.main_thread():
        # Without a GUI Nuke has no event loop to queue on.
        call(*args, **(kwargs or {}))
        return
    session().main_queue.put((call, args, kwargs or {}, None))


def executeInMainThreadWithResult(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> Any:
    """Run ``call`` on the main thread and wait for its result."""
    if not isinstance(args, tuple):
        args = (args,)
    if not gui() or threading.current_thread() is threading.main_thread():
        return call(*args, **(kwargs or {}))
    result = Result()
    session().main_queue.put((call, args, kwargs or {}, result))
    result.done.wait()
    if result.error is not None:
        raise result.error
    return result.value


class ProgressTask:
    """Nuke's progress bar with a cancel button; safe to use from any thread."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.messages: list[str] = []
        self.progress: list[int] = []
        self.fake_cancelled = False
        self.fake_closed = False
        session().progress_tasks.append(self)

    def setMessage(self, message: str) -> None:
        self.messages.append(str(message))

    def setProgress(self, percent: int) -> None:
        if not isinstance(percent, int):
            raise TypeError(f"setProgress expects an int percentage, got {type(percent).__name__}")
        self.progress.append(percent)

    def isCancelled(self) -> bool:
        return self.fake_cancelled

    def fake_cancel(self) -> None:
        """What the artist's click on the task's cancel button does."""
        self.fake_cancelled = True

    def __del__(self) -> None:
        self.fake_closed = True
