"""Engine events -> the words and percentage a ``nuke.ProgressTask`` shows (host-free)."""

from __future__ import annotations

from typing import Optional, Tuple

from bridge.protocol import Event

# Share of the bar each engine stage fills, in the order the engine runs them: reading is
# quick, the model is most of the work. Building the quadmask (propagation, reasoning) is short
# next to the model. With pass 2 the model's span is shared by the two passes (pass 2 takes as
# long as pass 1). "queued"/"running" take 0 and 1.
_SPANS = {
    "resolve": (1, 2),
    "masks": (2, 4),
    "mask-read": (2, 3),
    "propagate": (3, 4),
    "reason": (3, 4),
    "read": (4, 12),
    "model": (12, 90),
    "pass2": (90, 90),
    "write": (90, 100),
}
_PASS2_SPANS = {"model": (12, 51), "pass2": (51, 90)}
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
#: stages whose own count is not the model's steps (those come as step events)
_STEP_STAGES = ("model", "pass2")


class ProgressView:
    """Engine events of one job -> the words and percentage a ``nuke.ProgressTask`` shows.

    The percentage never goes back (a stage that reports late cannot pull the bar down), and
    the model's step events are worded after the pass they belong to.
    """

    def __init__(self, job: str, pass2: bool = False) -> None:
        self.job = job
        self.spans = dict(_SPANS, **(_PASS2_SPANS if pass2 else {}))
        self.stage = "model"
        self.percent = 0

    def show(self, event: Event) -> Optional[Tuple[str, int]]:
        """(message, percent) for ``event``, or None when it changes nothing on screen; a log
        line keeps the current percentage."""
        shown = self._describe(event)
        if shown is None:
            return None
        text, percent = shown
        if percent < 0:
            return text, self.percent
        self.percent = max(self.percent, min(100, percent))
        return text, self.percent

    def _describe(self, event: Event) -> Optional[Tuple[str, int]]:
        if event.kind == "state":
            if event.state == "queued":
                return f"Queued on the engine (job {self.job})", 0
            if event.state == "running":
                return "Running on the engine", 1
            if event.state in ("done", "cancelled", "failed"):
                return str(event.state).capitalize(), 100
            return None
        if event.kind == "stage" and event.stage:
            if event.stage in self.spans and event.stage in _STEP_STAGES:
                self.stage = event.stage
            lo, hi = self.spans.get(event.stage, (self.percent, self.percent))
            words = _STAGE_WORDS.get(event.stage, event.stage)
            if event.total and event.stage not in _STEP_STAGES:
                done = event.step or 0
                return f"{words} {done}/{event.total}", lo + (hi - lo) * done // max(1, event.total)
            return words, lo
        if event.kind == "step" and event.total:
            lo, hi = self.spans[self.stage]
            step = event.step or 0
            window = f" (window {event.window + 1})" if event.window else ""
            words = _STAGE_WORDS[self.stage]
            return f"{words}: step {step}/{event.total}{window}", lo + (hi - lo) * step // event.total
        if event.kind == "log" and event.message:
            return event.message, -1
        return None
