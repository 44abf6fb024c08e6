"""Hops to Nuke's main thread: every node, knob and dialog call goes through here.

Nuke's node graph and UI may only be touched from the main thread. A job runs in a worker
thread, so it asks the main thread to do those calls. Under ``nuke -t`` (no GUI) there is no
event loop to hop to and the job runs on the calling thread, so the calls are made directly.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Tuple, TypeVar

import nuke

T = TypeVar("T")


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _must_hop() -> bool:
    return bool(nuke.GUI) and not on_main_thread()


def _capture(fn: Callable[..., Any], args: Tuple[Any, ...]) -> Tuple[bool, Any]:
    """Run on the main thread: ``(True, result)`` or ``(False, the exception)``."""
    try:
        return True, fn(*args)
    except Exception as exc:
        return False, exc


def call(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the main thread and return its result, re-raising its error here.

    ``nuke.executeInMainThreadWithResult`` does not re-raise (Foundry's ``executeInMain.py``
    prints the traceback and returns None), so the error is carried back as a value.
    """
    if not _must_hop():
        return fn(*args)
    carried = nuke.executeInMainThreadWithResult(_capture, (fn, args))
    if not isinstance(carried, tuple):  # Nuke itself failed to run the call, and printed why
        raise RuntimeError(f"Nuke's main thread did not run {getattr(fn, '__name__', fn)!r}")
    ok, value = carried
    if not ok:
        raise value
    result: T = value
    return result


def post(fn: Callable[..., Any], *args: Any) -> None:
    """Queue ``fn(*args)`` on the main thread without waiting (dialogs, final messages)."""
    if _must_hop():
        nuke.executeInMainThread(fn, args)
    else:
        fn(*args)


def show_message(text: str) -> None:
    """``nuke.message`` in GUI sessions; a printed line under ``nuke -t``."""
    if nuke.GUI:
        post(nuke.message, text)
    else:
        print(f"VOID: {text}")
