"""The small "Remove Object" panel (``nukescripts.PythonPanel``): prompt, range, seed, steps,
pass 2, mask mode (with key frames and instruction for propagate/reason, the object's name for
text), engine address, frame transfer and output folder."""

from __future__ import annotations

from typing import Optional

import nukescripts

import nuke

from .selection import Inputs
from .settings import MASK_MODE_LABELS, MASK_MODES, TRANSFERS, RemoveSettings, parse_keyframes

_TRANSFER_LABELS = {"auto": "auto (by path when the engine sees the files)", "path": "by path", "value": "by value"}


class RemovePanel(nukescripts.PythonPanel):  # nukescripts ships no stubs: an Any base
    """Modal panel; :meth:`settings` reads the answers back as :class:`RemoveSettings`."""

    def __init__(
        self, inputs: Inputs, first: int, last: int, out_dir: str, engine: str, current_frame: Optional[int] = None
    ):
        super().__init__("VOID: Remove Object", "uk.co.void.remove_object")
        affected = inputs.affected.name() if inputs.affected is not None else "none (tag a matte 'affected')"
        self.info = nuke.Text_Knob(
            "info", "", f"plate: {inputs.plate.name()}   remove: {inputs.remove.name()}   affected: {affected}"
        )
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
        # The frame the artist is looking at is where they checked the roto: the natural key frame.
        self.current_frame = int(nuke.frame() if current_frame is None else current_frame)
        if not first <= self.current_frame <= last:
            self.current_frame = first
        self.keyframes = nuke.String_Knob("keyframes", "key frames")
        self.keyframes.setValue(str(self.current_frame))
        self.keyframes.setTooltip(
            "propagate / reason: the frames the roto is drawn on (e.g. 1001 or 1001,1040). "
            "Only these are rendered; the engine spreads the roto over the range with SAM2."
        )
        self.instruction = nuke.String_Knob("instruction", "instruction")
        self.instruction.setTooltip(
            "reason: what to remove, in words (e.g. 'the man and his shadow'); the "
            "engine's reasoner finds what else the object affects."
        )
        self.remove_text = nuke.String_Knob("remove_text", "remove text")
        self.remove_text.setTooltip(
            "find by text: the object to remove, in words (e.g. 'the glass'); the engine finds it "
            "with SAM3 and tracks it over the range (no roto needed)."
        )
        self.engine = nuke.String_Knob("engine", "engine")
        self.engine.setValue(engine)
        self.transfer = nuke.Enumeration_Knob("transfer", "frames", [_TRANSFER_LABELS[t] for t in TRANSFERS])
        self.out_dir = nuke.File_Knob("out_dir", "output folder")
        self.out_dir.setValue(out_dir)
        for knob in (
            self.info,
            self.prompt,
            self.first,
            self.last,
            self.seed,
            self.steps,
            self.pass2,
            self.mask_mode,
            self.keyframes,
            self.instruction,
            self.remove_text,
            self.engine,
            self.transfer,
            self.out_dir,
        ):
            self.addKnob(knob)

    def settings(self) -> RemoveSettings:
        """The answers, checked (SetupError names the field to fix)."""
        return RemoveSettings(
            prompt=str(self.prompt.value()),
            first=int(self.first.value()),
            last=int(self.last.value()),
            seed=int(self.seed.value()),
            steps=int(self.steps.value()),
            pass2=bool(self.pass2.value()),
            mask_mode=MASK_MODES[int(self.mask_mode.getValue())],
            engine=str(self.engine.value()).strip(),
            transfer=TRANSFERS[int(self.transfer.getValue())],
            out_dir=str(self.out_dir.value()).strip(),
            keyframes=parse_keyframes(str(self.keyframes.value()), self.current_frame),
            instruction=str(self.instruction.value()).strip(),
            remove_text=str(self.remove_text.value()).strip(),
        ).check()
