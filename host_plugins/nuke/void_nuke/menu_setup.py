"""Menu entries: VOID ▸ Remove Object… in the Nodes toolbar (with the hotkey) and the Nuke menu bar."""

from __future__ import annotations

import nuke

from . import COMMAND_NAME, HOTKEY


def _remove_object() -> None:
    from .action import remove_object  # imported on click, so a menu never fails on a missing package

    remove_object()


def register() -> None:
    """Add the commands (GUI sessions only: ``nuke -t`` has no menus)."""
    if not nuke.GUI:
        return
    toolbar = nuke.toolbar("Nodes")
    if toolbar is not None:
        toolbar.addCommand(
            COMMAND_NAME,
            _remove_object,
            HOTKEY,
            icon="",
            tooltip=("Remove the object covered by the selected Roto from the selected plate, with VOID."),
        )
    nuke.menu("Nuke").addCommand(COMMAND_NAME, _remove_object)
