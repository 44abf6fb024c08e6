"""Model directory layout, channel widening/adaptation and the loader's error messages."""

from __future__ import annotations

import argparse
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from void_engine.pipeline import CheckpointError, ModelDir, ModelDirError, VoidPipeline
from void_engine.pipeline.loader import PATCH_EMBED_KEY, build_transformer, load_void_checkpoint
from void_engine.pipeline.tiny import add_arguments, run

FEAT = 16 * 8  # 16 latent channels x patch 2x2x2


def test_model_dir_locates_base_and_both_checkpoints(tiny_model_dir):
    base, pass1, pass2 = ModelDir.locate(tiny_model_dir)
    assert base == tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP"
    assert pass1.name == "void_pass1.safetensors" and pass2.name == "void_pass2.safetensors"


def test_model_dir_from_environment(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("VOID_MODEL_DIR", str(tiny_model_dir))
    assert ModelDir.locate().root == tiny_model_dir


def test_missing_model_folder_is_named(tmp_path):
    with pytest.raises(ModelDirError, match=str(tmp_path / "nowhere")):
        ModelDir.locate(tmp_path / "nowhere")
    (tmp_path / "CogVideoX-Fun-V1.5-5b-InP" / "vae").mkdir(parents=True)
    with pytest.raises(ModelDirError, match="missing transformer/, text_encoder/, tokenizer/, scheduler/"):
        ModelDir.locate(tmp_path)


def test_missing_pass1_is_named(tiny_model_dir, tmp_path):
    shutil.copytree(tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP", tmp_path / "CogVideoX-Fun-V1.5-5b-InP")
    with pytest.raises(ModelDirError, match="void_pass1.safetensors"):
        ModelDir.locate(tmp_path)
    assert not (tmp_path / "void_pass2.safetensors").exists()


def test_base_transformer_is_widened_from_33_to_48_channels(tiny_model_dir):
    base = tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP"
    on_disk = load_file(str(base / "transformer" / "diffusion_pytorch_model.safetensors"))[PATCH_EMBED_KEY]
    assert on_disk.shape[1] == 33 * 8
    model, add_noise = build_transformer(base, torch.float32)
    assert add_noise is True and model.config.in_channels == 48
    widened = model.state_dict()[PATCH_EMBED_KEY]
    assert widened.shape[1] == 48 * 8
    assert torch.equal(widened[:, :FEAT], on_disk[:, :FEAT])
    assert torch.equal(widened[:, -FEAT:], on_disk[:, -FEAT:])
    for start in range(FEAT, 48 * 8 - FEAT, 8):  # the base mask channel repeated over the 16 mask latents
        assert torch.equal(widened[:, start : start + 8], on_disk[:, FEAT : FEAT + 8])


def test_checkpoint_of_other_width_keeps_model_middle_columns(tiny_model_dir, tmp_path):
    model, _ = build_transformer(tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP", torch.float32)
    before = model.state_dict()[PATCH_EMBED_KEY].clone()
    state = load_file(str(tiny_model_dir / "void_pass1.safetensors"))
    narrow = torch.randn(before.shape[0], 33 * 8)
    state[PATCH_EMBED_KEY] = narrow
    del state["proj_out.bias"]
    save_file(state, str(tmp_path / "narrow.safetensors"))
    report = load_void_checkpoint(model, tmp_path / "narrow.safetensors")
    after = model.state_dict()[PATCH_EMBED_KEY]
    assert report.adapted_patch_embed and report.missing == 1 and report.unexpected == 0
    assert torch.equal(after[:, :FEAT], narrow[:, :FEAT])
    assert torch.equal(after[:, -FEAT:], narrow[:, -FEAT:])
    assert torch.equal(after[:, FEAT:-FEAT], before[:, FEAT:-FEAT])


def test_wrong_checkpoint_names_the_shape(tiny_model_dir, tmp_path):
    state = load_file(str(tiny_model_dir / "void_pass1.safetensors"))
    state["proj_out.weight"] = torch.zeros(7, 5)
    save_file(state, str(tmp_path / "wrong.safetensors"))
    base = tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP"
    with pytest.raises(CheckpointError, match=r"wrong\.safetensors.*'proj_out\.weight' has shape \(7, 5\)"):
        VoidPipeline.from_pretrained(base, pass1=tmp_path / "wrong.safetensors")


def test_checkpoint_of_another_model_is_refused(tiny_model_dir, tmp_path):
    save_file({"encoder.layer.0.weight": torch.zeros(3, 3)}, str(tmp_path / "other.safetensors"))
    model, _ = build_transformer(tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP", torch.float32)
    with pytest.raises(CheckpointError, match="none of its 1 tensors"):
        load_void_checkpoint(model, tmp_path / "other.safetensors")


def test_truncated_safetensors_is_reported(tiny_model_dir, tmp_path):
    data = (tiny_model_dir / "void_pass1.safetensors").read_bytes()
    (tmp_path / "void_pass1.safetensors").write_bytes(data[: len(data) // 2])
    base = tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP"
    with pytest.raises(CheckpointError, match=r"void_pass1\.safetensors.*truncated"):
        VoidPipeline.from_pretrained(base, pass1=tmp_path / "void_pass1.safetensors")


def test_missing_pass2_file_is_named(tiny_model_dir, tmp_path):
    base = tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP"
    with pytest.raises(CheckpointError, match="pass-2 checkpoint not found"):
        VoidPipeline.from_pretrained(
            base, pass1=tiny_model_dir / "void_pass1.safetensors", pass2=tmp_path / "void_pass2.safetensors"
        )


def test_unknown_memory_mode_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="memory_mode must be one of full, model_offload, fp8, sequential"):
        VoidPipeline.from_model_dir(tiny_model_dir, memory_mode="turbo")


def test_make_tiny_model_command_writes_the_layout(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args([str(tmp_path / "m")])) == 0
    found = ModelDir.locate(tmp_path / "m")
    assert found.pass2 is None
    assert (found.base / "tokenizer" / "spiece.model").is_file()  # the hub's layout: no tokenizer.json
    assert run(parser.parse_args([str(tmp_path / "m2"), "--with-pass2"])) == 0
    assert ModelDir.locate(tmp_path / "m2").pass2 is not None
