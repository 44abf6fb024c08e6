"""bridge.protocol: envelopes, validation with stable codes naming the field, frame patterns."""

from __future__ import annotations

import subprocess
import sys

import msgpack
import pytest

from bridge import protocol as P
from bridge.transfer import default_output_name, frame_path

from .engine_harness import REPO


def good_job(**over):
    job = {
        "plate": "/shots/a/plate.####.exr",
        "frames": [1001, 1002],
        "prompt": "empty street",
        "out": "/shots/a/void",
        "remove": "/shots/a/roto.####.exr",
    }
    job.update(over)
    return job


def test_encode_decode_round_trip_keeps_header_and_blobs():
    frames = P.encode({"type": "chunk", "id": 7, "upload": "u1"}, [b"\x00\x01exr"])
    msg = P.decode(frames)
    assert msg.type == "chunk" and msg.id == 7 and msg.header["upload"] == "u1"
    assert msg.header["v"] == P.PROTOCOL_VERSION
    assert msg.blobs == (b"\x00\x01exr",)


@pytest.mark.parametrize(
    "frames, code, field",
    [
        ([], P.BAD_FRAME, "header"),
        ([b"\xc1garbage"], P.BAD_FRAME, "header"),
        ([msgpack.packb([1, 2, 3])], P.BAD_FRAME, "header"),
        ([msgpack.packb({"type": "ping", "id": 1})], P.BAD_REQUEST, "v"),
        ([msgpack.packb({"v": 99, "type": "ping", "id": 1})], P.BAD_REQUEST, "v"),
        ([msgpack.packb({"v": 1, "id": 1})], P.BAD_REQUEST, "type"),
        ([msgpack.packb({"v": 1, "type": "ping", "id": [1]})], P.BAD_REQUEST, "id"),
        ([msgpack.packb({"v": 1, "type": "ping"}), b"", b"", b"", b"", b""], P.BAD_FRAME, "blobs"),
        ([b"\x00" * (P.MAX_HEADER_BYTES + 1)], P.TOO_LARGE, "header"),
    ],
)
def test_malformed_envelopes_get_stable_codes_naming_the_frame(frames, code, field):
    with pytest.raises(P.ProtocolError) as info:
        P.decode(frames)
    assert info.value.code == code
    assert info.value.field == field


def test_forged_huge_msgpack_length_is_refused_without_allocating():
    # A str32 header claiming 4 GiB of text in a 10-byte frame.
    forged = b"\x81\xa1v\xdb\xff\xff\xff\xf0ab"
    with pytest.raises(P.ProtocolError) as info:
        P.decode([forged])
    assert info.value.code == P.BAD_FRAME


def test_bad_version_message_names_both_versions():
    with pytest.raises(P.ProtocolError, match=r"v=2 .*v=1"):
        P.decode([msgpack.packb({"v": 2, "type": "ping", "id": 1})])


def test_error_reply_round_trips_as_protocol_error():
    frames = P.error_reply(5, P.ProtocolError(P.NOT_FOUND, "no job 'x'", "job"))
    msg = P.decode(frames)
    assert msg.id == 5
    with pytest.raises(P.ProtocolError) as info:
        P.raise_for_error(msg)
    assert (info.value.code, info.value.field) == (P.NOT_FOUND, "job")


def test_job_spec_round_trip():
    spec = P.JobSpec.from_wire(good_job(seed=3, steps=8, job_key="k1", affected="/shots/a/sh.####.exr"))
    assert spec.frames == (1001, 1002)
    assert P.JobSpec.from_wire(spec.to_wire()) == spec


@pytest.mark.parametrize(
    "job, field",
    [
        (good_job(plate=None), "job.plate"),
        (good_job(plate=5), "job.plate"),
        (good_job(frames=[]), "job.frames"),
        (good_job(frames=[1001, "x"]), "job.frames"),
        (good_job(frames=[1001, 1001]), "job.frames"),
        (good_job(prompt=b"bytes"), "job.prompt"),
        (good_job(quadmask="/q.####.exr"), "job.quadmask"),
        (good_job(remove=None), "job.quadmask"),
        (good_job(remove=None, quadmask="/q.####.exr", affected="/a.####.exr"), "job.affected"),
        (good_job(out=None), "job.out"),
        (good_job(seed=-1), "job.seed"),
        (good_job(seed=True), "job.seed"),
        (good_job(steps=0), "job.steps"),
        (good_job(name="../evil"), "job.name"),
        (good_job(colour="red"), "job.colour"),
        (good_job(plate=""), "job.plate"),
    ],
)
def test_job_spec_errors_name_the_field(job, field):
    with pytest.raises(P.ProtocolError) as info:
        P.JobSpec.from_wire(job)
    assert info.value.field == field
    assert field in info.value.message


def test_job_spec_frame_count_cap_is_too_large():
    with pytest.raises(P.ProtocolError) as info:
        P.JobSpec.from_wire(good_job(frames=list(range(50))), max_frames=10)
    assert info.value.code == P.TOO_LARGE


def test_parse_frame_list_accepts_ranges_and_lists():
    assert P.parse_frame_list("1001-1004") == [1001, 1002, 1003, 1004]
    assert P.parse_frame_list("1,3,5-7") == [1, 3, 5, 6, 7]
    for bad in ("", "10-1", "a-b", "1,1"):
        with pytest.raises(ValueError):
            P.parse_frame_list(bad)


def test_frame_path_follows_the_plate_patterns():
    assert frame_path("/s/a.####.exr", 1001) == "/s/a.1001.exr"
    assert frame_path("/s/a.%06d.exr", 12) == "/s/a.000012.exr"
    assert frame_path("/s/a.$F4.exr", 7) == "/s/a.0007.exr"
    assert frame_path("/s/a.@@@@.exr", 7) == "/s/a.0007.exr"
    with pytest.raises(ValueError):
        frame_path("/s/a.exr", 1)
    assert default_output_name("/s/plate_v002.####.exr") == "plate_v002_void"


def test_bridge_imports_no_torch_numpy_or_engine():
    code = (
        "import sys, bridge, bridge.protocol, bridge.transfer, bridge.client, bridge.cli; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'void_engine')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # And no module in bridge/ names them in an import statement (lazy imports included).
    import ast

    for path in (REPO / "bridge").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("torch", "numpy", "void_engine"), f"{path.name} imports {name}"
