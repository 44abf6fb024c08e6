"""Resolve: the window's "Remove text" (or $VOID_REMOVE_TEXT) makes mask mode "text"."""

from __future__ import annotations

from pathlib import Path


def _spec(settings, keyframes=(), affected=None):
    from void_resolve.jobs import build_spec

    return build_spec(
        settings,
        plate="/s/p.####.exr",
        frames=(1002, 1003, 1004),
        prompt="wall",
        name="s_void",
        remove="/s/r.####.exr",
        affected=affected,
        out=Path("/s/out"),
        keyframes=keyframes,
    )


def test_remove_text_makes_a_text_job_without_the_remove_matte():
    from bridge.protocol import JobMasks, JobSpec
    from void_resolve.settings import settings_from_env

    settings = settings_from_env({"VOID_REMOVE_TEXT": " the glass ", "VOID_INSTRUCTION": "and its shadow"})
    spec = _spec(settings, affected="/s/a.####.exr")
    assert spec.masks == JobMasks(
        mode="text", remove_text="the glass", affected="/s/a.####.exr", instruction="and its shadow"
    )
    assert spec.remove is None and spec.affected is None
    JobSpec.from_wire(spec.to_wire())  # valid as sent


def test_window_text_overrides_and_a_blank_one_keeps_the_mattes():
    from void_resolve.settings import settings_from_env

    settings = settings_from_env({})
    assert _spec(settings.with_remove_text("the lamp")).masks.remove_text == "the lamp"
    plain = _spec(settings.with_remove_text("   "))
    assert plain.masks is None and plain.remove == "/s/r.####.exr"
