"""VOID Remove Object (Edit page: Workspace > Scripts > Edit).

For the clip under the playhead: sends its source frames over the cut plus handles (rendered
to EXR through the render queue when the source is not an image sequence) with the clip's
mattes marked "remove"/"affected" to the VOID engine, shows progress with a Cancel button, then
imports the result into the media pool's "VOID" bin under a versioned name and lays it on the
track above the clip at the same record frames.

Resolve runs this with ``resolve``, ``fusion`` and ``bmd`` defined (menu scripts work in the free
and Studio versions); run from outside Resolve it connects through ``DaVinciResolveScript``
(Studio only) and reports progress on the console. Imports only the standard library,
``bridge`` and ``void_resolve`` (laid beside it by ``void-bridge install resolve``).
"""

import os
import sys
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from fusionscript import Resolve

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


def _resolve_app(host: "dict[str, Any]") -> "Optional[Resolve]":
    """Resolve's app object: the menu's global, else the external scripting module (Studio)."""
    app = host.get("resolve")
    if app:
        return app  # type: ignore[no-any-return]
    bmd = host.get("bmd")
    if bmd is not None:
        return bmd.scriptapp("Resolve")  # type: ignore[no-any-return]
    try:
        import DaVinciResolveScript  # type: ignore[import-not-found]
    except ImportError:
        return None
    return DaVinciResolveScript.scriptapp("Resolve")  # type: ignore[no-any-return]


def main(host: "dict[str, Any]") -> Any:
    """Run the Edit-page action with the host's globals; returns the run record (or None)."""
    _add_support_path()
    try:
        from void_resolve.edit_page import EditRemoveAction
        from void_resolve.session import WindowSession, run_headless
        from void_resolve.settings import settings_from_env
    except ImportError as exc:
        print(
            f"[VOID] Cannot load the VOID bridge ({exc}). Reinstall it with `void-bridge install resolve "
            f"--python-version {sys.version_info[0]}.{sys.version_info[1]}` (the Python Resolve uses)."
        )
        return None
    try:
        settings = settings_from_env()
    except ValueError as exc:
        print(f"[VOID] {exc}")
        return None
    resolve = _resolve_app(host)

    def prepare() -> EditRemoveAction:
        if resolve is None:
            raise ValueError(
                "Cannot reach DaVinci Resolve: run this from Workspace > Scripts > Edit "
                "(scripting from outside Resolve needs Resolve Studio)."
            )
        return EditRemoveAction(resolve, settings)

    fusion = host.get("fusion") or (resolve.Fusion() if resolve else None)
    bmd = host.get("bmd")
    if os.environ.get("VOID_HEADLESS") or fusion is None or bmd is None or not getattr(fusion, "UIManager", None):
        return run_headless(prepare, settings.prompt)
    return WindowSession(fusion, bmd, settings.prompt).run(prepare)


VOID_RUN = main(globals())
