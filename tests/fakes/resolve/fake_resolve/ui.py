"""Fake ``fusion.UIManager`` and ``bmd.UIDispatcher``: windows, elements, timers, the event loop.

Real shapes: ``ui.VGroup([props,] children)``, ``ui.Label({...})``, ``ui.Timer({"ID", "Interval"})``,
``disp = bmd.UIDispatcher(ui)``, ``win = disp.AddWindow(props, root)``, ``win.GetItems()[id]``,
``win.On.<ID>.Clicked = fn``, ``win.On.<WindowID>.Close = fn``, ``win.On[<TimerID>].Timeout = fn``,
``disp.On.Timeout = fn``, ``disp.RunLoop()`` / ``disp.ExitLoop()``, ``timer.Start()`` / ``Stop()``.

Where a timer's tick goes differs between builds: on the window, under the timer's ID, or on
the dispatcher; :attr:`UIDispatcher.timer_delivery` picks ("window" by default, "dispatcher",
"both"), so a plugin that listens in one place only fails a test.

The artist is simulated by an :class:`Artist` consulted on every turn of ``RunLoop``; the loop
gives up (raises :class:`LoopTimeout`) after ``max_loop_s`` so a plugin that never finishes
fails its test instead of hanging it. Element changes from a thread other than the loop's are
recorded in ``Window.off_thread`` (UIManager is not thread-safe).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


class LoopTimeout(RuntimeError):
    """RunLoop ran longer than the test allows: the plugin would hang Resolve."""


class _Handlers:
    """``win.On.<ID>.<Event> = fn`` storage."""

    def __init__(self) -> None:
        object.__setattr__(self, "_by_id", {})

    def __getattr__(self, name: str) -> "_EventSlots":
        by_id = object.__getattribute__(self, "_by_id")
        return by_id.setdefault(name, _EventSlots())

    def __setattr__(self, name: str, value: Any) -> None:
        # disp.On.Timeout = fn (an event without an element ID)
        self.__getattr__("_any").__setattr__(name, value)

    def __getitem__(self, name: str) -> "_EventSlots":
        return self.__getattr__(name)

    def handler(self, element_id: str, event: str) -> Callable[[Any], Any] | None:
        slots = object.__getattribute__(self, "_by_id").get(element_id)
        return None if slots is None else slots.__dict__.get(event)


class _EventSlots:
    pass


class Element:
    """A UI element; properties are attributes (``Text``, ``Enabled``...), changes are kept."""

    def __init__(self, kind: str, props: dict[str, Any], window: "Window | None" = None):
        self.__dict__["kind"] = kind
        self.__dict__["props"] = dict(props)
        self.__dict__["history"] = []
        self.__dict__["window"] = window
        self.__dict__["children"] = []
        self.props.setdefault("Enabled", True)

    @property
    def ID(self) -> str | None:
        return self.props.get("ID")

    def __getattr__(self, name: str) -> Any:
        props = self.__dict__["props"]
        if name in props:
            return props[name]
        raise AttributeError(f"{self.kind} has no property {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        window = self.__dict__["window"]
        if window is not None and window.loop_thread is not None and threading.get_ident() != window.loop_thread:
            window.off_thread.append(f"{self.props.get('ID')}.{name}")
        self.props[name] = value
        self.history.append((name, value))


class Timer:
    def __init__(self, props: dict[str, Any]):
        self.ID = props["ID"]
        self.Interval = int(props.get("Interval", 0))
        self.SingleShot = bool(props.get("SingleShot", False))
        self.active = False
        self.next_due = 0.0
        self.fired = 0

    def Start(self) -> None:
        self.active = True
        self.next_due = time.monotonic() + self.Interval / 1000.0

    def Stop(self) -> None:
        self.active = False

    def GetIsActive(self) -> bool:
        return self.active


class UIManager:
    def __init__(self) -> None:
        self.timers: list[Timer] = []

    def _group(self, kind: str, *args: Any) -> Element:
        props, children = ({}, args[0]) if len(args) == 1 else (args[0], args[1])
        el = Element(kind, props)
        el.children.extend(children)
        return el

    def VGroup(self, *args: Any) -> Element:
        return self._group("VGroup", *args)

    def HGroup(self, *args: Any) -> Element:
        return self._group("HGroup", *args)

    def Label(self, props: dict[str, Any]) -> Element:
        return Element("Label", props)

    def LineEdit(self, props: dict[str, Any]) -> Element:
        return Element("LineEdit", props)

    def Button(self, props: dict[str, Any]) -> Element:
        return Element("Button", props)

    def Timer(self, props: dict[str, Any]) -> Timer:
        timer = Timer(props)
        self.timers.append(timer)
        return timer


class Window:
    def __init__(self, disp: "UIDispatcher", props: dict[str, Any], root: Element):
        self.disp = disp
        self.props = props
        self.ID = props.get("ID", "Window")
        self.On = _Handlers()
        self.items: dict[str, Element] = {}
        self.shown = False
        self.loop_thread: int | None = None
        self.off_thread: list[str] = []
        self.events: list[tuple[str, str]] = []
        self._collect(root)

    def _collect(self, el: Element) -> None:
        el.__dict__["window"] = self
        if el.ID:
            self.items[el.ID] = el
        for child in el.children:
            self._collect(child)

    def GetItems(self) -> dict[str, Element]:
        return dict(self.items)

    def Find(self, element_id: str) -> Element | None:
        return self.items.get(element_id)

    def Show(self) -> None:
        self.shown = True

    def Hide(self) -> None:
        self.shown = False

    def fire(self, element_id: str, event: str) -> None:
        """What the artist's click does: call the handler on the loop's thread."""
        if element_id in self.items and not self.items[element_id].props.get("Enabled", True):
            return  # a disabled button cannot be clicked
        self.events.append((element_id, event))
        fn = self.On.handler(element_id, event)
        if fn is not None:
            self.disp.call_handler(fn, {"who": element_id, "what": event, "window": self.ID})

    def status_texts(self, element_id: str = "Status") -> list[str]:
        el = self.items.get(element_id)
        return [] if el is None else [v for k, v in el.history if k == "Text"]


@dataclass
class Artist:
    """Who clicks: ``start`` presses Remove; ``cancel_when`` presses Cancel once the Status
    text contains it; ``close`` presses Close when the run has finished."""

    start: bool = True
    cancel_when: str | None = None
    close: bool = True
    clicked: list[str] = field(default_factory=list)

    def act(self, win: Window) -> list[tuple[str, str]]:
        items = win.items
        out: list[tuple[str, str]] = []
        if self.start and "Start" not in self.clicked and "Start" in items and items["Start"].props.get("Enabled"):
            self.clicked.append("Start")
            out.append(("Start", "Clicked"))
        status = str(items["Status"].props.get("Text", "")) if "Status" in items else ""
        if (
            self.cancel_when
            and "Cancel" not in self.clicked
            and self.cancel_when in status
            and items["Cancel"].props.get("Text") == "Cancel"
        ):
            self.clicked.append("Cancel")
            out.append(("Cancel", "Clicked"))
        if (
            self.close
            and "Cancel" in items
            and items["Cancel"].props.get("Text") == "Close"
            and items["Cancel"].props.get("Enabled")
        ):
            self.clicked.append("Close")
            out.append(("Cancel", "Clicked"))
        return out


def artist_from_env() -> Artist:
    """``VOID_FAKE_ARTIST``: ``run`` (default) or ``cancel-on:<text>``."""
    spec = os.environ.get("VOID_FAKE_ARTIST", "run")
    if spec.startswith("cancel-on:"):
        return Artist(cancel_when=spec.split(":", 1)[1])
    return Artist()


class UIDispatcher:
    """``bmd.UIDispatcher(ui)``."""

    max_loop_s: float | None = None  # None: VOID_FAKE_MAX_LOOP_S, else 60 s
    artist: Artist | None = None
    timer_delivery: str = "window"  # where timer ticks go: "window" (win.On[TimerID]), "dispatcher", "both"

    def __init__(self, ui: UIManager):
        self.ui = ui
        self.On = _Handlers()
        self.windows: list[Window] = []
        self._exit = False
        self.handler_seconds: list[tuple[str, float]] = []

    def AddWindow(self, props: dict[str, Any], root: Element) -> Window:
        win = Window(self, props, root)
        self.windows.append(win)
        DISPATCHERS.append(self)
        return win

    def ExitLoop(self) -> None:
        self._exit = True

    def call_handler(self, fn: Callable[[Any], Any], ev: dict[str, Any]) -> None:
        t0 = time.monotonic()
        fn(ev)
        self.handler_seconds.append((f"{ev.get('who')}.{ev.get('what')}", time.monotonic() - t0))

    def _timer_handlers(self, timer_id: str) -> list[Callable[[Any], Any]]:
        found = []
        if self.timer_delivery in ("window", "both"):
            found += [w.On.handler(timer_id, "Timeout") for w in self.windows]
        if self.timer_delivery in ("dispatcher", "both"):
            found.append(self.On.handler("_any", "Timeout"))
        return [fn for fn in found if fn is not None]

    def RunLoop(self) -> None:
        artist = self.artist or artist_from_env()
        self.artist = artist
        me = threading.get_ident()
        for win in self.windows:
            win.loop_thread = me
        limit = self.max_loop_s or float(os.environ.get("VOID_FAKE_MAX_LOOP_S", "60"))
        deadline = time.monotonic() + limit
        self._exit = False
        while not self._exit:
            if time.monotonic() > deadline:
                raise LoopTimeout(f"the script's window was still open after {limit:g} s")
            for win in self.windows:
                if win.shown:
                    for element_id, event in artist.act(win):
                        win.fire(element_id, event)
                        if self._exit:
                            return
            now = time.monotonic()
            for timer in self.ui.timers:
                if timer.active and now >= timer.next_due:
                    timer.fired += 1
                    timer.next_due = now + timer.Interval / 1000.0
                    if timer.SingleShot:
                        timer.active = False
                    for fn in self._timer_handlers(timer.ID):
                        self.call_handler(fn, {"who": timer.ID, "what": "Timeout"})
            time.sleep(0.005)


DISPATCHERS: list[UIDispatcher] = []


class BMD:
    """The ``bmd`` module object Resolve puts in a script's globals."""

    def __init__(self, apps: dict[str, Any] | None = None):
        self.apps = apps or {}

    def UIDispatcher(self, ui: UIManager) -> UIDispatcher:
        return UIDispatcher(ui)

    def scriptapp(self, name: str) -> Any:
        return self.apps.get(name)
