"""The GPU, its free memory, and which pipeline memory mode fits in it (for `void-engine doctor`).

Thresholds are on *free* memory (torch.cuda.mem_get_info), in GiB, for one 85-frame window at
384x672 in bf16. Sources:
  - full >= 40: the VOID reference README ("Requires a GPU with 40GB+ VRAM"); consistent with issue 4's
    measurements on an H100: transformer weights 10.4 GB bf16 + T5-XXL ~9.5 GB (the hub's text_encoder
    shards are 4.99 + 4.53 GB) + VAE decode peak 11.5 GB untiled, all resident at once, plus activations.
  - model_offload >= 16: one whole model at a time; the largest stage is the transformer (10.4 GB) with
    its activations, or the untiled VAE decode (11.5 GB peak) -- issue 4's figures, plus headroom.
  - fp8 >= 12: issue 4's target "fp8 mode peak VRAM <= 12 GB for a whole 85-frame job" (transformer
    6.0 GB in fp8 storage, T5 moved off the GPU right after the prompt is encoded -- before the VAE
    encodes, see VoidPipeline.offload_text_encoder -- VAE tiled at 4.5 GB peak). A target, not yet
    measured: bench/gpu_check.sh reports the real peak.
  - sequential: below that; layer-by-layer offload, slowest, VAE tiled. Under 6 GiB even the tiled VAE decode
    (4.5 GB peak, issue 4) has little room, so it is reported as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
# (mode, minimum free GiB), best first.
MODE_THRESHOLDS_GIB: tuple[tuple[str, float], ...] = (
    ("full", 40.0),
    ("model_offload", 16.0),
    ("fp8", 12.0),
    ("sequential", 6.0),
)


def choose_memory_mode(free_bytes: int) -> tuple[str | None, str]:
    """The best memory mode for `free_bytes` of free GPU memory, and why; (None, reason) if none fits."""
    free = free_bytes / GIB
    for mode, need in MODE_THRESHOLDS_GIB:
        if free >= need:
            return mode, f"{free:.1f} GiB free >= {need:g} GiB for memory_mode {mode}"
    lowest = MODE_THRESHOLDS_GIB[-1][1]
    return None, f"{free:.1f} GiB free < {lowest:g} GiB, too little even for memory_mode sequential"


@dataclass(frozen=True)
class GpuReport:
    available: bool
    name: str | None = None
    total_bytes: int = 0
    free_bytes: int = 0
    mode: str | None = None
    reason: str = ""

    def doctor_line(self) -> tuple[str, str]:
        """(status, detail) in doctor's vocabulary."""
        if not self.available:
            return "warn", self.reason
        head = f"{self.name}, {self.free_bytes / GIB:.1f} of {self.total_bytes / GIB:.1f} GiB free"
        if self.mode is None:
            return "FAIL", f"{head}: {self.reason}"
        status = "ok" if self.mode == "full" else "warn"
        return status, f'{head}: use memory_mode = "{self.mode}" ({self.reason})'


def gpu_report(device: int = 0) -> GpuReport:
    """Query CUDA device `device` (torch imported lazily); never raises."""
    try:
        import torch
    except Exception as exc:  # the engine extra is not installed
        return GpuReport(False, reason=f"torch not importable: {exc}")
    try:
        if not torch.cuda.is_available():
            return GpuReport(
                False, reason=f"no CUDA GPU (torch {torch.__version__}); VOID would run on the CPU, very slowly"
            )
        free, total = torch.cuda.mem_get_info(device)
        name = torch.cuda.get_device_name(device)
    except Exception as exc:  # driver trouble
        return GpuReport(False, reason=f"CUDA present but not usable: {exc}")
    mode, reason = choose_memory_mode(free)
    return GpuReport(True, name, int(total), int(free), mode, reason)
