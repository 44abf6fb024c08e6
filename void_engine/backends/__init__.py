"""Backends: what turns a model-space video + quadmask into the result video.

A backend is any object with ``run(video, quadmask, prompt, *, seed, steps, progress, cancel)``
returning float32 (T, H, W, 3) in [0, 1] (the pipeline's array conventions). ``progress(window,
step, total)`` is called per step; ``cancel()`` is polled between steps and a backend that sees it
true raises :class:`void_engine.progress.Cancelled` (the one every stage raises).

Backends are made by factories registered by name; a factory gets the engine config and is
called once per engine (the model is loaded once and stays resident).

Pass 2 (VOID's refinement) is optional: a backend that offers it has ``refine(video, quadmask,
prompt, first_pass, *, seed, steps, progress, cancel)``, and its factory a static
``pass2_problem(settings) -> str | None`` that says, without loading anything, why pass 2 cannot
run here (None when it can), so a job asking for it is refused at submit time, not after pass 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from ..devices import AUTO, resolve_device

# Cancelled is re-exported: a backend's author finds what to raise beside the Backend contract.
from ..progress import CancelFn, ProgressFn
from ..progress import Cancelled as Cancelled


class BackendError(RuntimeError):
    """A backend that cannot be made (no model folder, unknown name...)."""


class Backend(Protocol):
    def run(
        self,
        video: Any,
        quadmask: Any,
        prompt: str,
        *,
        seed: int,
        steps: int,
        progress: ProgressFn | None,
        cancel: CancelFn | None,
    ) -> Any: ...


@dataclass(frozen=True)
class BackendSettings:
    """What a factory may need from the engine config."""

    model: Path | None = None
    device: str = AUTO
    memory_mode: str = "full"
    window_frames: int = 85
    # Opt-in speed settings ([worker] attention_backend, compile_blocks; void_engine.pipeline.speed).
    attention_backend: str = ""
    compile_blocks: bool = False
    compile_cache_dir: Path | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> BackendSettings:
        """The [worker] settings of an EngineConfig; the compile cache defaults to <state_dir>/compile-cache."""
        return cls(
            model=cfg.model,
            device=cfg.device,
            memory_mode=cfg.memory_mode,
            window_frames=cfg.window_frames,
            attention_backend=cfg.attention_backend,
            compile_blocks=cfg.compile_blocks,
            compile_cache_dir=cfg.compile_cache_dir or Path(cfg.state_dir) / "compile-cache",
        )


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


def pass2_problem(name: str, settings: BackendSettings) -> str | None:
    """Why backend ``name`` cannot run pass 2 with ``settings``; None when it can."""
    factory = _REGISTRY.get(name)
    if factory is None:
        return f"unknown backend {name!r}"
    probe = getattr(factory, "pass2_problem", None)
    if probe is None:
        return f"the {name!r} backend has no pass 2 (use the 'void' backend)"
    return probe(settings)


# ---------------------------------------------------------------------------------------------
# Built-in backends. Heavy imports happen inside the factories, so importing this module (and
# the server) stays cheap and a broken optional part cannot break the others.


class VoidBackend:
    """The VOID model, loaded once from a model folder (base + pass 1 [+ pass 2])."""

    def __init__(self, settings: BackendSettings):
        if settings.model is None:
            raise BackendError("the 'void' backend needs a model folder (--model DIR or [worker] model)")
        from void_engine.pipeline import VoidPipeline
        from void_engine.pipeline.model_dir import ModelDir

        paths = ModelDir.locate(settings.model)
        base, pass1, pass2 = _model_paths(paths)
        self.window_frames = settings.window_frames
        # dtype None: the pipeline's own choice, bf16 on a GPU and float32 on the CPU (float32 on a
        # GPU would double the 5B model's memory and halve its speed).
        self.pipe = VoidPipeline.from_pretrained(
            base,
            pass1=pass1,
            pass2=pass2,
            device=resolve_device(settings.device),
            dtype=None,
            memory_mode=settings.memory_mode,
            attention_backend=settings.attention_backend,
            compile_transformer_blocks=settings.compile_blocks,
            compile_cache_dir=settings.compile_cache_dir,
        )

    def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
        return self.pipe(
            video,
            quadmask,
            prompt,
            seed=seed,
            num_inference_steps=steps,
            window_frames=self.window_frames,
            progress=progress,
            cancel=cancel,
        )

    def refine(self, video, quadmask, prompt, first_pass, *, seed, steps, progress, cancel):
        """Pass 2 from pass 1's result (the worker runs the passes so it can report each)."""
        return self.pipe.refine(
            video,
            quadmask,
            prompt,
            first_pass,
            seed=seed,
            num_inference_steps=steps,
            window_frames=self.window_frames,
            progress=progress,
            cancel=cancel,
        )

    @staticmethod
    def pass2_problem(settings: BackendSettings) -> str | None:
        """Pass 2 needs void_pass2.safetensors beside pass 1 in the model folder.

        Only file checks: the socket loop asks this for ``hello``/``submit``, and importing the
        pipeline package (torch) there could stall it behind the worker's model load.
        """
        if settings.model is None:
            return "the 'void' backend has no model folder (--model DIR or [worker] model)"
        root = Path(settings.model).expanduser()
        if not root.is_dir():
            return f"model folder not found: {root}"
        if not (root / _PASS2_FILE).is_file():
            return f"the model folder {root} has no {_PASS2_FILE} (download it to enable pass 2)"
        return None


# The model folder's pass-2 file name (void_engine.pipeline.model_dir.PASS2_FILE; a test keeps
# the two equal).
_PASS2_FILE = "void_pass2.safetensors"


def _model_paths(paths: Any) -> tuple[Any, Any, Any]:
    """Accept ModelDir.locate's answer as a tuple or as an object with base/pass1/pass2."""
    if isinstance(paths, tuple):
        return paths[0], paths[1], paths[2] if len(paths) > 2 else None
    return paths.base, paths.pass1, getattr(paths, "pass2", None)


class PreviewBackend:
    """The classical preview fill (no weights); one step per frame."""

    def __init__(self, settings: BackendSettings):
        from void_engine.backends.preview import preview_inpaint

        self._fill = preview_inpaint

    def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
        return self._fill(video, quadmask, progress=progress, cancel=cancel)


register_backend("void", VoidBackend)
register_backend("preview", PreviewBackend)
