"""What the gateway and an engine actor hand each other through Ray (typed, picklable, no numpy).

The gateway sends one :class:`ActorJob` per attempt; the actor's streaming generator answers with
:class:`ActorEvent` (progress, stored in the journal as-is), :class:`ActorFile` (a by-value result
frame, only when the plugin and the engine do not share storage) and exactly one final
:class:`ActorOutcome`. Job failures are outcomes, not exceptions, so the only exception the
gateway sees from an actor means the actor itself died.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# An ObjectRef is kept as Any: this module must import without ray.
ObjectRefLike = Any


@dataclass(frozen=True)
class ActorSettings:
    """What every engine actor needs from the gateway's config, fixed for the actor's life."""

    default_backend: str
    default_steps: int
    model: str | None
    device: str
    memory_mode: str
    window_frames: int
    roots: tuple[str, ...]
    shot_settings: dict[str, Any]
    plugins: tuple[str, ...] = ()
    masks: Any = None  # config.MaskSettings: SAM2 / reasoner settings for the actor's own mask stage
    attention_backend: str = ""  # [worker] speed settings (void_engine.pipeline.speed)
    compile_blocks: bool = False
    compile_cache_dir: str | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> "ActorSettings":
        mask_settings = getattr(cfg, "mask_settings", None)
        return cls(
            default_backend=cfg.backend,
            default_steps=cfg.steps,
            model=str(cfg.model) if cfg.model else None,
            device=cfg.device,
            memory_mode=cfg.memory_mode,
            window_frames=cfg.window_frames,
            roots=tuple(str(r) for r in cfg.roots),
            shot_settings=cfg.shot_settings(),
            plugins=tuple(cfg.plugins),
            masks=mask_settings() if callable(mask_settings) else None,
            attention_backend=getattr(cfg, "attention_backend", ""),
            compile_blocks=bool(getattr(cfg, "compile_blocks", False)),
            compile_cache_dir=str(cfg.compile_cache_dir) if getattr(cfg, "compile_cache_dir", None) else None,
        )


@dataclass(frozen=True)
class InputFile:
    """One uploaded input file, moved to the actor's node through Ray's object store."""

    name: str
    data: ObjectRefLike  # ObjectRef of bytes


@dataclass(frozen=True)
class ActorJob:
    """One attempt of one job. ``inputs`` is set for by-value jobs (the gateway's spool is local)."""

    job_id: str
    spec: dict[str, Any]  # JobSpec.to_wire(): new JobSpec fields flow through untouched
    inputs: tuple[InputFile, ...] | None = None


@dataclass(frozen=True)
class ActorEvent:
    """A progress event, exactly as run_job reported it: ``kind`` plus its fields."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActorFile:
    """One result file of a by-value job (``name`` relative to the version folder, POSIX); the
    gateway writes it into the job's result store."""

    name: str
    data: bytes


@dataclass(frozen=True)
class ActorOutcome:
    """How the attempt ended: ``state`` done/failed/cancelled.

    For a by-path job ``result`` is the published output (paths on the shared storage); for a
    by-value job ``pattern_name`` and ``frames`` describe the files sent as :class:`ActorFile`.
    """

    state: str
    error: str | None = None
    result: dict[str, Any] | None = None
    pattern_name: str | None = None
    frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class EngineInfo:
    """What an actor reports about itself (for `hello`'s backend_state and for logs)."""

    node: str
    pid: int
    gpu_ids: tuple[str, ...]
    backends: tuple[str, ...]
    backend_errors: dict[str, str]
    started: float


def result_files(version_dir: Path) -> list[str]:
    """Every file of a published version folder as a relative POSIX name (``quadmask/x.exr`` too),
    in name order; hidden files are not results."""
    root = Path(version_dir)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def safe_relative(name: str) -> bool:
    """A name a peer may ask us to write under a folder: relative, no '..', no hidden parts."""
    parts = name.split("/")
    return (
        bool(name)
        and not name.startswith("/")
        and all(p and p not in (".", "..") and not p.startswith(".") for p in parts)
    )
