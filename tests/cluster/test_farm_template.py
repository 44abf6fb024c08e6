"""The Open Job Description farm template: it validates, a bundle for a shot runs locally with
`openjd run` (CPU, preview backend, small sample shot) in contiguous chunked windows, and the
bundle carries what Deadline Cloud needs (parameter values, asset references, a GPU requirement).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from void_engine.cluster.farm import frame_range_text, template_path

REPO = Path(__file__).resolve().parents[2]
OPENJD = shutil.which("openjd", path=str(Path(sys.executable).parent)) or shutil.which("openjd")
needs_openjd = pytest.mark.skipif(OPENJD is None, reason="openjd-cli (the [farm] extra) is not installed")
PROMPT = 'the "back" wall; not $(touch pwned)'


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    from void_engine.demo.samples import make_sample_shot

    return make_sample_shot(tmp_path_factory.mktemp("farm_shot") / "shot", seed=9, width=160, height=96, frames=5)


def write_bundle(shot, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "void_engine.cli",
        "farm-bundle",
        "--bundle",
        str(tmp / "bundle"),
        "--plate",
        shot.plate,
        "--frames",
        shot.frame_range,
        "--remove",
        shot.remove_matte,
        "--affected",
        shot.affected_matte,
        "--prompt",
        PROMPT,
        "--out",
        str(tmp / "out"),
        "--backend",
        "preview",
        "--device",
        "cpu",
        "--chunk-frames",
        "2",
        "--void-engine",
        f"{sys.executable} -m void_engine.cli",
        *extra,
    ]
    return subprocess.run(cmd, cwd=str(tmp), capture_output=True, text=True, timeout=60)


@needs_openjd
def test_template_passes_openjd_check():
    proc = subprocess.run([OPENJD, "check", str(template_path())], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passes validation" in proc.stdout


def test_template_asks_for_one_gpu_per_task_and_chunks_contiguous_windows():
    doc = yaml.safe_load(template_path().read_text())
    assert "TASK_CHUNKING" in doc["extensions"]
    step = doc["steps"][0]
    amounts = {a["name"]: a for a in step["hostRequirements"]["amounts"]}
    assert amounts["amount.worker.gpu"]["min"] == 1
    (frame,) = step["parameterSpace"]["taskParameterDefinitions"]
    assert frame["type"] == "CHUNK[INT]" and frame["chunks"]["rangeConstraint"] == "CONTIGUOUS"
    assert frame["range"] == "{{Param.Frames}}"


@needs_openjd
def test_bundle_for_a_shot_runs_locally_with_openjd_in_chunked_windows(shot, tmp_path):
    from void_engine.plates import FrameSequence, read_plate

    made = write_bundle(shot, tmp_path)
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "bundle"
    proc = subprocess.run(
        [OPENJD, "run", str(bundle / "template.yaml"), "-p", f"file://{bundle / 'openjd_params.json'}"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Chunks run: 3" in proc.stdout
    windows = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert windows == ["frames_1001-1002", "frames_1003-1004", "frames_1005-1005"]
    assert not (tmp_path / "pwned").exists()  # the prompt reached the engine as text, not as shell
    plate_seq = FrameSequence(shot.plate, shot.frames)
    remove_seq = FrameSequence(shot.remove_matte, shot.frames)
    for window in windows:
        first, last = (int(v) for v in window.removeprefix("frames_").split("-"))
        out_seq = FrameSequence(
            str(tmp_path / "out" / window / "v001" / "sample_void.####.exr"), tuple(range(first, last + 1))
        )
        assert out_seq.missing() == []
        for frame in out_seq.frames:
            out = read_plate(out_seq.path(frame))
            attrs = {a.name: a.value for a in out.spec.attributes}
            assert attrs["void:prompt"] == PROMPT
            plate = read_plate(plate_seq.path(frame)).pixels
            # The preview fill changed pixels inside the matte and none in the top-left corner,
            # far from the ball and its shadow in the sample scene.
            removed = read_plate(remove_seq.path(frame)).pixels[..., 0] > 0.5
            assert not np.array_equal(out.pixels[removed], plate[removed])
            assert np.array_equal(out.pixels[:8, :8], plate[:8, :8])


def test_bundle_holds_deadline_cloud_parameter_values_and_asset_references(shot, tmp_path):
    made = write_bundle(shot, tmp_path, "--shot-name", "sh010")
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "bundle"
    template = yaml.safe_load((bundle / "template.yaml").read_text())
    declared = {p["name"] for p in template["parameterDefinitions"]}
    values = {
        v["name"]: v["value"] for v in yaml.safe_load((bundle / "parameter_values.yaml").read_text())["parameterValues"]
    }
    assert set(values) <= declared
    assert values["Prompt"] == PROMPT and values["Frames"] == "1001-1005" and values["ChunkFrames"] == 2
    assert values["ShotName"] == "sh010" and values["MaskKind"] == "remove"
    assert json.loads((bundle / "openjd_params.json").read_text()) == values
    assets = yaml.safe_load((bundle / "asset_references.yaml").read_text())["assetReferences"]
    assert str(Path(shot.plate).parent) in assets["inputs"]["directories"]
    assert str(Path(shot.affected_matte).parent) in assets["inputs"]["directories"]
    assert assets["outputs"]["directories"] == [str(tmp_path / "out")]


def test_bundle_refuses_bad_flags_naming_them(shot, tmp_path):
    made = write_bundle(shot, tmp_path, "--chunk-frames", "0")
    assert made.returncode == 2 and "--chunk-frames" in made.stderr
    assert not (tmp_path / "bundle").exists()


def test_frame_lists_become_openjd_range_expressions():
    assert frame_range_text((1001, 1002, 1003, 1010, 1012, 1013)) == "1001-1003,1010,1012-1013"
    assert frame_range_text((7,)) == "7"
