"""Nuke's threads: the main thread's event loop, calls queued onto it, and ProgressTask."""

from __future__ import annotations

import queue
import threading
import time
import traceback
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
        except Exception as exc:  # handed back to the caller that waits; a queued call's is printed
            if result is None:
                traceback.print_exc()
            else:
                result.error = exc
        finally:
            if result is not None:
                result.done.set()


def _run_reporting(call: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``call`` as Foundry's ``executeInMain.py`` does: an error is printed, never raised."""
    try:
        return call(*args, **kwargs)
    except Exception:
        traceback.print_exc()
        return None


def executeInMainThread(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> None:
    """Queue ``call`` for the main thread; returns at once, also when called on the main thread
    (Nuke runs it from its event loop later). Its errors are printed, not raised."""
    if not isinstance(args, tuple):
        args = (args,)
    if not gui():
        # Without a GUI Nuke has no event loop to queue on.
        _run_reporting(call, args, kwargs or {})
        return
    session().main_queue.put((call, args, kwargs or {}, None))


def executeInMainThreadWithResult(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> Any:
    """Run ``call`` on the main thread and wait for its result.

    As in Foundry's ``executeInMain.py``: an exception in ``call`` is printed with its traceback
    and the result is None (it is not re-raised). Called on the main thread of a GUI session,
    Nuke waits for itself forever; the fake raises instead of hanging the test.
    """
    if not isinstance(args, tuple):
        args = (args,)
    if not gui():
        return _run_reporting(call, args, kwargs or {})
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError(
            "executeInMainThreadWithResult called on the main thread: Nuke would wait for itself (deadlock)"
        )
    result = Result()
    session().main_queue.put((call, args, kwargs or {}, result))
    result.done.wait()
    if result.error is not None:
        print("".join(traceback.format_exception(type(result.error), result.error, result.error.__traceback__)))
        return None
    return result.value


class FakeTaskRecord:
    """What one progress bar showed, kept by the session after its ProgressTask is gone."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.messages: list[str] = []
        self.progress: list[int] = []
        self.fake_cancelled = False
        self.fake_closed = False

    def fake_cancel(self) -> None:
        """What the artist's click on the task's cancel button does."""
        self.fake_cancelled = True


class ProgressTask:
    """Nuke's progress bar with a cancel button; safe to use from any thread.

    Like Nuke's, the bar closes when the object is released (``fake_state.progress_tasks`` keeps
    a :class:`FakeTaskRecord` of it, not the task, so the fake does not keep it alive).
    """

    def __init__(self, title: str = "") -> None:
        self._record = FakeTaskRecord(title)
        session().progress_tasks.append(self._record)

    def setMessage(self, message: str) -> None:
        self._record.messages.append(str(message))

    def setProgress(self, percent: int) -> None:
        if not isinstance(percent, int):
            raise TypeError(f"setProgress expects an int percentage, got {type(percent).__name__}")
        self._record.progress.append(percent)

    def isCancelled(self) -> bool:
        return self._record.fake_cancelled

    def __del__(self) -> None:
        self._record.fake_closed = True
