"""The small "Remove Object" panel (``nukescripts.PythonPanel``): prompt, range, seed, steps,
pass 2, mask mode, engine address, frame transfer and output folder."""

from __future__ import annotations

import nuke
import nukescripts

from .selection import Inputs
from .settings import MASK_MODE_LABELS, MASK_MODES, TRANSFERS, RemoveSettings

_TRANSFER_LABELS = {"auto": "auto (by path when the engine sees the files)", "path": "by path", "value": "by value"}


class RemovePanel(nukescripts.PythonPanel):  # nukescripts ships no stubs: an Any base
    """Modal panel; :meth:`settings` reads the answers back as :class:`RemoveSettings`."""

    def __init__(self, inputs: Inputs, first: int, last: int, out_dir: str, engine: str):
        super().__init__("VOID: Remove Object", "uk.co.void.remove_object")
        affected = inputs.affected.name() if inputs.affected is not None else "none (tag a matte 'affected')"
        self.info = nuke.Text_Knob("info", "", f"plate: {inputs.plate.name()}   remove: {inputs.remove.name()}"
                                               f"   affected: {affected}")
        self.prompt = nuke.String_Knob("prompt", "prompt (clean background)")
        self.prompt.setTooltip("What the frame shows once the object is gone, e.g. 'empty road, wet asphalt'.")
        self.first = nuke.Int_Knob("first", "frame range")
        self.first.setValue(first)
        self.last = nuke.Int_Knob("last", "to")
        self.last.setValue(last)
        self.last.clearFlag(nuke.STARTLINE)
        self.seed = nuke.Int_Knob("seed", "seed")
        self.steps = nuke.Int_Knob("steps", "steps")
        self.steps.setTooltip("Denoising steps; 0 uses the engine's preset.")
        self.pass2 = nuke.Boolean_Knob("pass2", "pass 2 (temporal refinement)")
        self.mask_mode = nuke.Enumeration_Knob("mask_mode", "mask", [MASK_MODE_LABELS[m] for m in MASK_MODES])
        self.engine = nuke.String_Knob("engine", "engine")
        self.engine.setValue(engine)
        self.transfer = nuke.Enumeration_Knob("transfer", "frames", [_TRANSFER_LABELS[t] for t in TRANSFERS])
        self.out_dir = nuke.File_Knob("out_dir", "output folder")
        self.out_dir.setValue(out_dir)
        for knob in (self.info, self.prompt, self.first, self.last, self.seed, self.steps, self.pass2,
                     self.mask_mode, self.engine, self.transfer, self.out_dir):
            self.addKnob(knob)

    def settings(self) -> RemoveSettings:
        """The answers, checked (SetupError names the field to fix)."""
        return RemoveSettings(
            prompt=str(self.prompt.value()),
            first=int(self.first.value()), last=int(self.last.value()),
            seed=int(self.seed.value()), steps=int(self.steps.value()),
            pass2=bool(self.pass2.value()),
            mask_mode=MASK_MODES[int(self.mask_mode.getValue())],
            engine=str(self.engine.value()).strip(),
            transfer=TRANSFERS[int(self.transfer.getValue())],
            out_dir=str(self.out_dir.value()).strip(),
        ).check()

