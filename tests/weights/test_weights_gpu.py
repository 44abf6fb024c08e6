"""Which memory mode fits how much free GPU memory; the report on a machine without CUDA."""

from __future__ import annotations

import pytest

from void_engine.weights.gpu import GIB, MODE_THRESHOLDS_GIB, GpuReport, choose_memory_mode, gpu_report


@pytest.mark.parametrize(
    "free_gib, mode",
    [
        (79.0, "full"),
        (40.0, "full"),
        (39.9, "model_offload"),
        (16.0, "model_offload"),
        (15.0, "fp8"),
        (12.0, "fp8"),
        (11.9, "sequential"),
        (6.0, "sequential"),
        (5.9, None),
        (0.0, None),
    ],
)
def test_weights_memory_mode_thresholds(free_gib, mode):
    got, reason = choose_memory_mode(int(free_gib * GIB))
    assert got == mode
    assert f"{free_gib:.1f} GiB free" in reason


def test_weights_thresholds_are_ordered():
    needs = [need for _, need in MODE_THRESHOLDS_GIB]
    assert needs == sorted(needs, reverse=True)
    assert [m for m, _ in MODE_THRESHOLDS_GIB] == ["full", "model_offload", "fp8", "sequential"]


def test_weights_gpu_report_lines():
    import torch

    report = gpu_report()
    assert report.available == torch.cuda.is_available()
    status, detail = report.doctor_line()
    if not report.available:
        assert status == "warn" and "no CUDA GPU" in detail
    else:  # on a GPU machine: the free memory and the chosen mode are in the line
        assert report.mode is None or f'memory_mode = "{report.mode}"' in detail
    small = GpuReport(True, "Test GPU", 8 * GIB, 4 * GIB, *choose_memory_mode(4 * GIB))
    assert small.doctor_line()[0] == "FAIL" and "Test GPU" in small.doctor_line()[1]
    big = GpuReport(True, "Big GPU", 80 * GIB, 70 * GIB, *choose_memory_mode(70 * GIB))
    assert big.doctor_line() == ("ok", big.doctor_line()[1]) and 'memory_mode = "full"' in big.doctor_line()[1]
