"""Engine errors in the artist's words: which frame or file, and what to do about it."""

from __future__ import annotations

import pytest


@pytest.fixture
def plugin(fake_nuke):
    from void_nuke import errors

    return errors


@pytest.mark.parametrize(
    "code, text, expected",
    [
        (
            "not_found",
            "field 'job.remove': frame 1012 is missing (/shots/sh010/roto.1012.exr)",
            "Frame 1012 of the remove matte is missing (/shots/sh010/roto.1012.exr)",
        ),
        (
            "unauthorised",
            "field 'job.plate': /mnt/other/plate.####.exr is outside the engine's roots",
            "add the folder to the engine's roots, or choose 'by value'",
        ),
        ("busy", "5 jobs are already queued; try again later", "queue is full"),
        ("too_large", "upload is 9 GB; the limit is 4 GB", "Shorten the frame range"),
        ("bad_request", "field 'job.steps' must be <= 1000, got 5000", "refused the job: field 'job.steps'"),
    ],
)
def test_engine_errors_become_instructions(plugin, code, text, expected):
    from bridge.protocol import ProtocolError

    assert expected in plugin.artist_message(ProtocolError(code, text), "tcp://gpu01:5555")


def test_unreachable_engine_names_the_address(plugin):
    from bridge.client import EngineUnavailable

    text = plugin.artist_message(EngineUnavailable("no reply"), "tcp://gpu01:5555")
    assert "tcp://gpu01:5555" in text and "void-engine serve" in text


def test_a_failed_job_keeps_the_engines_words_and_adds_a_hint(plugin):
    text = plugin.failed_job_message("j42", "QuadmaskError: matte frame 1003: no remove pixels")
    assert text.startswith("VOID could not finish job j42:\nQuadmaskError: matte frame 1003")
    assert "roto" in text.lower()
