"""The frame-count cap and the header byte cap agree: the `upload` of the longest job the engine
accepts fits in one header, and an engine cannot be set to accept longer jobs than that."""

from __future__ import annotations

import pytest

import bridge.protocol as P
from void_engine.config import ConfigError, EngineConfig, load_config


def _upload_of_longest_job() -> list[bytes]:
    """The `upload` header of a by-value job of MAX_FRAMES frames with every mask sequence."""
    roles = ("plate", "mask_remove", "mask_affected", "mask_quadmask")[: P.MAX_FILES_PER_FRAME]
    files = [
        {"name": f"{role}.{frame:05d}.exr", "size": 2**40} for frame in range(1, P.MAX_FRAMES + 1) for role in roles
    ]
    return P.encode({"type": "upload", "id": 1, "files": files})


def test_the_upload_of_a_job_of_max_frames_frames_fits_the_header_cap():
    frames = _upload_of_longest_job()
    assert len(frames[0]) <= P.MAX_HEADER_BYTES
    assert len(P.decode(frames).header["files"]) == P.MAX_FRAMES * P.MAX_FILES_PER_FRAME


def test_the_engine_socket_lets_the_largest_header_through():
    assert EngineConfig().max_message_bytes >= len(_upload_of_longest_job()[0])


def test_an_engine_max_frames_above_the_protocols_cap_is_refused(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text(f"[limits]\nmax_frames = {P.MAX_FRAMES + 1}\n")
    with pytest.raises(ConfigError, match="max_frames"):
        load_config(path)
