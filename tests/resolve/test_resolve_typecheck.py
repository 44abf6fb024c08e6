"""mypy checks both menu scripts and the host-free core against fusionscript-stubs (PyPI),
so a misspelt Resolve API call fails CI even where the fakes would accept it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import COMP_SCRIPT, EDIT_SCRIPT, PLUGIN

pytest.importorskip("mypy", reason="mypy is not installed: pip install -c constraints.txt mypy fusionscript-stubs")


def _stubs_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("fusionscript-stubs") is not None


def _mypy(tmp_path, *targets, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(PLUGIN / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            *map(str, targets),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def test_edit_page_script_type_checks_against_fusionscript_stubs(tmp_path):
    assert _stubs_installed(), "fusionscript-stubs is not installed: pip install -c constraints.txt fusionscript-stubs"
    proc = _mypy(tmp_path, EDIT_SCRIPT, PLUGIN / "void_resolve", PLUGIN / "install_resolve.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_fusion_page_script_type_checks_strictly(tmp_path):
    # Checked on its own: both scripts are modules named "VOID Remove Object" to mypy.
    proc = _mypy(tmp_path, COMP_SCRIPT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_type_check_finds_bridge_when_run_from_outside_the_repository(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    proc = _mypy(tmp_path, PLUGIN / "void_resolve", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_a_misspelt_resolve_call_fails_the_type_check(tmp_path):
    # The same core with one API name misspelt: the stubs, not the fakes, must catch it.
    copy = tmp_path / "void_resolve"
    shutil.copytree(PLUGIN / "void_resolve", copy)
    page = copy / "edit_page.py"
    text = page.read_text()
    assert "item.GetSourceStartFrame()" in text
    page.write_text(text.replace("item.GetSourceStartFrame()", "item.GetSourceStartFrames()"))
    proc = _mypy(tmp_path, copy)
    assert proc.returncode != 0
    assert "GetSourceStartFrames" in proc.stdout and "attr-defined" in proc.stdout
