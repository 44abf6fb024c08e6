"""`void-engine demo` end to end on a small shot: engine subprocess, figures, contact sheet."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest

from void_engine.demo import run as demo
from void_engine.demo.samples import make_sample_shot

REPO = Path(__file__).resolve().parents[2]
FIGURES = re.compile(r"^psnr_in_mask_db: (?P<psnr>[0-9.]+|inf)\nchanged_outside_mask: (?P<changed>\d+)$")


def _run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VOID_MODEL_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "demo", "--small", "--out", str(out), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _figures(stdout: str) -> tuple[float, int]:
    last_two = "\n".join(stdout.strip().splitlines()[-2:])
    m = FIGURES.match(last_two)
    assert m, f"the last two lines are not the figures:\n{stdout}"
    return float(m["psnr"]), int(m["changed"])


def test_demo_through_a_local_engine_prints_the_figures_and_stops_the_engine(tmp_path):
    proc = _run_demo(tmp_path / "demo_out")
    assert proc.returncode == 0, proc.stderr
    psnr, changed = _figures(proc.stdout)
    assert psnr >= 30.0
    assert changed == 0
    assert "through a local engine" in proc.stderr
    pid = int(re.search(r"engine +tcp://127\.0\.0\.1:\d+ \(pid (\d+)", proc.stderr).group(1))
    with pytest.raises(ProcessLookupError):  # the engine went away with the demo
        os.kill(pid, 0)
    sheet = cv2.imread(str(tmp_path / "demo_out" / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 4 * demo.SMALL_SIZE[0]
    results = sorted((tmp_path / "demo_out").glob("sample_*/void/v*/sample_void.*.exr"))
    assert len(results) == demo.SMALL_SIZE[2]
    spec = oiio.ImageInput.open(str(results[0])).spec()
    assert spec.getattribute("void:backend") == "preview"


def test_demo_in_process_gives_the_same_figures_format(tmp_path):
    proc = _run_demo(tmp_path / "demo_out", "--in-process", "--sheet-frames", "2")
    assert proc.returncode == 0, proc.stderr
    psnr, changed = _figures(proc.stdout)
    assert psnr >= 30.0 and changed == 0
    sheet = cv2.imread(str(tmp_path / "demo_out" / "contact_sheet.png"))
    assert sheet.shape[0] > 2 * sheet.shape[1] // 4 * demo.SMALL_SIZE[1] // demo.SMALL_SIZE[0]


def test_measure_counts_a_pixel_changed_outside_the_mask(tmp_path):
    w, h, frames = 160, 90, 3
    shot = make_sample_shot(tmp_path / "shot", seed=4, width=w, height=h, frames=frames)
    _, quadmasks = demo._write_quadmasks(shot)
    # A "result" that is the clean plate inside the matte and the plate elsewhere ...
    out_dir = tmp_path / "result"
    out_dir.mkdir()
    for frame, q in zip(shot.frames, quadmasks):
        shutil.copy(shot.path(shot.plate, frame), out_dir / f"r.{frame:04d}.exr")
    pattern = str(out_dir / "r.####.exr")
    before = demo.measure(shot, quadmasks, pattern)
    assert before.changed_outside_mask == 0
    assert before.psnr_in_mask_db < 30  # the ball is still there: the yardstick sees it
    # ... then one pixel in a far corner of the middle frame nudged by one half-float step.
    frame = shot.frames[1]
    assert quadmasks[1][0, 0] == 255 and demo._outside_matte(quadmasks[1])[0, 0]
    path = out_dir / f"r.{frame:04d}.exr"
    buf = oiio.ImageBuf(str(path))
    pixels = np.asarray(buf.get_pixels(oiio.HALF)).reshape(h, w, 4).copy()
    pixels[0, 0, 1] = np.nextafter(pixels[0, 0, 1], np.float16(10))
    spec = buf.spec()
    path.unlink()
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.write_image(pixels)
    out.close()
    assert demo.measure(shot, quadmasks, pattern).changed_outside_mask == 1
