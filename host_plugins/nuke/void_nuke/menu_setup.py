"""Menu entries: VOID ▸ Remove Object… in the Nodes toolbar (with the hotkey) and the Nuke menu bar."""

from __future__ import annotations

import nuke

from . import COMMAND_NAME, HOTKEY, bootstrap


def _remove_object() -> None:
    # The action is imported on click, so that the menu is there even when a package is missing:
    # the click then tells the artist what is wrong and how to reinstall.
    problem = bootstrap.install_problem()
    if problem is None:
        try:
            from .action import remove_object
        except ImportError as exc:
            problem = bootstrap.install_problem(exc)
        else:
            remove_object()
            return
    nuke.message(problem or "VOID could not start.")


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
