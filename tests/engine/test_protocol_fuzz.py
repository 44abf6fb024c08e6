"""Fuzz: thousands of malformed messages at a real engine; every one is answered with an error (or
ignored when it has no readable id), nothing is queued, and the engine still answers ping."""

from __future__ import annotations

import random
import struct

import msgpack
import zmq

from bridge import protocol as P
from bridge.client import EngineClient

from .engine_harness import raw_dealer

JUNK_VALUES = [
    None,
    -1,
    0,
    2**63 - 1,
    -(2**63),
    1.5,
    float("nan"),
    True,
    "",
    "x" * 5000,
    b"\x00\xff" * 50,
    [],
    [1, "a"],
    {},
    {"a": {"b": [None]}},
    "../../../etc/passwd",
    "/etc/shadow.####.exr",
]
ESCAPES = [
    "../../etc/passwd.####.exr",
    "/etc/x.####.exr",
    "/proc/self/environ.####",
    "plate/../../../x.####.exr",
    "/tmp/../etc/x.####.exr",
    "\x00.####.exr",
    "~root/.ssh/id.####.exr",
]


def forged_huge_length(rng: random.Random) -> bytes:
    """A header whose msgpack length prefix claims gigabytes the frame does not have."""
    kind = rng.choice([b"\xdb", b"\xc6", b"\xdd", b"\xdf"])  # str32, bin32, array32, map32
    return b"\x83\xa1v\x01\xa4type" + kind + struct.pack(">I", rng.randrange(2**28, 2**32)) + b"ab"


def malformed(rng: random.Random, i: int, job_id: str, shot) -> tuple[list[bytes], bool]:
    """(frames, has_readable_id) for the i-th malformed message."""
    kind = i % 8
    if kind == 0:  # random bytes, 1-3 frames
        return [rng.randbytes(rng.randrange(0, 200)) for _ in range(rng.randrange(1, 4))], False
    if kind == 1:  # msgpack but not a map
        return [msgpack.packb(rng.choice([[i, "ping"], i, "hello", 1.5, None, b"raw"]))], False
    if kind == 2:  # wrong protocol versions
        return [msgpack.packb({"v": rng.choice([0, 2, 99, -1, "1", None, 1.0]), "type": "ping", "id": i})], True
    if kind == 3:  # forged huge lengths
        return [forged_huge_length(rng)], False
    if kind == 4:  # right envelope, unknown type or junk type
        return P.encode({"type": rng.choice(["pong", "PING", "", "shutdown ", "_on_ping", "__init__"]), "id": i}), True
    if kind == 5:  # known types, fields of the wrong type
        rtype = rng.choice(["status", "events", "cancel", "fetch", "list", "upload", "chunk", "submit"])
        fields = {
            rng.choice(
                ["job", "after", "wait", "file", "offset", "length", "files", "upload", "all", "limit", "token"]
            ): rng.choice(JUNK_VALUES)
            for _ in range(rng.randrange(1, 4))
        }
        if rtype == "submit":
            fields["job"] = rng.choice(JUNK_VALUES)
        blobs = [rng.randbytes(10)] * rng.randrange(0, 3)
        return P.encode({"type": rtype, "id": i, **fields}, blobs), True
    if kind == 6:  # path escapes in otherwise well-formed submits
        job = {
            "plate": shot.plate,
            "frames": list(shot.frames),
            "prompt": "x",
            "out": "/tmp/void-out",
            "remove": shot.remove_matte,
        }
        if rng.random() < 0.5:
            job[rng.choice(["plate", "remove", "out", "quadmask"])] = rng.choice(ESCAPES)
            if "quadmask" in job:
                job.pop("remove")
        else:  # the mask modes' own fields (job.masks) and pass 2, escaped or junk
            job.pop("remove")
            masks = {
                "mode": rng.choice(list(P.MASK_MODES) + ["", "magic", 5]),
                "roto": rng.choice(ESCAPES),
                "keyframes": [shot.frames[0]],
                "instruction": "remove the ball",
                rng.choice(["remove", "affected", "quadmask", "roto"]): rng.choice(ESCAPES),
            }
            masks[rng.choice(["keyframes", "points", "threshold", "dilate_px", "mode", "instruction"])] = rng.choice(
                JUNK_VALUES + [[{"frame": shot.frames[0], "x": -1, "y": 2}], [{"frame": "x"}]]
            )
            job["masks"] = masks
            job["pass2"] = rng.choice([True, False, "yes", 1, None])
        return P.encode({"type": "submit", "id": i, "job": job}), True
    # kind 7: requests about another client's job, unknown uploads, out-of-range numbers
    return P.encode(
        rng.choice(
            [
                {"type": "cancel", "id": i, "job": job_id},
                {"type": "fetch", "id": i, "job": job_id, "file": "../../journal.sqlite3"},
                {"type": "chunk", "id": i, "upload": "nope", "file": 0, "offset": 0},
                {"type": "events", "id": i, "job": job_id, "after": -5},
                {"type": "shutdown", "id": i},
                {"type": "list", "id": i, "limit": 10**9},
            ]
        ),
        [b"blob"] if rng.random() < 0.3 else [],
    ), True


def test_two_thousand_malformed_messages_then_engine_still_answers(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config())
    rng = random.Random(1234)
    with EngineClient(eng.endpoint, token="owner-of-the-job") as owner:
        job_id = owner.submit(
            P.JobSpec(
                plate=sample_shot.plate,
                frames=tuple(sample_shot.frames),
                prompt="x",
                out=str(tmp_path / "out"),
                remove=sample_shot.remove_matte,
            )
        )
        owner.wait(job_id)

    ctx = zmq.Context()
    sock = raw_dealer(eng.endpoint, ctx)
    total, answered, with_id, bad_replies = 0, 0, 0, []
    try:
        for batch in range(25):
            expected: set[int] = set()
            for k in range(100):
                i = 10_000 + batch * 100 + k
                frames, has_id = malformed(rng, i, job_id, sample_shot)
                sock.send_multipart(frames)
                total += 1
                if has_id:
                    expected.add(i)
            while expected and sock.poll(3000):
                msg = P.decode(sock.recv_multipart())
                answered += 1
                if msg.id in expected:
                    expected.discard(msg.id)
                    with_id += 1
                    # A junk field on a read-only request (list with an ignored key) may be served;
                    # nothing that changes state or moves data may ever succeed.
                    ok = (msg.header["type"] == "error" and msg.header["code"] in P.ERROR_CODES) or (
                        msg.header["type"] == "reply" and msg.header["re"] in ("list", "ping", "hello")
                    )
                    if not ok:
                        bad_replies.append(msg.header)
            assert not expected, f"batch {batch}: no reply to ids {sorted(expected)[:5]}"
            while sock.poll(50):  # answers to id-less garbage
                sock.recv_multipart()
                answered += 1
    finally:
        sock.close(0)
        ctx.term()
    assert total >= 2000
    assert bad_replies == []
    assert with_id >= 1200
    with EngineClient(eng.endpoint, token="owner-of-the-job") as owner:
        assert owner.ping() < 1.0
        assert [j.job for j in owner.list()] == [job_id]  # nothing was queued by the fuzz
    assert eng.proc.poll() is None
    assert "Traceback" not in eng.log() and "internal error" not in eng.log()
