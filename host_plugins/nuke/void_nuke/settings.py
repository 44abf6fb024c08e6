"""The panel's answers as a typed value, and the engine job they make (host-free)."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from bridge.client import DEFAULT_ADDRESS
from bridge.protocol import JobSpec

from .errors import SetupError

MASK_MODES = ("mattes", "quadmask", "propagate", "reason")
MASK_MODE_LABELS = {
    "mattes": "mattes (remove + affected)",
    "quadmask": "ready quadmask",
    "propagate": "propagate roto (SAM2)",
    "reason": "reason about effects (VLM)",
}
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
    steps: int = 0                 # 0: the engine's preset
    pass2: bool = False
    mask_mode: str = "mattes"
    engine: str = dataclasses.field(default_factory=default_engine_address)
    transfer: str = "auto"         # frames by path when the engine sees our storage, else by value
    timeout_s: float = dataclasses.field(default_factory=default_timeout)

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
            raise SetupError("Choose an output folder.")
        return self

    @property
    def frames(self) -> tuple:
        return tuple(range(self.first, self.last + 1))


def _spec_fields() -> frozenset:
    return frozenset(f.name for f in dataclasses.fields(JobSpec))


def safe_name(text: str) -> str:
    """A result name the engine accepts (letters, digits, '_', '-', '.')."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._-") or "plate"
    return name[:120]


def build_spec(settings: RemoveSettings, *, plate: str, remove: str, affected: Optional[str] = None,
               name: str, job_key: str) -> JobSpec:
    """The engine job for ``settings`` and rendered/located input patterns (paths on this host).

    In "quadmask" mode ``remove`` is the quadmask sequence. Propagation, reasoning and pass 2
    are sent only to engines whose job spec knows them; otherwise the artist is told what to
    switch off.
    """
    settings.check()
    fields = _spec_fields()
    kw: Dict[str, Any] = {
        "plate": plate, "frames": settings.frames, "prompt": settings.prompt.strip(),
        "out": settings.out_dir, "seed": settings.seed, "steps": settings.steps or None,
        "name": safe_name(name), "job_key": job_key,
    }
    if settings.mask_mode == "quadmask":
        kw["quadmask"] = remove
    else:
        kw["remove"] = remove
        if affected is not None:
            kw["affected"] = affected
    if settings.mask_mode in ("propagate", "reason"):
        if "mask_mode" not in fields:
            raise SetupError(f"This engine cannot {MASK_MODE_LABELS[settings.mask_mode].split(' (')[0]} yet. "
                             "Choose mask mode 'mattes' and roto every frame.")
        kw["mask_mode"] = settings.mask_mode
    if settings.pass2:
        if "pass2" not in fields:
            raise SetupError("This engine does not offer pass 2 yet: untick 'pass 2'.")
        kw["pass2"] = True
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
