"""`void-bridge install nuke`: the bundle alone (plus the standard library and the fake Nuke) runs the action."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from pathlib import Path

from .nuke_helpers import FAKES, link_fake_render_deps, write_plate

CHILD = r"""
import json, sys
bundle, fakes, deps, plate, address = sys.argv[1:6]
sys.path[:0] = [fakes, deps]
import nuke, nukescripts
nuke.fake_reset(gui=True)
nuke.pluginAddPath(bundle)
for script in ("init.py", "menu.py"):  # what Nuke does with every plugin path at start-up
    path = bundle + "/" + script
    exec(compile(open(path).read(), path, "exec"), {"__file__": path, "__name__": script[:-3]})
nuke.root().fake_set_format(64, 32)
read = nuke.nodes.Read(file=plate, first=1, last=2)
roto = nuke.nodes.Roto()
roto.fake_shape = (20, 10, 30, 20)
read.setSelected(True); roto.setSelected(True)
def artist(panel):
    panel.fake_set("prompt", "clean wall")
    panel.fake_set("engine", address)
nukescripts.fake_on_modal = artist
nuke.toolbar("Nodes").findItem("VOID/Remove Object...").invoke()
import void_nuke.action
job = void_nuke.action.JOBS[-1]
nuke.fake_process_events(until=job.finished.is_set, timeout=40)
import bridge, msgpack, zmq, void_nuke
result = nuke.toNode(job.outcome.read_node) if job.outcome.read_node else None
print(json.dumps({
    "state": job.outcome.state, "message": job.outcome.message,
    "file": str(result["file"].value()) if result else None,
    "modules": [m.__file__ for m in (bridge, msgpack, zmq, void_nuke)],
    "site_packages": [p for p in sys.path if "site-packages" in p],
}))
"""


def _install(dest: Path) -> int:
    from bridge import install

    parser = argparse.ArgumentParser()
    install.add_arguments(parser)
    return install.run(parser.parse_args(["nuke", "--dest", str(dest)]))


def test_install_lays_out_plugin_bridge_and_binary_packages(tmp_path, capsys):
    dest = tmp_path / "void"
    assert _install(dest) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f'nuke.pluginAddPath(r"{dest.resolve()}")'
    for rel in (
        "init.py",
        "menu.py",
        "void_nuke/runner.py",
        "python/bridge/client.py",
        "python/zmq/__init__.py",
        "python/msgpack/__init__.py",
        "VOID_BUNDLE.txt",
    ):
        assert (dest / rel).is_file(), rel
    assert not list(dest.rglob("__pycache__"))
    bundle_txt = (dest / "VOID_BUNDLE.txt").read_text()
    assert f"python: {sys.version_info.major}.{sys.version_info.minor}" in bundle_txt and "pyzmq: " in bundle_txt


def test_installed_bundle_runs_the_action_in_a_bare_interpreter(tmp_path, engine, monkeypatch):
    dest = tmp_path / "void"
    assert _install(dest) == 0
    # zmq/msgpack must come from the bundle alone: the child sees only the fake renderer's packages.
    deps = link_fake_render_deps(tmp_path / "fake_render_deps")
    address, root = engine
    plate = write_plate(root / uuid.uuid4().hex[:8], range(1, 3), size=(32, 64))

    # -I: no PYTHONPATH, no user site; -S: no site-packages. Only stdlib + the folders named.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD, str(dest), str(FAKES), str(deps), plate, address],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"VOID_BRIDGE_TOKEN": "nuke-install-test", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["state"] == "done", report
    assert report["site_packages"] == []
    for module_file in report["modules"]:
        assert Path(module_file).is_relative_to(dest), module_file
    assert Path(report["file"]).parent.name == "v001" and Path(report["file"]).parent.is_dir()


def test_install_resolve_is_handed_to_the_resolve_installer(tmp_path, capsys):
    from bridge import install

    parser = argparse.ArgumentParser()
    install.add_arguments(parser)
    assert install.run(parser.parse_args(["resolve", "--dest", str(tmp_path / "Fusion")])) == 0
    assert (tmp_path / "Fusion" / "Scripts" / "Comp").is_dir()
    assert any((tmp_path / "Fusion").rglob("zmq/__init__.py"))


def test_wheels_for_another_python_are_unpacked_not_pip_installed(tmp_path, monkeypatch):
    """Another host Python: pip download's wheels are unpacked into python/ (pip itself is faked
    here by writing the two wheels it would fetch; the network is not part of the test)."""
    import zipfile

    from bridge import install

    calls = []

    def fake_download(packages, python_version, platforms, wheel_dir):
        calls.append((tuple(packages), python_version, tuple(platforms)))
        wheel_dir.mkdir(parents=True)
        made = []
        for dist, mod in (("pyzmq", "zmq"), ("msgpack", "msgpack")):
            whl = wheel_dir / f"{dist}-9.9-cp310-cp310-win_amd64.whl"
            with zipfile.ZipFile(whl, "w") as zf:
                zf.writestr(f"{mod}/__init__.py", "")
            made.append(whl)
        return made

    monkeypatch.setattr(install, "download_wheels", fake_download)
    bundle = install.install_bundle(tmp_path / "b", [], "3.10", "win_amd64", host="nuke")
    assert calls == [(("pyzmq", "msgpack"), "3.10", ("win_amd64",))]
    assert bundle.packages == {"pyzmq": "9.9", "msgpack": "9.9"}
    assert (tmp_path / "b/python/zmq/__init__.py").is_file() and (tmp_path / "b/wheels").is_dir()


def test_void_bridge_install_command_prints_the_line_to_add(tmp_path):
    dest = tmp_path / "nuke_void"
    res = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "install", "nuke", "--dest", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert f'nuke.pluginAddPath(r"{dest}")' in res.stdout
    assert (dest / "menu.py").is_file() and (dest / "python" / "bridge" / "client.py").is_file()
    assert (dest / "python" / "zmq").is_dir() and (dest / "python" / "msgpack").is_dir()
