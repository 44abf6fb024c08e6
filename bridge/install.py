"""`void-bridge install nuke|resolve`: lay a host plugin out in one folder the host already loads.

Nothing is pip-installed into the host's Python. The folder gets the plugin files, the
``bridge`` package, and pyzmq + msgpack built for the host's Python version and platform,
unpacked under ``<dest>/python`` (binary wheels cannot be imported from a zip, so they are
unpacked; the ``.whl`` files are kept in ``<dest>/wheels`` for the record):

    <dest>/init.py, menu.py, void_nuke/ ...   the plugin (copied from host_plugins/<host>)
    <dest>/python/bridge/ zmq/ msgpack/ ...   what the plugin imports
    <dest>/wheels/*.whl                       the wheels that were unpacked (when downloaded)
    <dest>/VOID_BUNDLE.txt                    what was installed, for whom

For this machine's own Python the installed distributions are copied (no network); for another
version/platform pip downloads binary wheels (``--only-binary=:all: --no-deps``).
Other hosts' installers call :func:`install_bundle` with their own layout (``resolve`` is handed
to host_plugins/resolve/install_resolve.py).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

PACKAGES = ("pyzmq", "msgpack")
# Import names each distribution must provide in the bundle (checked after laying it out).
IMPORT_NAMES = {"pyzmq": "zmq", "msgpack": "msgpack"}
PYTHON_FOLDER = "python"
WHEELS_FOLDER = "wheels"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "mypy.ini")

# Nuke's Python per major release (Foundry's release notes); the README repeats this table.
NUKE_PYTHON = {"13": "3.7", "14": "3.9", "15": "3.10", "16": "3.11"}


class InstallError(RuntimeError):
    """The bundle cannot be made; the message says what is missing."""


# Nuke loads the plugin folder itself (init.py/menu.py); Resolve's scripts go into Fusion's
# folders, which its own installer (host_plugins/resolve) lays out on top of install_bundle.
NUKE_DEFAULT_DEST = "~/.nuke/void"
RESOLVE_INSTALLER = Path("resolve") / "install_resolve.py"


@dataclass(frozen=True)
class Bundle:
    """What :func:`install_bundle` laid out."""

    dest: Path
    python_dir: Path
    python_version: str
    platforms: tuple[str, ...]
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version
    wheels: tuple[Path, ...] = ()


def this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def this_platform() -> str:
    """This interpreter's platform as a wheel tag (``linux_x86_64``, ``win_amd64``...)."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def default_platforms(platform_name: str | None = None) -> tuple[str, ...]:
    """Wheel platform tags to ask pip for, for ``linux``/``windows``/``macos`` (default: this OS)."""
    name = platform_name or sys.platform
    if name.startswith("linux"):
        return ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
    if name.startswith(("win", "cygwin")):
        return ("win_amd64",)
    if name.startswith(("darwin", "mac")):
        return ("macosx_11_0_arm64", "macosx_10_9_x86_64", "macosx_10_9_universal2")
    return (name,)


def plugins_root() -> Path:
    """The repository's ``host_plugins`` folder (beside the ``bridge`` package)."""
    root = Path(__file__).resolve().parent.parent / "host_plugins"
    if not root.is_dir():
        raise InstallError(
            f"{root}: host_plugins not found beside the bridge package; "
            "run void-bridge install from a VOID Bridge checkout"
        )
    return root


def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=_SKIP, dirs_exist_ok=True)


def _copy_installed(dist_name: str, python_dir: Path) -> str:
    """Copy an installed distribution's files (package, bundled libs, dist-info); returns its version."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise InstallError(
            f"{dist_name} is not installed in {sys.executable}; install it or give --python-version to download wheels"
        ) from None
    for f in dist.files or ():
        rel = Path(str(f))
        if rel.parts and rel.parts[0] == ".." or "__pycache__" in rel.parts:
            continue  # console scripts live outside site-packages; caches are rebuilt
        src = Path(str(dist.locate_file(f)))
        if not src.is_file():
            continue
        target = python_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dist.version


def download_wheels(
    packages: Sequence[str], python_version: str, platforms: Sequence[str], wheel_dir: Path
) -> list[Path]:
    """``pip download`` binary wheels of ``packages`` for another Python version/platform."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--only-binary=:all:",
        "--no-deps",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--dest",
        str(wheel_dir),
    ]
    for tag in platforms:
        cmd += ["--platform", tag]
    cmd += list(packages)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise InstallError(
            f"pip could not download {', '.join(packages)} for Python {python_version} on "
            f"{', '.join(platforms)}:\n{tail}"
        )
    return sorted(wheel_dir.glob("*.whl"))


def _unpack_wheel(wheel: Path, python_dir: Path) -> tuple[str, str]:
    """Unpack a wheel (a zip in site-packages layout); returns (distribution, version)."""
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            # Wheels are trusted registry files, but a path that leaves the folder is still refused.
            target = (python_dir / member).resolve()
            if python_dir.resolve() not in target.parents:
                raise InstallError(f"{wheel.name}: member {member!r} would be written outside {python_dir}")
        zf.extractall(python_dir)
    name, version = wheel.name.split("-")[:2]
    return name.replace("_", "-").lower(), version


def install_bundle(
    dest: Path | str,
    plugin_dirs: Sequence[Path | str],
    python_version: str | None = None,
    platform: str | Sequence[str] | None = None,
    *,
    packages: Sequence[str] = PACKAGES,
    host: str = "",
) -> Bundle:
    """Lay out ``dest`` with ``plugin_dirs`` (their contents), ``bridge`` and ``packages``.

    ``python_version`` ("3.10") and ``platform`` (wheel tag(s)) name the host's Python; both
    default to this interpreter's, in which case the installed distributions are copied.
    Returns what was laid out; raises InstallError saying what is missing.
    """
    dest = Path(dest).expanduser().resolve()
    python_dir = dest / PYTHON_FOLDER
    python_dir.mkdir(parents=True, exist_ok=True)
    for d in plugin_dirs:
        d = Path(d)
        if not d.is_dir():
            raise InstallError(f"{d}: plugin folder not found")
        _copy_tree(d, dest)
    bridge_src = Path(__file__).resolve().parent
    _copy_tree(bridge_src, python_dir / "bridge")

    version = python_version or this_python()
    if isinstance(platform, str):
        platforms: tuple[str, ...] = (platform,)
    else:
        platforms = tuple(platform or ())
    local = version == this_python() and (not platforms or platforms == (this_platform(),))
    versions: dict[str, str] = {}
    wheels: list[Path] = []
    if local:
        platforms = (this_platform(),)
        for name in packages:
            versions[name] = _copy_installed(name, python_dir)
    else:
        platforms = platforms or default_platforms()
        wheels = download_wheels(packages, version, platforms, dest / WHEELS_FOLDER)
        for wheel in wheels:
            name, v = _unpack_wheel(wheel, python_dir)
            versions[name] = v
    missing = [IMPORT_NAMES.get(p, p) for p in packages if not (python_dir / IMPORT_NAMES.get(p, p)).is_dir()]
    if missing:
        raise InstallError(f"{dest}: the bundle lacks {', '.join(missing)} after installing")
    from bridge import __version__ as bridge_version

    lines = [
        f"host: {host or 'generic'}",
        f"python: {version}",
        f"platforms: {' '.join(platforms)}",
        f"bridge: {bridge_version}",
    ] + [f"{k}: {v}" for k, v in sorted(versions.items())]
    (dest / "VOID_BUNDLE.txt").write_text("\n".join(lines) + "\n")
    return Bundle(dest, python_dir, version, platforms, versions, tuple(wheels))


# ---------------------------------------------------------------------------------------------
# the CLI subcommand (wired into bridge/cli.py by its owner)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", choices=("nuke", "resolve"), help="which host to install for")
    parser.add_argument(
        "--dest",
        type=Path,
        help=f"folder to install into (nuke: {NUKE_DEFAULT_DEST}; resolve: Resolve's per-user Fusion folder)",
    )
    parser.add_argument(
        "--python-version",
        help="the host's Python, e.g. 3.10 for Nuke 15 "
        f"({', '.join(f'Nuke {k}: {v}' for k, v in NUKE_PYTHON.items())}); default: this Python",
    )
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        help="wheel platform tag (repeatable), e.g. manylinux2014_x86_64, win_amd64; default: this machine's",
    )


def _run_resolve(args: argparse.Namespace) -> int:
    """Hand over to the Resolve installer (host_plugins/resolve/install_resolve.py)."""
    import importlib.util

    path = plugins_root() / RESOLVE_INSTALLER
    spec = importlib.util.spec_from_file_location("install_resolve", path)
    if spec is None or spec.loader is None or not path.is_file():
        print(f"void-bridge install: {path} not found", file=sys.stderr)
        return 2
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.run(args))


def run(args: argparse.Namespace) -> int:
    if args.host == "resolve":
        return _run_resolve(args)
    dest = Path(args.dest or NUKE_DEFAULT_DEST).expanduser()
    try:
        bundle = install_bundle(dest, [plugins_root() / "nuke"], args.python_version, args.platforms, host="nuke")
    except InstallError as exc:
        print(f"void-bridge install: {exc}", file=sys.stderr)
        return 2
    pkgs = ", ".join(f"{k} {v}" for k, v in sorted(bundle.packages.items()))
    print(f"Installed the VOID Nuke plugin for Python {bundle.python_version} ({pkgs}) in {bundle.dest}")
    print(f"Add this line to ~/.nuke/init.py (or put {bundle.dest} on NUKE_PATH instead):")
    print(f'nuke.pluginAddPath(r"{bundle.dest}")')
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="void-bridge install")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
