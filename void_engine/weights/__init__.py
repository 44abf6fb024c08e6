"""The real VOID weights: the manifest (config/weights.toml), per-file verification, the hub download,
and the GPU report `void-engine doctor` prints.

Importing this package is cheap: no torch, no huggingface_hub (those load when a function needs them).
"""

import os
from pathlib import Path

from .gpu import GpuReport, choose_memory_mode, gpu_report
from .layout import CheckpointLayout
from .manifest import Component, Manifest, ManifestError, WeightFile, load_manifest
from .safetensors_header import HeaderError, SafetensorsHeader, read_header
from .verify import FileState, FileVerdict, diagnose, format_verdicts, summarize, void_layout

__all__ = [
    "CheckpointLayout",
    "Component",
    "FileState",
    "FileVerdict",
    "GpuReport",
    "HeaderError",
    "Manifest",
    "ManifestError",
    "SafetensorsHeader",
    "WeightFile",
    "choose_memory_mode",
    "describe_layout",
    "diagnose",
    "doctor_weights",
    "format_verdicts",
    "gpu_report",
    "load_manifest",
    "read_header",
    "summarize",
    "void_layout",
]


def doctor_weights(
    model_dir: str | os.PathLike[str], manifest: Manifest | None = None, *, verify: str = "changed"
) -> tuple[str, str, list[str]]:
    """Everything doctor needs about a model directory: (status, one-line summary, one line per file).

    status is "ok", "warn" (only optional files have problems) or "FAIL". The summary ends with the VOID
    checkpoints' layout: complete (base transformer weights unused) or a delta on the base transformer.
    """
    model_dir = Path(model_dir)
    manifest = manifest or load_manifest()
    verdicts = diagnose(model_dir, manifest, verify=verify)
    status, detail = summarize(model_dir, verdicts)
    return (
        status,
        f"{detail}; layout: {describe_layout(void_layout(model_dir, manifest.files()))}",
        format_verdicts(verdicts),
    )


def describe_layout(layout: CheckpointLayout | None) -> str:
    """doctor's words for a model directory's checkpoint layout."""
    if layout is None:
        return "unknown (no readable VOID checkpoint or base transformer config.json yet)"
    if layout.complete:
        return f"complete VOID transformer, base transformer weights not used ({layout.detail})"
    return f"VOID checkpoint over the base transformer weights ({layout.detail})"
