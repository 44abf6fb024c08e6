"""void_engine.config: the shipped config/engine.toml documents every setting and loads; bad files
are refused naming the file and the key."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from void_engine.config import ConfigError, EngineConfig, load_config

from .engine_harness import REPO


def test_shipped_config_documents_every_setting_with_its_default():
    path = REPO / "config" / "engine.toml"
    data = tomllib.loads(path.read_text())
    keys = {k for section in data.values() for k in section}
    assert keys == {f.name for f in dataclasses.fields(EngineConfig)}
    cfg, defaults = load_config(path), EngineConfig()
    for f in dataclasses.fields(EngineConfig):
        if f.name not in ("state_dir",):
            assert getattr(cfg, f.name) == getattr(defaults, f.name), f.name
    text = path.read_text()
    for key in keys:  # each key has a comment line right above it (or above its section)
        before = text.split(f"\n{key} = ")[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), key


@pytest.mark.parametrize(
    "body, words",
    [
        ("[server]\nbnd = 'x'\n", ["bnd", "[server]"]),
        ("[workers]\n", ["[workers]"]),
        ("[limits]\ncredit = 'many'\n", ["credit", "int"]),
        ("[limits]\ncredit = 0\n", ["credit"]),
        ("[worker]\nmodel_size = [100, 200]\n", ["model_size"]),
        ("[security]\ncurve = true\n", ["server_secret_key"]),
        ("[server\n", ["cannot read"]),
    ],
)
def test_bad_config_is_refused_naming_file_and_key(tmp_path, body, words):
    path = tmp_path / "engine.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    for word in words:
        assert word in str(info.value)
    assert (
        str(path) in str(info.value)
        or "model_size" in str(info.value)
        or "credit" in str(info.value)
        or "server_secret_key" in str(info.value)
    )


def test_relative_paths_are_relative_to_the_config_file_and_flags_override(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text("[server]\nstate_dir = 'st'\nroots = ['shows']\n[worker]\nbackend = 'preview'\n")
    cfg = load_config(path, backend="void", roots=None)
    assert cfg.state_dir == tmp_path / "st" and cfg.roots == [tmp_path / "shows"] and cfg.backend == "void"


def test_device_auto_means_the_gpu_only_when_there_is_one(monkeypatch):
    import torch

    from void_engine.config import EngineConfig
    from void_engine.devices import resolve_device

    assert EngineConfig().device == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device(None) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"


def test_void_backend_leaves_the_dtype_to_the_pipeline(monkeypatch, tmp_path):
    """bf16 on a GPU, float32 on the CPU is the pipeline's rule; the backend must not force float32."""
    from void_engine import backends
    from void_engine.pipeline import VoidPipeline
    from void_engine.pipeline.tiny import make_tiny_model

    seen = {}

    def from_pretrained(base, **kw):
        seen.update(kw)
        return object()

    monkeypatch.setattr(VoidPipeline, "from_pretrained", staticmethod(from_pretrained))
    monkeypatch.setattr(backends, "resolve_device", lambda requested: "cuda")
    backends.VoidBackend(backends.BackendSettings(model=make_tiny_model(tmp_path / "m"), device="auto"))
    assert seen["dtype"] is None and seen["device"] == "cuda"
