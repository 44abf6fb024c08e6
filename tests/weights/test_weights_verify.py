"""diagnose(): per-file verdicts on complete, partial and empty model directories (doctor's weights part)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.weights.conftest import BASE, tiny_files
from void_engine.weights import (
    FileState,
    HeaderError,
    diagnose,
    doctor_weights,
    format_verdicts,
    load_manifest,
    read_header,
    summarize,
)

PASS1 = "void_pass1.safetensors"
PASS2 = "void_pass2.safetensors"
VAE = f"{BASE}/vae/diffusion_pytorch_model.safetensors"
TOKENIZER = f"{BASE}/tokenizer/spiece.model"
SCHEDULER = f"{BASE}/scheduler/scheduler_config.json"


@pytest.fixture
def model_copy(tmp_path, tiny_model) -> Path:
    dest = tmp_path / "model"
    shutil.copytree(tiny_model, dest)
    return dest


def _by_path(verdicts):
    return {v.path: v for v in verdicts}


def test_weights_header_reads_shapes_and_spots_truncation(tmp_path, tiny_model):
    header = read_header(tiny_model / PASS1)
    assert header.tensors["patch_embed.proj.weight"].shape == (32, 48 * 2 * 2 * 2)
    assert not header.truncated and header.expected_size == (tiny_model / PASS1).stat().st_size
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((tiny_model / PASS1).read_bytes()[:-1000])
    assert read_header(cut).truncated
    cut.write_bytes((tiny_model / PASS1).read_bytes()[:20])
    with pytest.raises(HeaderError, match="truncated"):
        read_header(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(struct.pack("<Q", 4) + b"nope")
    with pytest.raises(HeaderError, match="not valid JSON"):
        read_header(junk)


def test_weights_diagnose_complete_directory(tiny_model, manifest_file):
    verdicts = diagnose(tiny_model, load_manifest(manifest_file))
    # Every file of the directory is checked (pass 2 because it exists), and all are present.
    assert sorted(v.path for v in verdicts) == tiny_files(tiny_model)
    assert all(v.state is FileState.PRESENT for v in verdicts), format_verdicts(verdicts)
    assert _by_path(verdicts)[PASS2].required is False
    assert summarize(tiny_model, verdicts)[0] == "ok"


def test_weights_diagnose_partial_directory(model_copy, manifest_file):
    manifest = load_manifest(manifest_file)
    (model_copy / TOKENIZER).unlink()  # missing
    data = (model_copy / VAE).read_bytes()
    (model_copy / VAE).write_bytes(data[: len(data) // 2])  # interrupted copy
    # A checkpoint for another model: the VOID widths are right but the hidden size is not.
    save_file(
        {"patch_embed.proj.weight": np.zeros((64, 384), np.float32), "norm_final.weight": np.zeros(64, np.float32)},
        str(model_copy / PASS1),
    )
    (model_copy / SCHEDULER).write_text("{ not json")
    verdicts = _by_path(diagnose(model_copy, manifest))
    assert verdicts[TOKENIZER].state is FileState.MISSING
    assert verdicts[VAE].state is FileState.INCOMPLETE and "truncated" in verdicts[VAE].detail
    assert verdicts[PASS1].state is FileState.WRONG_SHAPE
    assert "(64, 384)" in verdicts[PASS1].detail and "(32, 384)" in verdicts[PASS1].detail
    assert verdicts[SCHEDULER].state is FileState.CORRUPT
    untouched = set(verdicts) - {TOKENIZER, VAE, PASS1, SCHEDULER}
    assert untouched and all(verdicts[p].state is FileState.PRESENT for p in untouched)
    status, line = summarize(model_copy, list(verdicts.values()))
    assert status == "FAIL" and "1 missing" in line and "1 wrong shape" in line and "void-engine download" in line
    lines = format_verdicts(list(verdicts.values()))
    assert any(line.startswith("wrong shape") and PASS1 in line for line in lines)
    assert any(line.startswith("missing") and TOKENIZER in line for line in lines)


def test_weights_diagnose_base_transformer_with_wrong_width(model_copy, manifest_file):
    path = model_copy / BASE / "transformer" / "diffusion_pytorch_model.safetensors"
    save_file({"patch_embed.proj.weight": np.zeros((32, 48 * 8), np.float32)}, str(path))  # base must be 33
    verdict = _by_path(diagnose(model_copy, load_manifest(manifest_file)))[str(path.relative_to(model_copy))]
    assert verdict.state is FileState.WRONG_SHAPE and "33 input channels" in verdict.detail


def test_weights_diagnose_empty_directory(tmp_path, manifest_file):
    manifest = load_manifest(manifest_file)
    verdicts = diagnose(tmp_path, manifest, with_pass2=True)
    expected = [str(wf.rel) for wf in manifest.files(manifest.select(with_pass2=True))]
    assert [v.path for v in verdicts] == expected
    assert all(v.state is FileState.MISSING for v in verdicts)
    assert [v.required for v in verdicts][-1] is False  # pass 2 is optional
    status, detail, lines = doctor_weights(tmp_path, manifest)
    assert status == "FAIL" and len(lines) == len(expected)
    assert any("missing (optional)" in line and PASS2 in line for line in lines)


def test_weights_optional_problem_is_a_warning(model_copy, manifest_file):
    data = (model_copy / PASS2).read_bytes()
    (model_copy / PASS2).write_bytes(data[:-10])
    status, detail, _ = doctor_weights(model_copy, load_manifest(manifest_file))
    assert status == "warn" and PASS2 in detail and "incomplete" in detail


def test_weights_diagnose_rejects_bad_verify_mode(tmp_path, manifest_file):
    with pytest.raises(ValueError, match="verify"):
        diagnose(tmp_path, load_manifest(manifest_file), verify="sometimes")
