"""The fake's session: what one Nuke script holds, and Nuke's main-thread rule.

The session itself is ``nuke.fake_state`` and the GUI flag ``nuke.GUI``: the package's own
globals (``nuke.fake_reset`` replaces them), read here at each call so that every module sees
the current ones.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ._nodes import Node, Root
    from ._threads import FakeTaskRecord
    from ._ui import Menu, ToolBar


class FakeState:
    def __init__(self) -> None:
        from ._nodes import Root  # the nodes module needs this one first

        self.nodes: list[Node] = []
        self.root: Root = Root()
        self.messages: list[str] = []
        self.progress_tasks: list[FakeTaskRecord] = []  # one per ProgressTask made, newest last
        self.main_queue: "queue.Queue[tuple[Callable[..., Any], tuple, dict, Result | None]]" = queue.Queue()
        self.executed: list[tuple[str, int, int]] = []
        self.menus: dict[str, Menu] = {}
        self.toolbars: dict[str, ToolBar] = {}
        self.counters: dict[str, int] = {}
        self.main_thread_calls: list[str] = []


class Result:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


def _package() -> Any:
    return sys.modules[__name__.rpartition(".")[0]]


def session() -> FakeState:
    """The current script (``nuke.fake_state``)."""
    return _package().fake_state


def gui() -> bool:
    """``nuke.GUI``: whether this is an interactive session."""
    return bool(_package().GUI)


def require_main(what: str) -> None:
    if gui() and threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{what} called from thread {threading.current_thread().name!r}: "
            "Nuke's node graph and UI may only be touched from the main thread"
        )
