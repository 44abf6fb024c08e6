"""Make the bundled ``bridge``, pyzmq and msgpack importable inside Nuke (no pip in Nuke's Python).

``void-bridge install nuke`` lays them out in ``<plugin folder>/python``; this puts that folder
first on ``sys.path`` so a different msgpack elsewhere cannot shadow the one built for this Nuke.
Standard library only: it runs before anything else of ours can be imported.
"""

from __future__ import annotations

import os
import sys

BUNDLE_FOLDER = "python"


def plugin_folder() -> str:
    """The folder holding ``init.py``/``menu.py`` and ``void_nuke``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_bundled_packages() -> bool:
    """Put ``<plugin folder>/python`` first on ``sys.path``; False when there is none (a dev checkout)."""
    folder = os.path.join(plugin_folder(), BUNDLE_FOLDER)
    if not os.path.isdir(folder):
        return False
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return True
