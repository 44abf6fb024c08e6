"""bench/gpu_pipeline.py --tiny: the lent-GPU plan runs end to end on the CPU, so the script cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    out = tmp_path / "bench.jsonl"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_pipeline.py"), "--tiny", "--out", str(out), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_tiny_plan_writes_one_json_line_per_measurement(tmp_path):
    proc, rows = _run(tmp_path, "--step-timing-steps", "1")  # one timed step: no median of nothing
    assert proc.returncode == 0, proc.stderr[-2000:]
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "run" and kinds[-1] == "done"
    jobs = [r for r in rows if r["kind"] == "job"]
    assert {(r["mode"], r["frames"]) for r in jobs} == {("full", 9), ("full", 29), ("fp8", 9), ("fp8", 29)}
    assert all(r["s_per_window_step"] > 0 and r["transformer_calls"] >= r["steps"] for r in jobs)
    step = next(r for r in rows if r["kind"] == "step")
    assert step["attention_backend"] == "math" and step["steps"] == 1 and step["s_per_window_step"] > 0
    psnr = next(r for r in rows if r["kind"] == "psnr")
    assert psnr["mode"] == "fp8" and psnr["against"] == "full" and 10 < psnr["db"] < 200
    assert proc.stdout.count("\n") == len(rows)  # the same lines on stdout, as they were measured


def test_budget_stops_the_plan_cleanly(tmp_path):
    proc, rows = _run(tmp_path, "--budget-s", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows[-1]["kind"] == "done"
    assert [r for r in rows if r["kind"] == "skipped"] and not [r for r in rows if r["kind"] == "job"]
