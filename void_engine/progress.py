"""How every long-running stage reports progress and is stopped: the callable types and the one Cancelled.

The model stages (the VOID pipeline, the preview fill, any backend) call ``progress(window, step,
total)``; stages made of named parts (plate reading, mask building, the job runner) call
``progress(stage, done, total)``. Every stage polls ``cancel()`` between units of work and, when it
answers True, raises :class:`Cancelled`, so the engine tells a cancelled job from a failed one with
a plain ``isinstance``.

A leaf module: it imports nothing from the rest of void_engine, so any layer may import it.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int, int], None]
"""``progress(window, step, total)``: ``step`` of ``total`` done in multidiffusion ``window``."""

StageProgress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: ``done`` of ``total`` units of the stage named ``stage``."""

CancelFn = Callable[[], bool]
"""``cancel()``: True once the caller wants the work stopped."""


class Cancelled(Exception):
    """The work stopped because its ``cancel()`` answered True; the message says where it stopped."""
