"""config/weights.toml: the real manifest matches the loader's layout; bad manifests are named errors."""

from __future__ import annotations

import pytest

from void_engine.pipeline.model_dir import BASE_FOLDER, BASE_SUBFOLDERS, PASS1_FILE, PASS2_FILE
from void_engine.weights import ManifestError, load_manifest
from void_engine.weights.manifest import DEFAULT_CONFIG, SAM2_SIZES


def test_weights_real_manifest_matches_model_dir_layout():
    manifest = load_manifest(DEFAULT_CONFIG)
    base = next(c for c in manifest.components if c.name == "base")
    assert base.repo == "alibaba-pai/CogVideoX-Fun-V1.5-5b-InP" and base.dest == BASE_FOLDER
    assert {f.split("/")[0] for f in base.files} == set(BASE_SUBFOLDERS)  # only what the pipeline loads
    always = [str(wf.rel) for wf in manifest.files(manifest.select())]
    assert always[-1] == PASS1_FILE and PASS2_FILE not in always
    assert PASS2_FILE in [str(wf.rel) for wf in manifest.files(manifest.select(with_pass2=True))]
    for size in SAM2_SIZES:
        (sam2,) = [c for c in manifest.select(sam2=size) if c.when.startswith("sam2:")]
        assert sam2.repo == f"facebook/sam2.1-hiera-{size}" and sam2.dest == "sam2"
        assert sam2.files == (f"sam2.1_hiera_{size.replace('-', '_')}.pt",)
    void = {c.repo for c in manifest.components if c.name in ("pass1", "pass2")}
    assert void == {"netflix/void-model"}


def test_weights_manifest_env_override(tmp_path, monkeypatch):
    path = tmp_path / "w.toml"
    path.write_text('[component.pass1]\nrepo = "a/b"\nfiles = ["x.safetensors"]\n')
    monkeypatch.setenv("VOID_WEIGHTS_CONFIG", str(path))
    assert load_manifest().components[0].repo == "a/b"


@pytest.mark.parametrize(
    "body, needle",
    [
        ('[component.x]\nrepo = "nope"\nfiles = ["a"]\n', "repo must be 'owner/name'"),
        ('[component.x]\nrepo = "a/b"\nfiles = []\n', "files must be a non-empty list"),
        ('[component.x]\nrepo = "a/b"\nfiles = ["a"]\ncolour = 1\n', "unknown key(s) colour"),
        ('[component.x]\nrepo = "a/b"\ndest = "../up"\nfiles = ["a"]\n', "dest must be a relative folder"),
        ('[component.x]\nrepo = "a/b"\nwhen = "sometimes"\nfiles = ["a"]\n', "when must be"),
        (
            '[component.x]\nrepo = "a/b"\nfiles = ["a"]\n[component.y]\nrepo = "c/d"\nfiles = ["a"]\n',
            "also produced by [component.x]",
        ),
        ("x = 1\n", "no [component.NAME] tables"),
        ("[component\n", "cannot read"),
    ],
)
def test_weights_bad_manifest_is_named(tmp_path, body, needle):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_weights_unknown_sam2_size(tmp_path):
    with pytest.raises(ManifestError, match="known sizes: base-plus, large, small, tiny"):
        load_manifest(DEFAULT_CONFIG).select(sam2="huge")
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "absent.toml")
