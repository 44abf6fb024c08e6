"""bridge.protocol's mask modes (job.masks) and pass 2: the wire shape, its rules, errors naming the field,
and the job flags of `void-bridge submit` / `void-engine run` that make them."""

from __future__ import annotations

import argparse
import json

import pytest

from bridge import protocol as P
from bridge.cli import add_job_arguments, spec_from_args


def job(**over):
    d = {
        "plate": "/shots/a/plate.####.exr",
        "frames": [1001, 1002, 1003],
        "prompt": "empty street",
        "out": "/shots/a/void",
        "masks": {"mode": "propagate", "roto": "/shots/a/roto.####.exr", "keyframes": [1002]},
    }
    d.update(over)
    return d


def masks(**over):
    m = {"mode": "propagate", "roto": "/shots/a/roto.####.exr", "keyframes": [1002]}
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def test_every_mask_mode_round_trips_through_the_wire_and_the_journal():
    for m in (
        masks(mode="quadmask", roto=None, keyframes=None, quadmask="/q.####.exr"),
        masks(mode="mattes", roto=None, keyframes=None, remove="/r.####.exr", affected="/a.####.exr"),
        masks(points=[{"frame": 1001, "x": 10, "y": 20.5}, {"frame": 1003, "x": 1, "y": 2, "label": 0}]),
        masks(mode="reason", instruction="the man and his shadow", threshold=0.25, dilate_px=3),
        masks(mode="reason", roto=None, keyframes=None, remove="/r.####.exr", instruction="him"),
    ):
        spec = P.JobSpec.from_wire(job(masks=m, pass2=True))
        assert spec.masks is not None and spec.masks.mode == m["mode"] and spec.pass2 is True
        wire = spec.to_wire()
        assert P.JobSpec.from_wire(wire) == spec
        assert P.JobSpec.from_stored(json.loads(json.dumps(wire))) == spec  # as the journal keeps it


def test_a_plain_job_reads_as_before_so_older_engines_accept_it():
    old = {"plate": "/p.####.exr", "frames": [1, 2], "prompt": "x", "out": "/o", "remove": "/r.####.exr"}
    spec = P.JobSpec.from_wire(old)
    assert spec.to_wire() == {**old, "seed": 0, "priority": 0}  # no masks, no pass2 keys
    assert spec.mask_spec() == P.JobMasks(mode="mattes", remove="/r.####.exr")
    assert P.JobSpec.from_wire({**old, "remove": None, "quadmask": "/q.####.exr"}).mask_spec().mode == "quadmask"


def test_roto_is_read_on_its_key_frames_only():
    spec = P.JobSpec.from_wire(job(masks=masks(keyframes=[1003, 1001])))
    assert spec.masks.keyframes == (1001, 1003)
    assert spec.masks.sequences(spec.frames) == {"roto": ("/shots/a/roto.####.exr", (1001, 1003))}


@pytest.mark.parametrize(
    "over, field",
    [
        ({"masks": "propagate"}, "job.masks"),
        ({"masks": masks(mode="magic")}, "job.masks.mode"),
        ({"masks": masks(mode=None)}, "job.masks.mode"),
        ({"masks": masks(colour="red")}, "job.masks.colour"),
        ({"masks": masks(keyframes=[999])}, "job.masks.keyframes[0]"),
        ({"masks": masks(keyframes=[1002, "x"])}, "job.masks.keyframes[1]"),
        ({"masks": masks(keyframes=[1002, 1002])}, "job.masks.keyframes[1]"),
        ({"masks": masks(keyframes=None)}, "job.masks.keyframes"),
        ({"masks": masks(roto=None)}, "job.masks.roto"),
        ({"masks": masks(roto="")}, "job.masks.roto"),
        ({"masks": masks(roto=None, keyframes=None, points=[{"frame": 1001, "x": 1}])}, "job.masks.points[0].y"),
        ({"masks": masks(points=[{"frame": 7, "x": 1, "y": 1}])}, "job.masks.points[0].frame"),
        ({"masks": masks(points=[{"frame": 1001, "x": -1, "y": 1}])}, "job.masks.points[0].x"),
        ({"masks": masks(points=[{"frame": 1001, "x": 1, "y": 1, "label": 2}])}, "job.masks.points[0].label"),
        ({"masks": masks(points=[{"frame": 1001, "x": 1, "y": 1, "z": 0}])}, "job.masks.points[0].z"),
        ({"masks": masks(points=[5])}, "job.masks.points[0]"),
        ({"masks": masks(instruction="remove him")}, "job.masks.instruction"),
        ({"masks": masks(mode="reason")}, "job.masks.instruction"),
        ({"masks": masks(mode="reason", remove="/r.####.exr", instruction="x")}, "job.masks.roto"),
        ({"masks": masks(mode="quadmask")}, "job.masks.quadmask"),
        ({"masks": masks(mode="quadmask", quadmask="/q.####.exr")}, "job.masks.roto"),
        ({"masks": masks(mode="mattes", roto=None, keyframes=None)}, "job.masks.remove"),
        ({"masks": masks(mode="mattes", roto=None, keyframes=None, affected="/a.####.exr")}, "job.masks.remove"),
        ({"masks": masks(threshold=1.5)}, "job.masks.threshold"),
        ({"masks": masks(dilate_px=-2)}, "job.masks.dilate_px"),
        ({"remove": "/r.####.exr"}, "job.remove"),
        ({"pass2": "yes"}, "job.pass2"),
    ],
)
def test_mask_and_pass2_errors_name_the_field(over, field):
    with pytest.raises(P.ProtocolError) as info:
        P.JobSpec.from_wire(job(**over))
    assert info.value.code == P.BAD_REQUEST
    assert info.value.field == field
    assert field in info.value.message


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_job_arguments(parser)
    return parser.parse_args(
        ["--plate", "/p/plate.####.exr", "--frames", "1001-1010", "--prompt", "x", "--out", "/p/void", *argv]
    )


def test_cli_flags_make_each_mask_mode_and_keep_the_old_ones():
    old = spec_from_args(_args("--remove", "/p/rm.####.exr", "--affected", "/p/af.####.exr"))
    assert (old.remove, old.affected, old.masks, old.pass2) == ("/p/rm.####.exr", "/p/af.####.exr", None, False)
    prop = spec_from_args(
        _args(
            "--roto", "/p/roto.####.exr", "--roto-frames", "1001,1010", "--pass2", "--points", "1005:12,30;1005:40,20:0"
        )
    )
    assert (
        prop.pass2
        and prop.remove is None
        and prop.masks
        == P.JobMasks(
            mode="propagate",
            roto="/p/roto.####.exr",
            keyframes=(1001, 1010),
            points=(P.ClickPoint(1005, 12.0, 30.0, 1), P.ClickPoint(1005, 40.0, 20.0, 0)),
        )
    )
    P.JobSpec.from_wire(prop.to_wire())  # what the CLI sends is valid on the wire
    reason = spec_from_args(_args("--remove", "/p/rm.####.exr", "--instruction", "the dog"))
    assert reason.masks.mode == "reason" and reason.masks.remove == "/p/rm.####.exr"
    assert reason.remove is None  # the mattes travel inside masks, not twice


@pytest.mark.parametrize(
    "argv, words",
    [
        ((), "--quadmask, --remove, --roto"),
        (("--roto", "/p/r.####.exr"), "--roto-frames"),
        (("--remove", "/p/r.####.exr", "--roto-frames", "1001"), "--roto-frames needs --roto"),
        (("--roto", "/p/r.####.exr", "--roto-frames", "999"), "frame 999"),
        (("--points", "1001:12"), "--points"),
        (("--quadmask", "/p/q.####.exr", "--instruction", "him"), "--instruction"),
    ],
)
def test_cli_mask_flag_errors_name_the_flag(argv, words):
    with pytest.raises(ValueError, match=words):
        spec_from_args(_args(*argv))
