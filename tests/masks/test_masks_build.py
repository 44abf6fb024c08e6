"""Acceptance: each way a job can carry its masks ends as a quadmask sequence on disk."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fakes.gemini_server import FakeGemini
from void_engine.masks import (
    AFFECTED,
    KEEP,
    OVERLAP,
    REMOVE,
    ClickPoints,
    MaskSpec,
    QuadmaskError,
    build_quadmask_sequence,
    read_quadmask_sequence,
    write_quadmask_sequence,
)
from void_engine.masks.grid import Grid
from void_engine.masks.propagate import Sam2Config
from void_engine.masks.quadmask import split_quadmask
from void_engine.masks.reasoner import ReasonerConfig, ReasonerError
from void_engine.plates import FrameSequence

from .masks_helpers import FIRST, write_exr, write_matte, write_plate_sequence

N, H, W = 6, 48, 80

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def plate(tmp_path):
    pattern, masks = write_plate_sequence(tmp_path / "plate", N, H, W)
    return FrameSequence.parse(pattern, f"{FIRST}-{FIRST + N - 1}"), masks


def out_seq(tmp_path, plate_seq):
    return plate_seq.with_pattern(str(tmp_path / "out" / "quad.####.exr"))


def assert_on_disk(result, expected_frames):
    assert result.sequence.frames == expected_frames
    assert all(result.sequence.path(f).is_file() for f in expected_frames)
    back = read_quadmask_sequence(result.sequence, (H, W))
    assert all(np.array_equal(a, b) for a, b in zip(back, result.masks))
    return back


def test_a_ready_quadmask_is_validated_and_written(tmp_path, plate):
    seq, masks = plate
    given = [np.where(m, REMOVE, KEEP).astype(np.uint8) for m in masks]
    src = seq.with_pattern(str(tmp_path / "in" / "q.####.exr"))
    for f, q in zip(seq.frames, given):
        level = q.astype(np.float32) / 255.0
        if f == seq.frames[2]:
            level[0, 0] = 125 / 255.0  # noise within tolerance (a host's 8-bit round trip)
        write_exr(src.path(f), level[..., None], ("Y",))
    result = build_quadmask_sequence(MaskSpec(quadmask=src.pattern), seq, out_seq(tmp_path, seq))
    back = assert_on_disk(result, seq.frames)
    assert result.source == "quadmask"
    assert back[2][0, 0] == AFFECTED and np.array_equal(back[0] == REMOVE, masks[0])


def test_a_ready_quadmask_of_the_wrong_size_is_refused(tmp_path, plate):
    seq, _ = plate
    src = seq.with_pattern(str(tmp_path / "in" / "q.####.exr"))
    write_quadmask_sequence(src, [np.full((H, W + 2), KEEP, np.uint8)] * N)
    with pytest.raises(QuadmaskError, match=f"frame {FIRST}.*expected {W}x{H}"):
        build_quadmask_sequence(MaskSpec(quadmask=src.pattern), seq, out_seq(tmp_path, seq))


def test_b_remove_and_affected_mattes_combine(tmp_path, plate):
    seq, masks = plate
    for i, f in enumerate(seq.frames):
        write_matte(tmp_path / "rm" / f"rm.{f}.exr", masks[i].astype(np.float32))
        shadow = np.roll(masks[i], 6, axis=0).astype(np.float32)  # overlaps the object
        write_matte(tmp_path / "af" / f"af.{f}.exr", shadow, channel="Y")
    spec = MaskSpec(remove=str(tmp_path / "rm" / "rm.####.exr"), affected=str(tmp_path / "af" / "af.####.exr"))
    result = build_quadmask_sequence(spec, seq, out_seq(tmp_path, seq))
    back = assert_on_disk(result, seq.frames)
    assert result.source == "mattes"
    for i in range(N):
        shadow = np.roll(masks[i], 6, axis=0)
        assert np.array_equal(back[i] == REMOVE, masks[i] & ~shadow)
        assert np.array_equal(back[i] == OVERLAP, masks[i] & shadow)
        assert np.array_equal(back[i] == AFFECTED, shadow & ~masks[i])


def test_b_mattes_are_thresholded_as_read_not_held_as_float_coverage(tmp_path):
    import tracemalloc

    n, side = 24, 512  # float32 coverage: 24 MB per matte sequence, plus a stacked copy (vs 6 MB as bool)
    for t in range(n):
        f = FIRST + t
        write_exr(
            tmp_path / "p" / f"p.{f}.exr",
            np.full((4, 4, 3), 0.18, np.float32),
            ("R", "G", "B"),
            data_window=(0, 0, 4, 4),
            display=(side, side),
        )
        m = np.zeros((side, side), np.float32)
        m[100:200, 100 + t : 200 + t] = 1.0
        write_exr(tmp_path / "rm" / f"rm.{f}.exr", m[..., None], ("A",))
        write_exr(tmp_path / "af" / f"af.{f}.exr", np.roll(m, 50, axis=0)[..., None], ("A",))
    seq = FrameSequence.parse(tmp_path / "p" / "p.####.exr", f"{FIRST}-{FIRST + n - 1}")
    spec = MaskSpec(remove=str(tmp_path / "rm" / "rm.####.exr"), affected=str(tmp_path / "af" / "af.####.exr"))
    tracemalloc.start()
    try:
        result = build_quadmask_sequence(spec, seq, out_seq(tmp_path, seq))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.masks[3][150, 150] == OVERLAP and result.masks[3][230, 150] == AFFECTED
    assert peak < 42 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_b_missing_matte_frame_is_named(tmp_path, plate):
    seq, masks = plate
    for i, f in enumerate(seq.frames[:-1]):
        write_matte(tmp_path / "rm" / f"rm.{f}.exr", masks[i].astype(np.float32))
    with pytest.raises(QuadmaskError, match=f"missing frame\\(s\\) {seq.frames[-1]}"):
        build_quadmask_sequence(MaskSpec(remove=str(tmp_path / "rm" / "rm.####.exr")), seq, out_seq(tmp_path, seq))


def test_c_one_frame_roto_is_propagated_over_the_range(tmp_path, plate):
    seq, masks = plate
    key = FIRST + 2
    roto = write_matte(tmp_path / "roto.exr", masks[2].astype(np.float32))
    stages = []
    result = build_quadmask_sequence(
        MaskSpec(roto={key: str(roto)}),
        seq,
        out_seq(tmp_path, seq),
        sam2=Sam2Config.tiny(),
        progress=lambda stage, d, t: stages.append(stage),
    )
    back = assert_on_disk(result, seq.frames)
    assert result.source == "propagate"
    assert stages[:N] == ["read"] * N and set(stages[N:]) == {"propagate"}
    assert np.array_equal(back[2] == REMOVE, masks[2])  # exact on the key frame
    assert all(set(np.unique(q)) <= {REMOVE, KEEP} for q in back)


def test_c_clicks_work_as_prompts(tmp_path, plate):
    seq, _ = plate
    spec = MaskSpec(clicks=(ClickPoints(FIRST, ((16.0, 24.0),), (1,)),))
    result = build_quadmask_sequence(spec, seq, out_seq(tmp_path, seq), sam2=Sam2Config.tiny())
    assert_on_disk(result, seq.frames)


def test_c_roto_outside_the_range_is_refused(tmp_path, plate):
    seq, masks = plate
    roto = write_matte(tmp_path / "roto.exr", masks[0].astype(np.float32))
    with pytest.raises(QuadmaskError, match="roto on frame 999"):
        build_quadmask_sequence(MaskSpec(roto={999: str(roto)}), seq, out_seq(tmp_path, seq), sam2=Sam2Config.tiny())


def test_spec_needs_exactly_one_source():
    with pytest.raises(QuadmaskError, match="exactly one"):
        MaskSpec().source()
    with pytest.raises(QuadmaskError, match="exactly one"):
        MaskSpec(quadmask="q.####.exr", remove="r.####.exr").source()
    with pytest.raises(QuadmaskError, match="not a finished quadmask"):
        MaskSpec(quadmask="q.####.exr", instruction="remove him").source()


def _shadow_answer(first, last):
    return {
        "reasoning": "the square casts a shadow below it",
        "integral_belongings": [],
        "affected_objects": [
            {
                "noun": "shadow",
                "category": "visual_artifact",
                "why": "cast by the square",
                "cells_now": [
                    {"frame": first, "cells": [{"row": 6, "col": 1}, {"row": 6, "col": 2}]},
                    {"frame": last, "cells": [{"row": 6, "col": 6}, {"row": 6, "col": 7}]},
                ],
                "will_move": False,
            }
        ],
        "scene_description": "a grey ground",
    }


def test_d_roto_plus_instruction_adds_the_affected_region(tmp_path, plate):
    seq, masks = plate
    roto = write_matte(tmp_path / "roto.exr", masks[0].astype(np.float32))
    with FakeGemini() as fake:
        fake.reply_json(_shadow_answer(seq.frames[0], seq.frames[-1]))
        reasoner = ReasonerConfig(
            api_key="k", base_url=fake.base_url, model="gemini-test", samples=3, attempts=1, timeout_s=10
        )
        result = build_quadmask_sequence(
            MaskSpec(roto={FIRST: str(roto)}, instruction="remove the orange square"),
            seq,
            out_seq(tmp_path, seq),
            sam2=Sam2Config.tiny(),
            reasoner=reasoner,
        )
        request = fake.requests[0]
    back = assert_on_disk(result, seq.frames)
    assert result.source == "propagate+reasoner" and result.notes == []
    assert "remove the orange square" in request.texts()[0]
    assert len(request.images()) == 3
    # 48x80 plate -> an 8 x 13 grid; row 6 is y 36..42
    grid = Grid.for_frame(W, H)
    assert (grid.rows, grid.cols) == (8, 13)
    first_cells = grid.cells_mask([(6, 1), (6, 2)])
    last_cells = grid.cells_mask([(6, 6), (6, 7)])
    remove, affected = zip(*(split_quadmask(q) for q in back))
    assert np.array_equal(affected[0], first_cells)  # a reported frame: its own cells
    assert np.array_equal(affected[-1], last_cells)
    assert np.array_equal(affected[2], first_cells | last_cells)  # between reports: both
    assert np.array_equal(remove[0], masks[0])  # the roto frame, exact (no overlap there)


def test_d_without_api_key_skips_reasoning_with_a_note(tmp_path, plate, monkeypatch):
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    seq, masks = plate
    roto = write_matte(tmp_path / "roto.exr", masks[0].astype(np.float32))
    result = build_quadmask_sequence(
        MaskSpec(roto={FIRST: str(roto)}, instruction="remove the orange square"),
        seq,
        out_seq(tmp_path, seq),
        sam2=Sam2Config.tiny(),
        reasoner=ReasonerConfig(base_url="http://127.0.0.1:9"),
    )
    back = assert_on_disk(result, seq.frames)
    assert result.source == "propagate" and result.analysis is None
    assert len(result.notes) == 1 and "no Gemini API key" in result.notes[0]
    assert all(set(np.unique(q)) <= {REMOVE, KEEP} for q in back)


def test_d_reasoner_failure_is_an_error_not_a_silent_skip(tmp_path, plate):
    seq, masks = plate
    for i, f in enumerate(seq.frames):
        write_matte(tmp_path / "rm" / f"rm.{f}.exr", masks[i].astype(np.float32))
    with FakeGemini() as fake:
        fake.reply_error(500, "down")
        cfg = ReasonerConfig(api_key="k", base_url=fake.base_url, attempts=1, samples=2)
        with pytest.raises(ReasonerError, match="HTTP 500"):
            build_quadmask_sequence(
                MaskSpec(remove=str(tmp_path / "rm" / "rm.####.exr"), instruction="remove it"),
                seq,
                out_seq(tmp_path, seq),
                reasoner=cfg,
            )
    assert not out_seq(tmp_path, seq).path(FIRST).exists()


def test_spec_from_job_mapping():
    spec = MaskSpec.from_mapping(
        {
            "roto": {"1003": "/r/roto.1003.exr"},
            "instruction": "remove him",
            "dilate_px": 4,
            "clicks": [{"frame": 1001, "points": [[10, 20]], "labels": [1]}],
        }
    )
    assert spec.roto == {1003: "/r/roto.1003.exr"} and spec.dilate_px == 4
    assert spec.clicks == (ClickPoints(1001, ((10.0, 20.0),), (1,)),)
    assert spec.source() == "propagate"
    with pytest.raises(QuadmaskError, match="unknown field.*'rotoscope'"):
        MaskSpec.from_mapping({"rotoscope": {}})
    with pytest.raises(QuadmaskError, match="masks.remove must be a string"):
        MaskSpec.from_mapping({"remove": 5})
    with pytest.raises(QuadmaskError, match="exactly one"):
        MaskSpec.from_mapping({"instruction": "remove him"})


def test_cancel_before_writing_leaves_nothing_on_disk(tmp_path, plate):
    from void_engine.masks.propagate import Cancelled

    seq, masks = plate
    roto = write_matte(tmp_path / "roto.exr", masks[0].astype(np.float32))
    with pytest.raises(Cancelled):
        build_quadmask_sequence(
            MaskSpec(roto={FIRST: str(roto)}), seq, out_seq(tmp_path, seq), sam2=Sam2Config.tiny(), cancel=lambda: True
        )
    assert not (tmp_path / "out").exists()
