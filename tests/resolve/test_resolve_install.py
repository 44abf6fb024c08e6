"""Install test: the scripts laid out by ``install_resolve`` run in a bare interpreter whose path
holds only the install folder, the standard library and the fakes, against a real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from install_resolve import default_fusion_dir, install_resolve

from .conftest import FAKES

SQUARE = [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_resolve(tmp_path_factory.mktemp("resolve_install") / "Fusion")


def _run_bare(script: Path, page: str, scene: dict, tmp_path: Path, env_extra: dict) -> dict:
    spec = tmp_path / f"{page}_scene.json"
    out = tmp_path / f"{page}_out.json"
    spec.write_text(json.dumps({"page": page, "script": str(script), "scene": scene}))
    code = (
        "import sys; sys.path[:0] = [%r]; from fake_resolve.host import driver_main; "
        "sys.exit(driver_main([%r, %r]))" % (str(FAKES), str(spec), str(out))
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VOID_FAKE_RENDER_PYTHON": sys.executable,
        "VOID_BRIDGE_TOKEN": "resolve-install-token",
        "VOID_FAKE_MAX_LOOP_S": "40",
        **env_extra,
    }
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_install_lays_scripts_into_fusion_scripts_folders(installed):
    root = installed["support"].parent
    for page in ("Comp", "Edit"):
        script = root / "Scripts" / page / "VOID Remove Object.py"
        assert script == installed[page] and script.is_file()
        assert f"_SUPPORT_DIR = {str(installed['python'])!r}" in script.read_text()
    for package in ("bridge", "void_resolve", "zmq", "msgpack"):
        assert (installed["python"] / package / "__init__.py").is_file()
    assert "python: %d.%d" % sys.version_info[:2] in (installed["support"] / "VOID_BUNDLE.txt").read_text()


def test_default_folders_per_os():
    home = Path("/home/ed")
    assert default_fusion_dir("linux", {}, home) == home / ".local/share/DaVinciResolve/Fusion"
    assert (
        default_fusion_dir("darwin", {}, home)
        == home / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion"
    )
    assert default_fusion_dir("win32", {"APPDATA": "C:/Users/ed/AppData/Roaming"}, home) == Path(
        "C:/Users/ed/AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion"
    )


def test_installed_fusion_script_runs_in_a_bare_interpreter(installed, engine, shot, work, tmp_path):
    eng = engine("preview")
    scene = {
        "plate": str(shot.path(shot.plate, 1001)),
        "render_range": [1001, 1003],
        "global_in": 1001,
        "size": [shot.width, shot.height],
        "masks": [{"name": "remove", "points": SQUARE}],
    }
    s = _run_bare(
        installed["Comp"],
        "fusion",
        scene,
        tmp_path,
        {"VOID_ENGINE": eng.endpoint, "VOID_WORK_DIR": str(work), "VOID_TIMEOUT": "3"},
    )
    assert s["record"]["state"] == "done", s["record"]
    loader = next(t for t in s["tools"] if t["regid"] == "Loader")
    assert (loader["inputs"]["GlobalIn"], loader["inputs"]["GlobalOut"]) == (1001, 1003)
    python = str(installed["python"])
    for name in ("bridge", "void_resolve", "zmq", "msgpack"):
        assert s["module_files"][name].startswith(python), (name, s["module_files"][name])
    assert s["module_files"]["numpy"] is None and s["module_files"]["OpenImageIO"] is None
    assert not any("site-packages" in p for p in s["sys_path"])


def test_installed_edit_script_runs_in_a_bare_interpreter(installed, engine, shot, work, tmp_path):
    eng = engine("preview")
    scene = {
        "source": shot.plate.replace("####", "%04d"),
        "first": 1001,
        "last": 1008,
        "kind": "sequence",
        "record_start": 86448,
        "cut_first": 1002,
        "cut_duration": 4,
        "mattes": [shot.remove_matte.replace("####", "[1001-1008]")],
    }
    s = _run_bare(
        installed["Edit"],
        "edit",
        scene,
        tmp_path,
        {"VOID_ENGINE": eng.endpoint, "VOID_WORK_DIR": str(work), "VOID_TIMEOUT": "3", "VOID_HANDLES": "1"},
    )
    assert s["record"]["state"] == "done", s["record"]
    placed = s["tracks"]["2"][0]
    assert (placed["start"], placed["duration"], placed["source_start"]) == (86448, 4, 1002)
    bin_ = next(f for f in s["media_pool"]["folders"] if f["name"] == "VOID")
    assert [(c["start"], c["end"]) for c in bin_["clips"]] == [(1001, 1006)]
