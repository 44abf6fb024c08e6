"""The run of one action: a small UIManager window (or the console when headless).

Shared by the Fusion and Edit-page scripts. An :class:`Action` knows its host: ``summary``
says what will be sent, ``start`` does the host-side work (renders) and returns the running
:class:`EngineJob` (or a :class:`Pending` render that hands one over when Resolve has
finished), ``finish`` brings a done result into the host. This module owns the
threading rule: host objects are touched only on the thread that runs the script (the
dispatcher's loop); the engine is only talked to from the job's thread; a UI timer moves
updates from one to the other.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

if sys.version_info >= (3, 8):
    from typing import Protocol
else:  # Python 3.7 (Resolve uses the machine's Python 3) has no typing.Protocol; the classes
    Protocol = object  # below are only type annotations, so a plain base does at run time.

from .engine_job import EngineJob, Outcome, Progress

WINDOW_ID = "VoidRemoveObject"
TIMER_ID = "VoidPoll"


class Pending(Protocol):
    """Host work still running when ``start`` returns (a render queue job); polled on the host's
    thread until it hands over the engine job."""

    def poll(self) -> EngineJob | None: ...

    def progress_text(self) -> str: ...

    def abort(self) -> None: ...


class Action(Protocol):
    title: str

    def summary(self) -> str: ...

    def start(self, prompt: str) -> "EngineJob | Pending": ...

    def finish(self, outcome: Outcome) -> str: ...

    def release(self, state: str) -> None:
        """The run ended as ``state``: remove what it no longer needs (its plate/matte renders)."""


CANCELLED_BEFORE = "Cancelled while Resolve rendered the plate; nothing was sent to the engine."


@dataclass
class RunRecord:
    """What happened, for the console, the caller and tests."""

    state: str = "not started"  # error | done | failed | cancelled | unreachable | closed
    message: str = ""
    messages: list[str] = field(default_factory=list)
    job: str | None = None

    def log(self, text: str) -> None:
        self.messages.append(text)
        print(f"[VOID] {text}", flush=True)


def bar(fraction: float | None, width: int = 20) -> str:
    """A text progress bar (UIManager has no progress widget that all versions share)."""
    if fraction is None:
        return ""
    filled = max(0, min(width, round(fraction * width)))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction * 100:3.0f}%"


def _finish(action: Action, outcome: Outcome, record: RunRecord) -> str:
    record.job = outcome.job
    if outcome.state != "done":
        record.state = outcome.state
        return outcome.message
    try:
        text = action.finish(outcome)
        record.state = "done"
        return text
    except Exception as exc:
        record.state = "failed"
        traceback.print_exc()
        return f"The result is ready ({outcome.pattern}) but bringing it in failed: {exc}"


def run_headless(
    prepare: Callable[[], Action],
    prompt: str | None = None,
    *,
    poll_s: float = 0.1,
    cancel_after_s: float | None = None,
) -> RunRecord:
    """Run without a window (``resolve -nogui``, batch): console progress, blocking until done.

    ``cancel_after_s``: cancel the job after that long (batch time limits).
    """
    record = RunRecord()
    try:
        action = prepare()
    except Exception as exc:
        record.state, record.message = "error", str(exc)
        record.log(record.message)
        return record
    try:
        return _run_headless(action, record, prompt, poll_s, cancel_after_s)
    finally:
        action.release(record.state)


def _run_headless(
    action: Action, record: RunRecord, prompt: str | None, poll_s: float, cancel_after_s: float | None
) -> RunRecord:
    record.log(action.summary())
    started = time.monotonic()

    def cancel_due() -> bool:
        return cancel_after_s is not None and time.monotonic() - started > cancel_after_s

    try:
        begun = action.start(prompt or "")
        while not isinstance(begun, EngineJob):
            if cancel_due():
                begun.abort()
                record.state, record.message = "cancelled", CANCELLED_BEFORE
                record.log(record.message)
                return record
            job = begun.poll()
            if job is None:
                time.sleep(poll_s)
                continue
            begun = job
    except Exception as exc:
        record.state, record.message = "error", str(exc)
        record.log(record.message)
        return record
    job = begun
    while True:
        if cancel_due():
            job.request_cancel()
        for update in job.drain():
            if isinstance(update, Progress):
                record.log(f"{update.text} {bar(update.fraction)}".rstrip())
            else:
                record.message = _finish(action, update, record)
                record.log(record.message)
                return record
        time.sleep(poll_s)


class WindowSession:
    """The window: status line, prompt, [Remove] and [Cancel]/[Close]; a timer polls the job."""

    def __init__(self, fusion: Any, bmd: Any, prompt: str, title: str = "VOID Remove Object", poll_ms: int = 150):
        self.ui = fusion.UIManager
        self.disp = bmd.UIDispatcher(self.ui)
        self.record = RunRecord()
        self.action: Action | None = None
        self.job: EngineJob | None = None
        self.pending: Pending | None = None
        self.poll_ms = poll_ms
        self.win = self.disp.AddWindow(
            {"ID": WINDOW_ID, "WindowTitle": title, "Geometry": [200, 200, 520, 190]},
            self.ui.VGroup(
                {"Spacing": 6},
                [
                    self.ui.Label({"ID": "Summary", "Text": "", "WordWrap": True}),
                    self.ui.HGroup(
                        {"Weight": 0},
                        [
                            self.ui.Label({"Text": "Prompt", "Weight": 0}),
                            self.ui.LineEdit(
                                {
                                    "ID": "Prompt",
                                    "Text": prompt,
                                    "PlaceholderText": "describe the background left behind",
                                }
                            ),
                        ],
                    ),
                    self.ui.Label({"ID": "Status", "Text": "", "WordWrap": True}),
                    self.ui.HGroup(
                        {"Weight": 0},
                        [
                            self.ui.Button({"ID": "Start", "Text": "Remove"}),
                            self.ui.Button({"ID": "Cancel", "Text": "Cancel"}),
                        ],
                    ),
                ],
            ),
        )
        self.items = self.win.GetItems()
        self.timer = self.ui.Timer({"ID": TIMER_ID, "Interval": poll_ms})
        self.win.On.Start.Clicked = self._on_start
        self.win.On.Cancel.Clicked = self._on_cancel
        getattr(self.win.On, WINDOW_ID).Close = self._on_close
        # Builds differ in where a tick arrives: on the window under the timer's ID, or on the
        # dispatcher. Listen on both; a tick delivered twice only polls twice (polls are idempotent).
        getattr(self.win.On, TIMER_ID).Timeout = self._on_timeout
        self.disp.On.Timeout = self._on_timeout

    # -- what the artist sees ------------------------------------------------------------------

    def _status(self, text: str) -> None:
        self.items["Status"].Text = text
        self.record.log(text)

    def _done(self, text: str) -> None:
        self.record.message = text
        self._status(text)
        self.items["Start"].Enabled = False
        self.items["Cancel"].Text = "Close"

    # -- events (all on the dispatcher's thread) ------------------------------------------------

    def _on_start(self, ev: Any) -> None:
        if self.action is None or self.job is not None or self.pending is not None:
            return
        self.items["Start"].Enabled = False
        self.items["Prompt"].Enabled = False
        self._status("Rendering plate and mattes...")
        try:
            begun = self.action.start(str(self.items["Prompt"].Text))
        except Exception as exc:
            self.record.state = "error"
            self._done(str(exc))
            return
        if isinstance(begun, EngineJob):
            self.job = begun
        else:
            self.pending = begun
        self.timer.Start()

    def _running(self) -> bool:
        return self.record.state == "not started" and (self.pending is not None or self.job is not None)

    def _on_cancel(self, ev: Any) -> None:
        if self._running() and self.pending is not None:
            self.pending.abort()
            self.pending = None
            self.timer.Stop()
            self.record.state = "cancelled"
            self._done(CANCELLED_BEFORE)
            return
        if self._running() and self.job is not None and self.job.is_alive():
            self.job.request_cancel()
            self.items["Cancel"].Enabled = False
            self._status("Cancelling...")
            return
        self.disp.ExitLoop()

    def _on_close(self, ev: Any) -> None:
        if self._running():
            # Closing the window abandons the work: stop Resolve's render or tell the engine.
            if self.pending is not None:
                self.pending.abort()
            if self.job is not None:
                self.job.request_cancel()
            self.record.state = "closed"
        self.disp.ExitLoop()

    def _poll_pending(self) -> None:
        assert self.pending is not None
        try:
            job = self.pending.poll()
        except Exception as exc:
            self.pending = None
            self.timer.Stop()
            self.record.state = "error"
            self._done(str(exc))
            return
        if job is None:
            text = self.pending.progress_text()
            if text != self.items["Status"].Text:
                self._status(text)
            return
        self.pending, self.job = None, job

    def _on_timeout(self, ev: Any) -> None:
        # Give the job's thread the interpreter for a moment: if the host's event loop holds
        # the GIL between events, the thread would otherwise only run during our handlers.
        time.sleep(0.002)
        if self.pending is not None:
            self._poll_pending()
        if self.job is None or self.action is None:
            return
        for update in self.job.drain():
            if isinstance(update, Progress):
                self._status(f"{update.text} {bar(update.fraction)}".rstrip())
            else:
                self.timer.Stop()
                self.items["Cancel"].Enabled = True
                self._done(_finish(self.action, update, self.record))
                return

    # -- entry -----------------------------------------------------------------------------------

    def run(self, prepare: Callable[[], Action]) -> RunRecord:
        """Prepare the action (errors are shown, not raised), then run the window's loop."""
        try:
            self.action = prepare()
            self.items["Summary"].Text = self.action.summary()
            self.record.log(self.action.summary())
        except Exception as exc:
            self.record.state = "error"
            self.items["Prompt"].Enabled = False
            self._done(str(exc))
        self.win.Show()
        try:
            self.disp.RunLoop()
        finally:
            self.timer.Stop()
            self.win.Hide()
            if self.action is not None:
                self.action.release(self.record.state)
        return self.record
