"""The real VOID weights: the manifest (config/weights.toml), per-file verification, the hub download,
and the GPU report `void-engine doctor` prints.

Importing this package is cheap: no torch, no huggingface_hub (those load when a function needs them).
"""

from .gpu import GpuReport, choose_memory_mode, gpu_report
from .manifest import Component, Manifest, ManifestError, WeightFile, load_manifest
from .safetensors_header import HeaderError, SafetensorsHeader, read_header
from .verify import FileState, FileVerdict, diagnose, format_verdicts, summarize

__all__ = [
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
    "diagnose",
    "doctor_weights",
    "format_verdicts",
    "gpu_report",
    "load_manifest",
    "read_header",
    "summarize",
]


def doctor_weights(model_dir, manifest=None, *, verify: str = "changed") -> tuple[str, str, list[str]]:
    """Everything doctor needs about a model directory: (status, one-line summary, one line per file).

    status is "ok", "warn" (only optional files have problems) or "FAIL".
    """
    verdicts = diagnose(model_dir, manifest, verify=verify)
    status, detail = summarize(model_dir, verdicts)
    return status, detail, format_verdicts(verdicts)
