"""Mask mode "text" on the wire (job.masks.remove_text, affected_text, keyframes) and the
`--remove-text` / `--affected-text` / `--text-frames` flags that make it."""

from __future__ import annotations

import json

import pytest

from bridge import protocol as P
from bridge.cli import spec_from_args

from .test_protocol_masks import _args, job


def text(**over):
    m = {"mode": "text", "remove_text": "the glass"}
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def test_text_mode_round_trips_through_the_wire_and_the_journal():
    m = text(affected_text="its shadow", affected="/a.####.exr", keyframes=[1003, 1001], instruction="and the lime")
    spec = P.JobSpec.from_wire(job(masks=m))
    assert spec.masks.remove_text == "the glass" and spec.masks.keyframes == (1001, 1003)
    assert P.JobSpec.from_wire(spec.to_wire()) == spec
    assert P.JobSpec.from_stored(json.loads(json.dumps(spec.to_wire()))) == spec
    # only the affected mattes are files to check or upload; the key frames name no roto
    assert spec.masks.sequences(spec.frames) == {"affected": ("/a.####.exr", (1001, 1002, 1003))}


@pytest.mark.parametrize(
    "m, field",
    [
        (text(remove_text=None), "job.masks.remove_text"),
        (text(remove_text="   "), "job.masks.remove_text"),
        (text(remove_text="x" * 501), "job.masks.remove_text"),
        (text(remove="/r.####.exr"), "job.masks.remove"),
        (text(roto="/r.####.exr"), "job.masks.roto"),
        (text(points=[{"frame": 1001, "x": 1, "y": 1}]), "job.masks.points"),
        (text(keyframes=[999]), "job.masks.keyframes[0]"),
        ({"mode": "mattes", "remove": "/r.####.exr", "remove_text": "the glass"}, "job.masks.remove_text"),
        ({"mode": "mattes", "remove": "/r.####.exr", "affected_text": "shadow"}, "job.masks.affected_text"),
    ],
)
def test_text_mode_errors_name_the_field(m, field):
    with pytest.raises(P.ProtocolError) as info:
        P.JobSpec.from_wire(job(masks=m))
    assert info.value.field == field and field in info.value.message


def test_remove_text_flags_make_a_text_job():
    spec = spec_from_args(
        _args("--remove-text", " the glass ", "--affected-text", "its shadow", "--text-frames", "1005,1001")
    )
    assert spec.masks == P.JobMasks(
        mode="text", remove_text="the glass", affected_text="its shadow", keyframes=(1001, 1005)
    )
    assert spec.remove is None
    P.JobSpec.from_wire(spec.to_wire())  # what the CLI sends is valid on the wire
    with_reasoner = spec_from_args(_args("--remove-text", "the glass", "--instruction", "and what it spills"))
    assert with_reasoner.masks.mode == "text" and with_reasoner.masks.instruction == "and what it spills"


@pytest.mark.parametrize(
    "argv, words",
    [
        (("--remove-text", ""), "--remove-text is empty"),
        (("--affected-text", "shadow", "--remove", "/p/r.####.exr"), "go with --remove-text"),
        (("--remove-text", "the glass", "--text-frames", "999"), "--text-frames: frame 999"),
        (("--remove-text", "the glass", "--points", "1001:1,2"), "no --points"),
    ],
)
def test_remove_text_flag_errors_name_the_flag(argv, words):
    with pytest.raises(ValueError, match=words):
        spec_from_args(_args(*argv))
