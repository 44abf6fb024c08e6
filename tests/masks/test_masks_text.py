"""Mask mode (e): the object named in words, found by a tiny random-weight SAM3, tracked by SAM2.

The tiny SAM3 is seeded, so what it "sees" repeats; its score threshold decides whether it finds
anything at all: 0 keeps every instance it proposes (found everywhere), 0.99 keeps none.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.fakes.gemini_server import FakeGemini
from void_engine.masks import MaskSpec, QuadmaskError, build_quadmask_sequence
from void_engine.masks.build import TextNotFoundError, describe_frames
from void_engine.masks.grid import Grid
from void_engine.masks.propagate import Sam2Config, Sam2Propagator, load_sam2
from void_engine.masks.quadmask import split_quadmask
from void_engine.masks.reasoner import ReasonerConfig
from void_engine.masks.segment_text import Sam3Config, load_sam3
from void_engine.plates import FrameSequence

from .masks_helpers import FIRST, write_matte, write_plate_sequence

N, H, W = 4, 48, 80
FINDS_ALL = Sam3Config.tiny(score_threshold=0.0)
FINDS_NONE = Sam3Config.tiny(score_threshold=0.99)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def plate(tmp_path):
    pattern, masks = write_plate_sequence(tmp_path / "plate", N, H, W)
    return FrameSequence.parse(pattern, f"{FIRST}-{FIRST + N - 1}"), masks


def out_seq(tmp_path, plate_seq):
    return plate_seq.with_pattern(str(tmp_path / "out" / "quad.####.exr"))


class NoSam2(Sam2Propagator):
    """Stands where the propagator would be; fails the test if tracking is asked for."""

    def __init__(self):
        pass  # nothing loaded: it must never run

    def propagate_matte(self, *args, **kwargs):
        raise AssertionError("SAM2 was asked to track, but SAM3 had found the text on every frame")


class RecordingSam2(Sam2Propagator):
    """The tiny SAM2, recording the prompts it is given."""

    def __init__(self):
        inner = load_sam2(Sam2Config.tiny())
        super().__init__(inner.predictor, inner.config)
        self.prompts = []

    def propagate_matte(self, frames, prompts, **kwargs):
        self.prompts.append(list(prompts))
        return super().propagate_matte(frames, prompts, **kwargs)


def test_text_found_on_the_first_frame_is_tracked_over_the_range(tmp_path, plate):
    seq, _ = plate
    sam2 = RecordingSam2()
    result = build_quadmask_sequence(
        MaskSpec(remove_text="the orange square"), seq, out_seq(tmp_path, seq), sam2=sam2, sam3=FINDS_ALL
    )
    assert result.source == "text"
    assert all(result.sequence.path(f).is_file() for f in seq.frames)
    # SAM3's detection on the first frame is SAM2's one key-frame prompt, and stays exact there
    [prompts] = sam2.prompts
    assert [p.frame_index for p in prompts] == [0]
    assert np.array_equal(split_quadmask(result.masks[0])[0], prompts[0].matte > 0.5)


def test_text_on_every_frame_needs_no_tracking(tmp_path, plate):
    seq, _ = plate
    result = build_quadmask_sequence(
        MaskSpec(remove_text="the orange square", text_search="all"),
        seq,
        out_seq(tmp_path, seq),
        sam2=NoSam2(),
        sam3=load_sam3(FINDS_ALL),
    )
    assert result.source == "text" and len(result.masks) == N


def test_text_found_nowhere_names_the_text_and_the_frames_searched(tmp_path, plate):
    seq, _ = plate
    with pytest.raises(TextNotFoundError, match=r"found no 'the glass' on frame\(s\) 1001-1004"):
        build_quadmask_sequence(
            MaskSpec(remove_text="the glass"), seq, out_seq(tmp_path, seq), sam2=NoSam2(), sam3=FINDS_NONE
        )
    assert not (tmp_path / "out").exists()


def test_text_key_frames_limit_the_search_and_the_message(tmp_path, plate):
    seq, _ = plate
    with pytest.raises(TextNotFoundError, match=r"on frame\(s\) 1002, 1004 "):
        build_quadmask_sequence(
            MaskSpec(remove_text="the glass", text_keyframes=(FIRST + 3, FIRST + 1)),
            seq,
            out_seq(tmp_path, seq),
            sam2=NoSam2(),
            sam3=FINDS_NONE,
        )
    with pytest.raises(QuadmaskError, match="text key frame 999 is outside"):
        build_quadmask_sequence(
            MaskSpec(remove_text="the glass", text_keyframes=(999,)), seq, out_seq(tmp_path, seq), sam3=FINDS_NONE
        )


def test_affected_mattes_join_a_text_mask(tmp_path, plate):
    seq, masks = plate
    for i, f in enumerate(seq.frames):
        band = np.zeros((H, W), np.float32)
        band[:4] = 1.0  # a strip along the top
        write_matte(tmp_path / "aff" / f"aff.{f}.exr", band)
    result = build_quadmask_sequence(
        MaskSpec(remove_text="the square", text_search="all", affected=str(tmp_path / "aff" / "aff.####.exr")),
        seq,
        out_seq(tmp_path, seq),
        sam2=NoSam2(),
        sam3=FINDS_ALL,
    )
    for q in result.masks:
        remove, affected = split_quadmask(q)
        assert (remove | affected)[:4].all()  # the strip is in the matte (affected, or overlap)


def test_affected_text_is_segmented_as_affected(tmp_path, plate):
    seq, _ = plate
    result = build_quadmask_sequence(
        MaskSpec(remove_text="the square", affected_text="its shadow", text_search="all"),
        seq,
        out_seq(tmp_path, seq),
        sam2=NoSam2(),
        sam3=FINDS_ALL,
    )
    assert any(split_quadmask(q)[1].any() for q in result.masks)


def test_spec_rules_for_text():
    with pytest.raises(QuadmaskError, match="exactly one"):
        MaskSpec(remove_text="the glass", remove="r.####.exr").source()
    with pytest.raises(QuadmaskError, match="go with a remove text"):
        MaskSpec(remove="r.####.exr", affected_text="its shadow").source()
    with pytest.raises(QuadmaskError, match="text_search"):
        MaskSpec(remove_text="the glass", text_search="some").source()
    spec = MaskSpec.from_mapping({"remove_text": "the glass", "text_keyframes": ["1001"], "text_search": "all"})
    assert spec.source() == "text" and spec.text_keyframes == (1001,)


def test_describe_frames_collapses_runs():
    assert describe_frames([1004, 1001, 1002, 1003, 1010]) == "1001-1004, 1010"


def test_reasoner_named_object_is_segmented_by_sam3_within_its_cells(tmp_path, plate):
    seq, masks = plate
    roto = write_matte(tmp_path / "roto.exr", masks[0].astype(np.float32))
    cells = [(1, 9), (1, 10)]  # top right, away from the square
    answer = {
        "reasoning": "the square pushes a lime",
        "integral_belongings": [],
        "affected_objects": [
            {
                "noun": "the lime",
                "category": "physical",
                "why": "pushed by the square",
                "cells_now": [{"frame": f, "cells": [{"row": r, "col": c} for r, c in cells]} for f in seq.frames],
                "will_move": False,
            }
        ],
        "scene_description": "a grey ground",
    }
    with FakeGemini() as fake:
        fake.reply_json(answer)
        reasoner = ReasonerConfig(
            api_key="k", base_url=fake.base_url, model="gemini-test", samples=2, attempts=1, timeout_s=10
        )
        result = build_quadmask_sequence(
            MaskSpec(roto={FIRST: str(roto)}, instruction="remove the orange square"),
            seq,
            out_seq(tmp_path, seq),
            sam2=Sam2Config.tiny(),
            sam3=FINDS_ALL,
            reasoner=reasoner,
        )
    assert any("'the lime': segmented by SAM3" in n for n in result.notes), result.notes
    limit = Grid.for_frame(W, H).cells_mask(cells, pad_cells=1)
    for q in result.masks:
        _, affected = split_quadmask(q)
        assert affected.any() and not (affected & ~limit).any()  # SAM3's outline, kept within the cells


def test_reasoner_falls_back_to_cells_where_sam3_finds_nothing(tmp_path, plate):
    seq, masks = plate
    cells = [(1, 9), (1, 10)]
    answer = {
        "reasoning": "the square pushes a lime",
        "integral_belongings": [],
        "affected_objects": [
            {
                "noun": "the lime",
                "category": "physical",
                "why": "pushed",
                "cells_now": [{"frame": f, "cells": [{"row": r, "col": c} for r, c in cells]} for f in seq.frames],
                "will_move": False,
            }
        ],
        "scene_description": "a grey ground",
    }
    with FakeGemini() as fake:
        fake.reply_json(answer)
        reasoner = ReasonerConfig(
            api_key="k", base_url=fake.base_url, model="gemini-test", samples=2, attempts=1, timeout_s=10
        )
        result = build_quadmask_sequence(
            MaskSpec(remove=_write_remove(tmp_path, seq, masks), instruction="remove the orange square"),
            seq,
            out_seq(tmp_path, seq),
            sam3=FINDS_NONE,
            reasoner=reasoner,
        )
    assert any("'the lime': SAM3 found nothing" in n and "grid cells" in n for n in result.notes), result.notes
    region = Grid.for_frame(W, H).cells_mask(cells)
    for q in result.masks:
        _, affected = split_quadmask(q)
        assert np.array_equal(affected, region)


def _write_remove(tmp_path, seq, masks) -> str:
    for i, f in enumerate(seq.frames):
        write_matte(tmp_path / "remove" / f"remove.{f}.exr", masks[i].astype(np.float32))
    return str(tmp_path / "remove" / "remove.####.exr")


def test_importing_the_masks_package_does_not_import_sam3():
    code = "import sys, void_engine.masks, void_engine.service.mask_stage; print('sam3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
