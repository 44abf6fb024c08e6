"""Make the bundled ``bridge``, pyzmq and msgpack importable inside Nuke (no pip in Nuke's Python).

``void-bridge install nuke`` lays them out in ``<plugin folder>/python``; this puts that folder
first on ``sys.path`` so a different msgpack elsewhere cannot shadow the one built for this Nuke.
Standard library only: it runs before anything else of ours can be imported.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import List, Optional

BUNDLE_FOLDER = "python"
#: what the plugin imports beyond the standard library and Nuke's own modules
BUNDLED_PACKAGES = ("bridge", "zmq", "msgpack")


def plugin_folder() -> str:
    """The folder holding ``init.py``/``menu.py`` and ``void_nuke``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bundle_folder() -> str:
    return os.path.join(plugin_folder(), BUNDLE_FOLDER)


def add_bundled_packages() -> bool:
    """Put ``<plugin folder>/python`` first on ``sys.path``; False when there is none (a dev
    checkout, whose packages come from elsewhere; :func:`install_problem` says if they do not)."""
    folder = bundle_folder()
    if not os.path.isdir(folder):
        return False
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return True


def missing_packages() -> List[str]:
    """The bundled packages this Python cannot find (empty when the install is whole)."""
    return [name for name in BUNDLED_PACKAGES if importlib.util.find_spec(name) is None]


def reinstall_hint() -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"Reinstall it: void-bridge install nuke --dest {plugin_folder()} --python-version {version}"


def install_problem(error: Optional[BaseException] = None) -> Optional[str]:
    """What is wrong with this install, in words for the artist, with how to reinstall; None
    when it is whole. ``error``: an ImportError met on the way (a package built for another Python)."""
    missing = missing_packages()
    if not missing and error is None:
        return None
    folder = bundle_folder()
    if missing:
        where = f"there is no {folder}" if not os.path.isdir(folder) else f"they are not in {folder}"
        what = f"VOID can't find its packages {', '.join(missing)} ({where}); the plugin is not fully installed."
    else:
        what = f"VOID's packages in {folder} do not load in this Nuke ({error})."
    return f"{what}\n{reinstall_hint()}"
