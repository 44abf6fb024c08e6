"""One engine job followed in a background thread, so Resolve's UI never waits on the engine.

The thread owns its :class:`bridge.client.EngineClient` (ZeroMQ sockets are not thread-safe)
and talks to the UI only through a queue of :class:`Progress` and a final :class:`Outcome`;
the UI drains the queue from a timer on its own thread. Cancel is a flag the thread checks
at least every ``poll_s`` seconds, then it asks the engine to cancel.
"""

from __future__ import annotations

import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Callable, Union

from bridge.client import EngineClient, EngineUnavailable, default_token
from bridge.protocol import DONE, Event, JobSpec, ProtocolError

UNREACHABLE = "unreachable"
OUTCOMES = ("done", "failed", "cancelled", UNREACHABLE)


@dataclass(frozen=True)
class Progress:
    """A progress line for the window: text, and the fraction done when known."""

    text: str
    fraction: float | None = None


@dataclass(frozen=True)
class Outcome:
    """How the job ended. ``pattern``/``frames`` are the result sequence when ``state`` is done;
    ``version`` the engine's version folder of it (``v003``), also when the frames were fetched."""

    state: str
    message: str
    job: str | None = None
    pattern: str | None = None
    frames: tuple[int, ...] = ()
    version: str | None = None


Update = Union[Progress, Outcome]
ClientFactory = Callable[[str, float], EngineClient]


def _default_client(address: str, timeout: float) -> EngineClient:
    return EngineClient(address, timeout=timeout, token=default_token())


def describe_event(ev: Event) -> Progress | None:
    """A line for the artist from one engine event (None for events not worth showing)."""
    if ev.kind == "step" and ev.step is not None and ev.total:
        window = f"window {ev.window + 1}, " if ev.window else ""
        return Progress(f"Removing: {window}step {ev.step}/{ev.total}", ev.step / ev.total)
    if ev.kind == "stage" and ev.stage:
        words = {
            "resolve": "Checking frames",
            "masks": "Building the quadmask",
            "mask-read": "Reading plate for the mask",
            "propagate": "Propagating the roto",
            "reason": "Asking the reasoner what else the object affects",
            "read": "Reading plate",
            "model": "Running the model",
            "pass2": "Refining (pass 2)",
            "write": "Writing result",
        }
        return Progress(f"{words.get(ev.stage, ev.stage.capitalize())}...")
    if ev.kind == "log" and ev.message:  # e.g. why the reasoning was skipped
        return Progress(ev.message)
    if ev.kind == "state" and ev.state in ("queued", "running"):
        return Progress("Waiting in the engine's queue..." if ev.state == "queued" else "Running...")
    return None


class EngineJob(threading.Thread):
    """Submit ``spec`` to the engine at ``address`` and follow it to the end.

    ``fetch_to``: when set (frames by value), the result is copied there and the Outcome's
    pattern names the local copy. The final update on :attr:`updates` is always an Outcome.
    """

    def __init__(
        self,
        spec: JobSpec,
        address: str,
        *,
        timeout_s: float = 5.0,
        by_value: bool = False,
        fetch_to: Path | None = None,
        poll_s: float = 0.25,
        client_factory: ClientFactory = _default_client,
    ):
        super().__init__(name="void-resolve-job", daemon=True)
        self.spec = spec
        self.address = address
        self.timeout_s = timeout_s
        self.by_value = by_value
        self.fetch_to = fetch_to
        self.poll_s = poll_s
        self.client_factory = client_factory
        self.updates: "queue.Queue[Update]" = queue.Queue()
        self._cancel = threading.Event()
        self.job_id: str | None = None

    def request_cancel(self) -> None:
        """Ask for the job to stop (safe from any thread; returns at once)."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def drain(self) -> list[Update]:
        """Every update queued so far (call from the UI thread)."""
        out: list[Update] = []
        while True:
            try:
                out.append(self.updates.get_nowait())
            except queue.Empty:
                return out

    def _post(self, update: Update) -> None:
        self.updates.put(update)

    def run(self) -> None:
        try:
            self._post(self._follow())
        except EngineUnavailable:
            self._post(Outcome(UNREACHABLE, self._unreachable_message(), self.job_id))
        except ProtocolError as exc:
            self._post(Outcome("failed", f"The engine refused the job: {exc.message}", self.job_id))
        except Exception as exc:  # the UI must always get an Outcome, never a silent thread death
            self._post(
                Outcome("failed", f"Unexpected error talking to the engine: {type(exc).__name__}: {exc}", self.job_id)
            )

    def _unreachable_message(self) -> str:
        return (
            f"No VOID engine answered at {self.address} within {self.timeout_s:g} s. "
            "Start one with `void-engine serve` (or set VOID_ENGINE to its address) and run the script again."
        )

    def _follow(self) -> Outcome:
        self._post(Progress(f"Connecting to the engine at {self.address}..."))
        client = self.client_factory(self.address, self.timeout_s)
        try:
            client.hello()
            if self._cancel.is_set():
                return Outcome("cancelled", "Cancelled before the job was sent.")
            self._post(Progress("Sending frames..." if self.by_value else "Submitting..."))
            self.job_id = client.submit(self.spec, by_value=self.by_value)
            self._post(Progress(f"Job {self.job_id} queued"))
            state = self._watch(client, self.job_id)
            status = client.status(self.job_id)
            if state != DONE or status.state != DONE:
                final = status.state if status.state in OUTCOMES else state
                if final == "cancelled":
                    return Outcome("cancelled", f"Cancelled (job {self.job_id}); nothing was written.", self.job_id)
                reason = status.error or "the engine gave no reason"
                return Outcome("failed", f"The engine could not finish job {self.job_id}: {reason}", self.job_id)
            if self.fetch_to is not None:
                self._post(Progress("Fetching the result..."))
                fetched = client.fetch(self.job_id, self.fetch_to)
                pattern = fetched.local_pattern or fetched.pattern
                frames = fetched.frames
            else:
                fetched = client.fetch(self.job_id)
                pattern, frames = fetched.pattern, fetched.frames
            folder = PurePath(fetched.pattern).parent.name  # the engine's own path, even when fetched
            version = folder if re.match(r"v\d+$", folder) else None
            message = f"Done: {pattern} ({frames[0]}-{frames[-1]})"
            return Outcome(DONE, message, self.job_id, pattern, tuple(frames), version)
        finally:
            client.close()

    def _watch(self, client: EngineClient, job: str) -> str:
        """Follow events until a final state; send a cancel as soon as one is requested."""
        cancel_sent = False
        shown_last: Progress | None = None

        def send_cancel_if_asked() -> None:
            nonlocal cancel_sent
            if self._cancel.is_set() and not cancel_sent:
                self._post(Progress("Cancelling..."))
                client.cancel(job)
                cancel_sent = True

        # The engine may restart mid-job; the job is in its journal, so events() reconnects and
        # keeps asking for a while before giving up.
        for ev in client.events(job, wait=self.poll_s, give_up_after=6 * self.timeout_s, on_poll=send_cancel_if_asked):
            if ev.terminal:
                return str(ev.state)
            shown = describe_event(ev)
            if shown is not None and shown != shown_last:
                self._post(shown)
                shown_last = shown
        raise EngineUnavailable(f"the engine's event stream for job {job} ended without a final state")
