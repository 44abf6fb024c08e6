"""The VOID model directory: what a user downloads and points ``--model DIR`` / ``VOID_MODEL_DIR`` at.

<DIR>/CogVideoX-Fun-V1.5-5b-InP/    base model, diffusers layout
    transformer/ vae/ text_encoder/ tokenizer/ scheduler/
<DIR>/void_pass1.safetensors        VOID pass-1 transformer weights (required)
<DIR>/void_pass2.safetensors        VOID pass-2 transformer weights (optional)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_FOLDER = "CogVideoX-Fun-V1.5-5b-InP"
PASS1_FILE = "void_pass1.safetensors"
PASS2_FILE = "void_pass2.safetensors"
BASE_SUBFOLDERS = ("transformer", "vae", "text_encoder", "tokenizer", "scheduler")
MODEL_DIR_ENV = "VOID_MODEL_DIR"


class ModelDirError(FileNotFoundError):
    """A model directory or base folder is missing or incomplete; the message names the path."""


def check_base_folder(base: Path) -> Path:
    """Raise ModelDirError unless `base` is a diffusers-layout CogVideoX-Fun folder; return it."""
    base = Path(base)
    if not base.is_dir():
        raise ModelDirError(f"base model folder not found: {base} (expected the {BASE_FOLDER} folder)")
    missing = [name for name in BASE_SUBFOLDERS if not (base / name).is_dir()]
    if missing:
        raise ModelDirError(f"base model folder {base} is incomplete: missing {', '.join(s + '/' for s in missing)}")
    return base


@dataclass(frozen=True)
class ModelDir:
    """Resolved paths of a model directory. Unpacks as ``base, pass1, pass2 = ModelDir.locate(d)``."""

    root: Path
    base: Path
    pass1: Path
    pass2: Path | None

    def __iter__(self) -> Iterator[Path | None]:
        return iter((self.base, self.pass1, self.pass2))

    @classmethod
    def locate(cls, directory: str | os.PathLike[str] | None = None) -> ModelDir:
        """Find base/pass1/pass2 in `directory` (or $VOID_MODEL_DIR); ModelDirError naming what is missing."""
        if directory is None:
            env = os.environ.get(MODEL_DIR_ENV)
            if not env:
                raise ModelDirError(f"no model directory given and ${MODEL_DIR_ENV} is not set")
            directory = env
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise ModelDirError(f"model directory not found: {root}")
        base = check_base_folder(root / BASE_FOLDER)
        pass1 = root / PASS1_FILE
        if not pass1.is_file():
            raise ModelDirError(f"model directory {root} has no {PASS1_FILE}")
        pass2 = root / PASS2_FILE
        return cls(root=root, base=base, pass1=pass1, pass2=pass2 if pass2.is_file() else None)
