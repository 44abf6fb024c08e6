"""Frame maths of an Edit-page clip: source in/out, handles, and where the result goes.

Resolve's conventions (scripting README and measured behaviour): ``GetStart``/``GetEnd`` are
record frames on the timeline, ``GetEnd`` exclusive; ``GetSourceStartFrame`` is the first
source frame used; ``GetLeftOffset``/``GetRightOffset`` are how many frames of media lie
beyond the cut on each side (the handles available); ``AppendToTimeline`` takes an exclusive
``endFrame`` and an absolute ``recordFrame``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sequences import FrameRange


@dataclass(frozen=True)
class ClipCut:
    """How a timeline item uses its media (all whole frames)."""

    record_start: int  # first record frame on the timeline
    duration: int  # frames on the timeline
    source_start: int  # first source frame used (GetSourceStartFrame)
    left_available: int  # media frames before the cut (GetLeftOffset)
    right_available: int  # media frames after the cut (GetRightOffset)

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise ValueError(f"the clip has no frames on the timeline (duration {self.duration})")
        if self.left_available < 0 or self.right_available < 0:
            raise ValueError("handles available cannot be negative")


@dataclass(frozen=True)
class HandlePlan:
    """The source frames to send (cut plus handles) and how to lay the result back."""

    cut: ClipCut
    left: int  # handle frames sent before the cut
    right: int  # handle frames sent after the cut

    @property
    def source(self) -> FrameRange:
        """Source frames sent to the engine, handles included."""
        first = self.cut.source_start - self.left
        return FrameRange(first, self.cut.source_start + self.cut.duration - 1 + self.right)

    @property
    def cut_in_result(self) -> tuple[int, int]:
        """(startFrame, endFrame exclusive) of the cut inside the result clip, counted from 0."""
        return self.left, self.left + self.cut.duration

    @property
    def record_range(self) -> tuple[int, int]:
        """(first record frame, exclusive end) the result covers on the timeline."""
        return self.cut.record_start, self.cut.record_start + self.cut.duration


def plan_handles(cut: ClipCut, wanted: int) -> HandlePlan:
    """Send ``wanted`` handle frames each side, or as many as the media has."""
    if wanted < 0:
        raise ValueError(f"handles must be >= 0, got {wanted}")
    return HandlePlan(cut, min(wanted, cut.left_available), min(wanted, cut.right_available))


def fusion_render_range(attrs: dict[str, object]) -> FrameRange:
    """The comp's render range from ``comp.GetAttrs()`` (``COMPN_RenderStart``/``End``, floats)."""
    try:
        start = attrs["COMPN_RenderStart"]
        end = attrs["COMPN_RenderEnd"]
    except KeyError as exc:
        raise ValueError(f"the comp reports no render range ({exc.args[0]} missing)") from None
    if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
        raise ValueError(f"the comp's render range is not numeric: {start!r}-{end!r}")
    if int(start) != start or int(end) != end:
        raise ValueError(f"the comp's render range {start}-{end} is not whole frames")
    return FrameRange(int(start), int(end))
