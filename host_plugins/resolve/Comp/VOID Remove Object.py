"""VOID Remove Object (Fusion page: Workspace > Scripts > Comp).

Renders the comp's plate (MediaIn or Loader) and the mask marked "remove" (optionally one
marked "affected") to EXR over the render range, sends them to the VOID engine, shows progress
with a Cancel button, and adds a Loader on the cleaned frames wired where the plate was.

Resolve runs this with ``fusion``, ``comp`` and ``bmd`` already defined. It imports only the
standard library, ``bridge`` and ``void_resolve`` (laid beside it by ``void-bridge install
resolve``): nothing is pip-installed into Resolve's Python.
"""

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from void_resolve.fusion_comp import FusionRemoveAction

# `void-bridge install resolve` writes here the folder holding `bridge`, `void_resolve` and the
# pyzmq/msgpack built for Resolve's Python (.../Fusion/VOIDBridge/python).
_SUPPORT_DIR = ""


def _add_support_path() -> None:
    candidates = [_SUPPORT_DIR, os.environ.get("VOID_BRIDGE_PATH", "")]
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        candidates.append(os.path.join(here, "..", "..", "VOIDBridge", "python"))
    except NameError:  # Resolve may run the script without __file__
        pass
    for folder in candidates:
        if folder and os.path.isdir(os.path.join(folder, "void_resolve")):
            folder = os.path.abspath(folder)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            return


def main(host: "dict[str, Any]") -> Any:
    """Run the Fusion-page action with the host's globals; returns the run record (or None)."""
    _add_support_path()
    try:
        from void_resolve.fusion_comp import FusionRemoveAction
        from void_resolve.session import WindowSession, run_headless
        from void_resolve.settings import settings_from_env
    except ImportError as exc:
        print(
            f"[VOID] Cannot load the VOID bridge ({exc}). Reinstall it with `void-bridge install resolve "
            f"--python-version {sys.version_info[0]}.{sys.version_info[1]}` (the Python Resolve uses)."
        )
        return None
    fusion = host.get("fusion") or host.get("fu")
    comp = host.get("comp") or (fusion.GetCurrentComp() if fusion else None)
    try:
        settings = settings_from_env()
    except ValueError as exc:
        print(f"[VOID] {exc}")
        return None

    def prepare() -> "FusionRemoveAction":
        if comp is None:
            raise ValueError("No Fusion comp is open: open the Fusion page on the shot to clean.")
        return FusionRemoveAction(comp, settings)

    bmd = host.get("bmd")
    if os.environ.get("VOID_HEADLESS") or fusion is None or bmd is None or not getattr(fusion, "UIManager", None):
        return run_headless(prepare, settings.prompt)
    return WindowSession(fusion, bmd, settings.prompt).run(prepare)


VOID_RUN = main(globals())
