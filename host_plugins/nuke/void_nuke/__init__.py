"""VOID for Nuke: remove an object (and what it did to the scene) without leaving the node graph.

The host layer is small (``menu.py``, :mod:`void_nuke.panel`, :mod:`void_nuke.nodes`); the
job building, validation, progress and transport live in host-free modules that tests run
against a fake ``nuke``. Imports only the standard library, ``bridge`` and Nuke's own modules.
"""

__version__ = "0.1.0"

COMMAND_NAME = "VOID/Remove Object..."
HOTKEY = "ctrl+alt+v"
