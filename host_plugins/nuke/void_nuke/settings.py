"""The panel's answers as a typed value, and the engine job they make (host-free)."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from bridge.client import DEFAULT_ADDRESS
from bridge.protocol import MASK_PROPAGATE, MASK_REASON, JobMasks, JobSpec
from bridge.sequences import parse_frame_list

from .errors import SetupError

MASK_MODES = ("mattes", "quadmask", "propagate", "reason")
MASK_MODE_LABELS = {
    "mattes": "mattes (remove + affected)",
    "quadmask": "ready quadmask",
    "propagate": "propagate roto (SAM2)",
    "reason": "reason about effects (VLM)",
}
#: Modes whose roto is drawn on a few key frames and spread over the range by the engine (SAM2).
KEYFRAME_MODES = (MASK_PROPAGATE, MASK_REASON)
TRANSFERS = ("auto", "path", "value")
ENGINE_ENV = "VOID_ENGINE"
TIMEOUT_ENV = "VOID_ENGINE_TIMEOUT"


def default_engine_address() -> str:
    """``$VOID_ENGINE`` when set (studios point every workstation at one engine), else loopback."""
    return os.environ.get(ENGINE_ENV) or DEFAULT_ADDRESS


def default_timeout() -> float:
    """Seconds to wait for an engine reply (``$VOID_ENGINE_TIMEOUT``, default 5; remote sites raise it)."""
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_ENV, "5")))
    except ValueError:
        return 5.0


@dataclass(frozen=True)
class RemoveSettings:
    """Everything the artist chose for one "Remove Object" job."""

    prompt: str
    first: int
    last: int
    out_dir: str
    seed: int = 0
    steps: int = 0  # 0: the engine's preset
    pass2: bool = False
    mask_mode: str = "mattes"
    engine: str = dataclasses.field(default_factory=default_engine_address)
    transfer: str = "auto"  # frames by path when the engine sees our storage, else by value
    timeout_s: float = dataclasses.field(default_factory=default_timeout)
    keyframes: Tuple[int, ...] = ()  # propagate/reason: the frames the roto is drawn on
    instruction: str = ""  # reason: what to remove, in words, for the engine's reasoner

    def check(self) -> "RemoveSettings":
        """Return self, or raise SetupError naming the field to fix."""
        if not self.prompt.strip():
            raise SetupError("Describe the clean background in 'prompt' (e.g. 'empty street, morning light').")
        if self.last < self.first:
            raise SetupError(f"The frame range runs backwards ({self.first}-{self.last}).")
        if self.seed < 0:
            raise SetupError("'seed' must be 0 or more.")
        if not 0 <= self.steps <= 1000:
            raise SetupError("'steps' must be between 1 and 1000 (0 uses the engine's preset).")
        if self.mask_mode not in MASK_MODES:
            raise SetupError(f"Unknown mask mode {self.mask_mode!r}; choose one of {', '.join(MASK_MODES)}.")
        if self.transfer not in TRANSFERS:
            raise SetupError(f"Unknown frame transfer {self.transfer!r}; choose auto, path or value.")
        if not re.match(r"^(tcp|ipc|inproc)://\S+$", self.engine):
            raise SetupError(f"The engine address {self.engine!r} should look like tcp://host:5555.")
        if not self.out_dir:
            raise SetupError(
                "Choose an output folder ('output folder' in the panel, --out in batch). A plate that is "
                "not a Read, in a script not yet saved, has no folder of its own to put results beside."
            )
        if self.mask_mode in KEYFRAME_MODES:
            if not self.keyframes:
                raise SetupError("Give the key frames the roto is drawn on in 'key frames' (e.g. 1001 or 1001,1040).")
            outside = [f for f in self.keyframes if not self.first <= f <= self.last]
            if outside:
                raise SetupError(f"Key frame {outside[0]} is outside the frame range {self.first}-{self.last}.")
        if self.mask_mode == MASK_REASON and not self.instruction.strip():
            raise SetupError(
                "Say what to remove in 'instruction' (e.g. 'the man and his shadow'): "
                "the engine's reasoner works from it."
            )
        return self

    @property
    def frames(self) -> tuple:
        return tuple(range(self.first, self.last + 1))


def parse_keyframes(text: str, default: int) -> Tuple[int, ...]:
    """Key frames from the panel's text (``1001`` or ``1001,1040``); empty means ``default``
    (the frame the artist is looking at). Raises SetupError with the fix."""
    if not text.strip():
        return (int(default),)
    try:
        return tuple(parse_frame_list(text))
    except ValueError as exc:
        raise SetupError(f"'key frames': {exc}") from None


def safe_name(text: str) -> str:
    """A result name the engine accepts (letters, digits, '_', '-', '.')."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._-") or "plate"
    return name[:120]


def check_affected(settings: RemoveSettings, affected: Optional[str]) -> None:
    """An 'affected' matte is a full sequence; the key-frame modes spread one roto, so it cannot
    go with them (the reasoner finds shadows and reflections itself in 'reason' mode)."""
    if affected is not None and settings.mask_mode in KEYFRAME_MODES:
        raise SetupError(
            f"Mask mode '{settings.mask_mode}' spreads one roto from its key frames; the matte "
            f"tagged 'affected' ({affected}) cannot go with it. Untag it, or choose mask mode 'mattes'."
        )


def build_spec(
    settings: RemoveSettings, *, plate: str, remove: str, affected: Optional[str] = None, name: str, job_key: str
) -> JobSpec:
    """The engine job for ``settings`` and rendered/located input patterns (paths on this host).

    In "quadmask" mode ``remove`` is the quadmask sequence; in "propagate"/"reason" it is the
    roto rendered on the key frames only (mask modes (c)/(d): the engine propagates it).
    """
    settings.check()
    check_affected(settings, affected)
    kw: Dict[str, Any] = {
        "plate": plate,
        "frames": settings.frames,
        "prompt": settings.prompt.strip(),
        "out": settings.out_dir,
        "seed": settings.seed,
        "steps": settings.steps or None,
        "name": safe_name(name),
        "job_key": job_key,
        "pass2": settings.pass2,
    }
    if settings.mask_mode == "quadmask":
        kw["quadmask"] = remove
    elif settings.mask_mode in KEYFRAME_MODES:
        reason = settings.mask_mode == MASK_REASON
        kw["masks"] = JobMasks(
            mode=settings.mask_mode,
            roto=remove,
            keyframes=tuple(sorted(settings.keyframes)),
            instruction=settings.instruction.strip() if reason else None,
        )
    else:
        kw["remove"] = remove
        if affected is not None:
            kw["affected"] = affected
    return JobSpec(**kw)


def under_roots(paths: Any, roots: Any) -> bool:
    """True when every path lies inside one of the engine's roots (as this host sees them)."""
    resolved_roots = [Path(r).resolve() for r in roots]
    if not resolved_roots:
        return False
    for p in paths:
        rp = Path(p).resolve()
        if not any(rp == r or r in rp.parents for r in resolved_roots):
            return False
    return True
