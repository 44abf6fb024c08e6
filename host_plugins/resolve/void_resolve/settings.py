"""What the artist (or TD) can set: engine address, prompt, handles, where renders go.

Read from environment variables so a studio can set them once in Resolve's launch
environment; the window lets the artist edit the prompt before starting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from bridge.client import DEFAULT_ADDRESS

DEFAULT_PROMPT = "clean background, nothing in the way"


@dataclass(frozen=True)
class Settings:
    """One run's settings.

    engine: ZeroMQ address of the VOID engine. timeout_s: how long one request may go
    unanswered before the engine counts as unreachable. work_dir: where plate/matte renders
    and results are written (must be inside the engine's roots when frames go by path).
    by_value: send frames as EXR bytes (engine without shared storage). handles: frames of
    handle wanted on each side on the Edit page (fewer if the media has fewer). pass2: run VOID's
    refinement pass too. instruction: what to remove, in words, for the engine's reasoner (with a
    key-frame roto: mask mode "reason"; with full mattes: the reasoner adds the affected region).
    remove_text: the object to remove, named (e.g. "the glass"): mask mode "text", the engine
    finds it with SAM3 and tracks it, and the remove matte is not sent.
    """

    engine: str = DEFAULT_ADDRESS
    prompt: str = DEFAULT_PROMPT
    seed: int = 0
    steps: int | None = None
    backend: str | None = None
    timeout_s: float = 5.0
    work_dir: Path | None = None
    by_value: bool = False
    handles: int = 8
    render_timeout_s: float = 600.0
    pass2: bool = False
    instruction: str | None = None
    remove_text: str | None = None

    def with_remove_text(self, text: str) -> "Settings":
        return replace(self, remove_text=text.strip() or None)

    def with_prompt(self, prompt: str) -> "Settings":
        return replace(self, prompt=prompt.strip() or self.prompt)


def _int(env: dict[str, str], name: str, default: int | None) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} must be a whole number") from None


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings from ``VOID_ENGINE``, ``VOID_PROMPT``, ``VOID_SEED``, ``VOID_STEPS``,
    ``VOID_BACKEND``, ``VOID_TIMEOUT``, ``VOID_WORK_DIR``, ``VOID_BY_VALUE``, ``VOID_HANDLES``,
    ``VOID_PASS2``, ``VOID_INSTRUCTION``, ``VOID_REMOVE_TEXT``.

    Raises ValueError naming the variable when one cannot be read.
    """
    env = dict(os.environ if env is None else env)
    base = Settings()
    timeout_text = env.get("VOID_TIMEOUT", "").strip()
    try:
        timeout = float(timeout_text) if timeout_text else base.timeout_s
    except ValueError:
        raise ValueError(f"environment variable VOID_TIMEOUT={timeout_text!r} must be a number of seconds") from None
    work = env.get("VOID_WORK_DIR", "").strip()
    return Settings(
        engine=env.get("VOID_ENGINE", "").strip() or base.engine,
        prompt=env.get("VOID_PROMPT", "").strip() or base.prompt,
        seed=_int(env, "VOID_SEED", base.seed) or 0,
        steps=_int(env, "VOID_STEPS", base.steps),
        backend=env.get("VOID_BACKEND", "").strip() or None,
        timeout_s=timeout,
        work_dir=Path(work).expanduser() if work else None,
        by_value=env.get("VOID_BY_VALUE", "").strip().lower() in ("1", "true", "yes", "on"),
        handles=_int(env, "VOID_HANDLES", base.handles) or 0,
        pass2=_flag(env, "VOID_PASS2"),
        instruction=env.get("VOID_INSTRUCTION", "").strip() or None,
        remove_text=env.get("VOID_REMOVE_TEXT", "").strip() or None,
    )


def _flag(env: dict[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"environment variable {name}={text!r} must be 1/0, true/false, yes/no or on/off")
