"""Engine events -> the words and percentage a ``nuke.ProgressTask`` shows (host-free)."""

from __future__ import annotations

from typing import Optional, Tuple

from bridge.protocol import Event

# Share of the bar each engine stage fills: reading is quick, the model is most of the work.
# Building the quadmask (propagation, reasoning) is short next to the model; pass 2 refills the
# model's span, as it takes as long as pass 1.
_SPANS = {
    "resolve": (0, 1),
    "masks": (1, 2),
    "mask-read": (1, 2),
    "propagate": (1, 2),
    "reason": (2, 2),
    "read": (2, 12),
    "model": (12, 90),
    "pass2": (12, 90),
    "write": (90, 100),
}
_STAGE_WORDS = {
    "resolve": "Checking inputs",
    "masks": "Building the quadmask",
    "mask-read": "Reading plate for the mask",
    "propagate": "Propagating the roto",
    "reason": "Asking the reasoner what else it affects",
    "read": "Reading plate",
    "model": "Removing object",
    "pass2": "Refining (pass 2)",
    "write": "Writing result",
}


def describe(event: Event, job: str) -> Optional[Tuple[str, int]]:
    """(message, percent) for ``event``, or None when it changes nothing on screen."""
    if event.kind == "state":
        if event.state == "queued":
            return f"Queued on the engine (job {job})", 0
        if event.state == "running":
            return "Running on the engine", 1
        if event.state == "done":
            return "Done", 100
        if event.state == "cancelled":
            return "Cancelled", 100
        if event.state == "failed":
            return "Failed", 100
        return None
    if event.kind == "stage" and event.stage:
        lo, hi = _SPANS.get(event.stage, (0, 100))
        words = _STAGE_WORDS.get(event.stage, event.stage)
        if event.total:
            done = event.step or 0
            return f"{words} {done}/{event.total}", lo + (hi - lo) * done // max(1, event.total)
        return words, lo
    if event.kind == "step" and event.total:
        lo, hi = _SPANS["model"]
        step = event.step or 0
        window = f" (window {event.window + 1})" if event.window else ""
        return f"Removing object: step {step}/{event.total}{window}", lo + (hi - lo) * step // event.total
    if event.kind == "log" and event.message:
        return event.message, -1
    return None
