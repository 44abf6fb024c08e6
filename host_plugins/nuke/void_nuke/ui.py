"""Hops to Nuke's main thread: every node, knob and dialog call goes through here.

Nuke's node graph and UI may only be touched from the main thread. A job runs in a worker
thread, so it asks the main thread to do those calls. Under ``nuke -t`` (no GUI) there is no
event loop to hop to and the job runs on the calling thread, so the calls are made directly.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

import nuke

T = TypeVar("T")


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _must_hop() -> bool:
    return bool(nuke.GUI) and not on_main_thread()


def call(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the main thread and return its result (re-raising its error)."""
    if _must_hop():
        result: T = nuke.executeInMainThreadWithResult(fn, args)
        return result
    return fn(*args)


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
