"""Rules the Nuke plugin keeps: what it imports, its API use type-checks, its menu, a safe start-up."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import types
from pathlib import Path

from .nuke_helpers import PLUGIN, REPO

ALLOWED_ROOTS = {"bridge", "nuke", "nukescripts", "void_nuke"}


def _plugin_files() -> list[Path]:
    return sorted(p for p in PLUGIN.rglob("*.py") if "__pycache__" not in p.parts)


def test_plugin_imports_only_stdlib_bridge_and_nuke():
    offenders = []
    for path in _plugin_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root not in ALLOWED_ROOTS and root not in sys.stdlib_module_names:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
    assert len(_plugin_files()) >= 10
    assert offenders == []


def test_plugin_parses_as_python_3_7_for_nuke_13():
    for path in _plugin_files():
        ast.parse(path.read_text(), str(path), feature_version=(3, 7))  # raises SyntaxError naming the line


# Standard-library calls that exist only from Python 3.8 on (Nuke 13 runs 3.7): keyword arguments
# and methods. ast.parse(feature_version=...) checks syntax only, not these.
_PY38_KEYWORDS = {"missing_ok": "Path.unlink(missing_ok=...)", "dirs_exist_ok": "copytree(dirs_exist_ok=...)"}
_PY38_METHODS = {"removeprefix", "removesuffix", "is_relative_to", "with_stem", "bit_count"}
_PY38_MODULES = {"importlib.metadata", "functools.cached_property"}


def _python38_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path), feature_version=(3, 7))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in _PY38_KEYWORDS:
            found.append(f"{path.name}:{node.value.lineno} {_PY38_KEYWORDS[node.arg]}")
        elif isinstance(node, ast.Attribute) and node.attr in _PY38_METHODS:
            found.append(f"{path.name}:{node.lineno} .{node.attr}()")
        elif isinstance(node, ast.Import) and {a.name for a in node.names} & _PY38_MODULES:
            found.append(f"{path.name}:{node.lineno} import {node.names[0].name}")
        elif isinstance(node, ast.ImportFrom) and node.module in _PY38_MODULES:
            found.append(f"{path.name}:{node.lineno} from {node.module} import ...")
    return found


def test_bundled_bridge_and_plugin_avoid_python_3_8_calls_for_nuke_13():
    # What a host imports from the bundle: everything in bridge/ but the install/CLI tools, which
    # run on the studio's own Python.
    bundle = [p for p in sorted((REPO / "bridge").glob("*.py")) if p.name not in ("install.py", "cli.py")]
    found = [hit for path in bundle + _plugin_files() for hit in _python38_calls(path)]
    assert found == []


def _mypy(tree_root: Path, cache: Path) -> subprocess.CompletedProcess:
    import importlib.util

    missing = [
        m
        for m in ("mypy", "nuke-stubs")
        if importlib.util.find_spec(m.replace("-", "_")) is None
        and not any((Path(p) / m).is_dir() for p in sys.path if p)
    ]
    assert not missing, f"{missing} not installed: requirements.txt needs mypy and types-nuke (the nuke stubs)"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(tree_root / "host_plugins/nuke/mypy.ini"),
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            "host_plugins/nuke",
        ],
        cwd=tree_root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_type_checks_against_types_nuke(tmp_path):
    proc = _mypy(REPO, tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_type_check_catches_a_misspelt_nuke_call(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(PLUGIN, tree / "host_plugins/nuke", ignore=shutil.ignore_patterns("__pycache__"))
    nodes_py = tree / "host_plugins/nuke/void_nuke/nodes.py"
    text = nodes_py.read_text()
    assert "nuke.execute(write, frame, frame)" in text
    nodes_py.write_text(text.replace("nuke.execute(write, frame, frame)", "nuke.exeucte(write, frame, frame)"))
    proc = _mypy(tree, tmp_path / "cache")
    assert proc.returncode != 0 and 'has no attribute "exeucte"' in proc.stdout


def _run_startup_script(name: str) -> None:
    path = PLUGIN / name
    exec(compile(path.read_text(), str(path), "exec"), {"__file__": str(path), "__name__": name[:-3]})


def test_menu_registers_remove_object_in_the_nodes_toolbar_with_a_hotkey(fake_nuke):
    from void_nuke import COMMAND_NAME, HOTKEY

    _run_startup_script("menu.py")
    item = fake_nuke.toolbar("Nodes").findItem(COMMAND_NAME)
    assert item is not None and item.shortcut() == HOTKEY
    assert fake_nuke.menu("Nuke").findItem(COMMAND_NAME) is not None
    item.invoke()  # with nothing selected the command answers with a message, not an exception
    assert fake_nuke.fake_state.messages[-1].startswith("Select the plate")


def test_a_broken_plugin_logs_its_traceback_and_nuke_starts(fake_nuke, monkeypatch, capsys):
    broken = types.ModuleType("void_nuke.menu_setup")

    def register() -> None:
        raise ImportError("no module named zmq")

    broken.register = register  # type: ignore[attr-defined]
    import void_nuke

    monkeypatch.setitem(sys.modules, "void_nuke.menu_setup", broken)
    monkeypatch.setattr(void_nuke, "menu_setup", broken, raising=False)
    _run_startup_script("menu.py")  # must not raise
    err = capsys.readouterr()
    assert "Traceback" in err.err and "no module named zmq" in err.err
    assert "could not be registered" in err.out


def test_init_puts_the_bundled_packages_first_on_sys_path(tmp_path, monkeypatch):
    plugin = tmp_path / "void"
    shutil.copytree(PLUGIN, plugin, ignore=shutil.ignore_patterns("__pycache__"))
    (plugin / "python").mkdir()
    saved = {m: sys.modules.pop(m) for m in list(sys.modules) if m == "void_nuke" or m.startswith("void_nuke.")}
    monkeypatch.setattr(sys, "path", [str(plugin)] + sys.path)  # what nuke.pluginAddPath does
    try:
        exec(compile((plugin / "init.py").read_text(), "init.py", "exec"), {"__name__": "init"})
        assert sys.path[0] == str(plugin / "python")
        assert sys.modules["void_nuke"].__file__ == str(plugin / "void_nuke" / "__init__.py")
    finally:
        for m in [m for m in sys.modules if m == "void_nuke" or m.startswith("void_nuke.")]:
            del sys.modules[m]
        sys.modules.update(saved)


BROKEN_INSTALL_CHILD = r"""
import sys
plugin, fakes, deps = sys.argv[1:4]
sys.path[:0] = [fakes, deps]
import nuke
nuke.fake_reset(gui=True)
nuke.pluginAddPath(plugin)
for script in ("init.py", "menu.py"):
    path = plugin + "/" + script
    exec(compile(open(path).read(), path, "exec"), {"__file__": path, "__name__": script[:-3]})
nuke.toolbar("Nodes").findItem("VOID/Remove Object...").invoke()
print("MESSAGE:", repr(nuke.fake_state.messages[-1]))
"""


def test_a_broken_install_keeps_the_menu_and_the_click_says_how_to_reinstall(tmp_path):
    from .nuke_helpers import FAKES, link_fake_render_deps

    plugin = tmp_path / "void"  # the plugin without its python/ folder: no bridge, zmq, msgpack
    shutil.copytree(PLUGIN, plugin, ignore=shutil.ignore_patterns("__pycache__"))
    deps = link_fake_render_deps(tmp_path / "deps")
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", BROKEN_INSTALL_CHILD, str(plugin), str(FAKES), str(deps)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    message = proc.stdout.strip().splitlines()[-1]
    assert "bridge" in message and "zmq" in message and str(plugin / "python") in message
    assert f"void-bridge install nuke --dest {plugin}" in message
    assert "VOID can't find its packages" in proc.stdout.splitlines()[0]  # init.py said it at start-up
