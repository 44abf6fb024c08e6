"""`void-bridge install resolve`: the two menu scripts into Resolve's Fusion/Scripts folders.

Layout under ``dest`` (Resolve's per-user ``Fusion`` folder by default, see :func:`default_fusion_dir`):

    Scripts/Comp/VOID Remove Object.py   Fusion page: Workspace > Scripts > Comp
    Scripts/Edit/VOID Remove Object.py   Edit page:   Workspace > Scripts > Edit
    VOIDBridge/python/                   bridge, void_resolve, pyzmq, msgpack (for Resolve's Python)
    VOIDBridge/VOID_BUNDLE.txt           what was installed, for which Python

The shared part (``bridge`` + pyzmq/msgpack wheels matching the host's Python) is
:func:`bridge.install.install_bundle`; this module adds the Resolve layout and writes the
support folder's path into each installed script, so nothing is pip-installed into
Resolve's Python and nothing depends on Resolve's environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Mapping, Sequence

from bridge.install import InstallError, install_bundle

HERE = Path(__file__).resolve().parent
SCRIPT_NAME = "VOID Remove Object.py"
PAGES = ("Comp", "Edit")
SUPPORT = "VOIDBridge"
_MARK = '_SUPPORT_DIR = ""'


def default_fusion_dir(
    platform: str | None = None, env: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """Resolve's per-user ``Fusion`` folder (its ``Scripts`` subfolders feed Workspace > Scripts).

    macOS ``~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion``; Windows
    ``%APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion``; Linux
    ``~/.local/share/DaVinciResolve/Fusion``.
    """
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home or Path.home()
    if platform.startswith("darwin"):
        return home / "Library" / "Application Support" / "Blackmagic Design" / "DaVinci Resolve" / "Fusion"
    if platform.startswith(("win", "cygwin")):
        appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        return appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion"
    return home / ".local" / "share" / "DaVinciResolve" / "Fusion"


def _install_script(page: str, dest: Path, support_python: Path) -> Path:
    text = (HERE / page / SCRIPT_NAME).read_text(encoding="utf-8")
    if text.count(_MARK) != 1:
        raise InstallError(f"{HERE / page / SCRIPT_NAME}: expected one `{_MARK}` line to fill in")
    target = dest / "Scripts" / page / SCRIPT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(_MARK, f"_SUPPORT_DIR = {str(support_python)!r}"), encoding="utf-8")
    return target


def install_resolve(
    dest: Path | str | None = None, python_version: str | None = None, platform: str | Sequence[str] | None = None
) -> dict[str, Path]:
    """Install both scripts and their support folder under ``dest`` (default: this user's Fusion folder).

    ``python_version`` ("3.11") and ``platform`` (wheel tags) name the Python Resolve runs
    scripts with; both default to this interpreter. Returns the installed paths by name.
    Raises InstallError saying what is missing.
    """
    root = Path(dest).expanduser().resolve() if dest else default_fusion_dir()
    support = root / SUPPORT
    bundle = install_bundle(support, [], python_version, platform, host="resolve")
    core = bundle.python_dir / "void_resolve"
    if core.exists():
        shutil.rmtree(core)
    shutil.copytree(HERE / "void_resolve", core, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = {"support": support, "python": bundle.python_dir}
    for page in PAGES:
        out[page] = _install_script(page, root, bundle.python_dir)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", type=Path, help=f"Resolve's Fusion folder (default: {default_fusion_dir()})")
    parser.add_argument("--python-version", help="the Python Resolve uses for scripts, e.g. 3.11 (default: this one)")
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        help="wheel platform tag (repeatable), e.g. win_amd64, macosx_11_0_arm64",
    )


def run(args: argparse.Namespace) -> int:
    try:
        paths = install_resolve(args.dest, args.python_version, args.platforms)
    except InstallError as exc:
        print(f"void-bridge install resolve: {exc}", file=sys.stderr)
        return 2
    print(
        f"Installed VOID Remove Object for Resolve:\n  Fusion page: {paths['Comp']}\n  Edit page:   {paths['Edit']}\n"
        f"  support:     {paths['support']}\nOpen Workspace > Scripts in Resolve (no restart needed)."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="void-bridge install resolve")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
