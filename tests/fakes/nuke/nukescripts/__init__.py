"""A fake of Nuke's ``nukescripts`` package: just ``PythonPanel`` (and ``panels``), for tests.

``showModalDialog`` cannot wait for an artist, so it calls :data:`fake_on_modal` (if set) with the
panel (the test plays the artist: sets knobs) and returns :data:`fake_modal_answer`.
"""

from __future__ import annotations

from typing import Any, Callable

import nuke
from nuke._state import require_main

#: what "the artist" does in a modal panel before pressing OK/Cancel
fake_on_modal: Callable[["PythonPanel"], None] | None = None
#: True = OK, False = Cancel
fake_modal_answer: bool = True
#: every panel shown, newest last
fake_panels: list["PythonPanel"] = []


class PythonPanel:
    """A panel of knobs: ``addKnob``, ``knobs()``, ``showModalDialog()``, ``knobChanged``."""

    def __init__(self, title: str = "", id: str = "", scrollable: bool = True) -> None:
        self._title = title
        self._id = id
        self._knobs: dict[str, nuke.Knob] = {}
        self._order: list[str] = []

    def title(self) -> str:
        return self._title

    def addKnob(self, knob: nuke.Knob) -> None:
        self._knobs[knob.name()] = knob
        self._order.append(knob.name())

    def removeKnob(self, knob: nuke.Knob) -> None:
        self._knobs.pop(knob.name(), None)
        self._order.remove(knob.name())

    def knobs(self) -> dict[str, nuke.Knob]:
        return dict(self._knobs)

    def knobChanged(self, knob: nuke.Knob) -> None:
        pass

    def fake_set(self, name: str, value: Any) -> None:
        """The artist edits a knob (Nuke then calls knobChanged)."""
        knob = self._knobs[name]
        knob.setValue(value)
        self.knobChanged(knob)

    def showModalDialog(self) -> bool:
        require_main("PythonPanel.showModalDialog")
        fake_panels.append(self)
        if fake_on_modal is not None:
            fake_on_modal(self)
        return fake_modal_answer

    def show(self) -> None:
        fake_panels.append(self)

    def setMinimumSize(self, w: int, h: int) -> None:
        pass


def fake_reset() -> None:
    global fake_on_modal, fake_modal_answer
    fake_on_modal = None
    fake_modal_answer = True
    fake_panels.clear()
