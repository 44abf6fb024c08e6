"""Backends: what turns a model-space video + quadmask into the result video.

A backend is any object with ``run(video, quadmask, prompt, *, seed, steps, progress, cancel)``
returning float32 (T, H, W, 3) in [0, 1] (the pipeline's array conventions). ``progress(window,
step, total)`` is called per step; ``cancel()`` is polled between steps and a backend that sees it
true raises :class:`Cancelled` (or its own library's Cancelled, which the worker also accepts).

Backends are made by factories registered by name; a factory gets the engine config and is
called once per engine (the model is loaded once and stays resident).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

ProgressFn = Callable[[int, int, int], None]
CancelFn = Callable[[], bool]


class Cancelled(Exception):
    """A job stopped because its cancel was requested."""


class BackendError(RuntimeError):
    """A backend that cannot be made (no model folder, unknown name...)."""


class Backend(Protocol):
    def run(self, video: Any, quadmask: Any, prompt: str, *, seed: int, steps: int,
            progress: ProgressFn | None, cancel: CancelFn | None) -> Any: ...


@dataclass(frozen=True)
class BackendSettings:
    """What a factory may need from the engine config."""

    model: Path | None = None
    device: str = "cpu"
    memory_mode: str = "full"
    window_frames: int = 85


BackendFactory = Callable[[BackendSettings], Backend]
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``name`` available to jobs; a later registration of the same name replaces it."""
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    return sorted(_REGISTRY)


def make_backend(name: str, settings: BackendSettings) -> Backend:
    """Build the backend called ``name``; raises BackendError naming what is missing."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r} (available: {', '.join(backend_names())})") from None
    return factory(settings)


def is_cancellation(exc: BaseException) -> bool:
    """True for our Cancelled and for the pipeline's / preview's own cancellation exceptions."""
    return isinstance(exc, Cancelled) or type(exc).__name__ in ("Cancelled", "PreviewCancelled")


# ---------------------------------------------------------------------------------------------
# Built-in backends. Heavy imports happen inside the factories, so importing this module (and
# the server) stays cheap and a broken optional part cannot break the others.


class VoidBackend:
    """The VOID model, loaded once from a model folder (base + pass 1 [+ pass 2])."""

    def __init__(self, settings: BackendSettings):
        if settings.model is None:
            raise BackendError("the 'void' backend needs a model folder (--model DIR or [worker] model)")
        import torch

        from void_engine.pipeline import VoidPipeline
        from void_engine.pipeline.model_dir import ModelDir

        paths = ModelDir.locate(settings.model)
        base, pass1, pass2 = _model_paths(paths)
        self.window_frames = settings.window_frames
        self.pipe = VoidPipeline.from_pretrained(base, pass1=pass1, pass2=pass2, device=settings.device,
                                                 dtype=torch.float32, memory_mode=settings.memory_mode)

    def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
        return self.pipe(video, quadmask, prompt, seed=seed, num_inference_steps=steps,
                         window_frames=self.window_frames, progress=progress, cancel=cancel)


def _model_paths(paths: Any) -> tuple[Any, Any, Any]:
    """Accept ModelDir.locate's answer as a tuple or as an object with base/pass1/pass2."""
    if isinstance(paths, tuple):
        return paths[0], paths[1], paths[2] if len(paths) > 2 else None
    return paths.base, paths.pass1, getattr(paths, "pass2", None)


class PreviewBackend:
    """The classical preview fill (no weights); one step per frame."""

    def __init__(self, settings: BackendSettings):
        from void_engine.preview import preview_inpaint

        self._fill = preview_inpaint

    def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
        return self._fill(video, quadmask, progress=progress, cancel=cancel)


register_backend("void", VoidBackend)
register_backend("preview", PreviewBackend)
