"""The panel's "find by text (SAM3)" mask mode: the object's name becomes mask mode "text"."""

from __future__ import annotations

import pytest

BASE = dict(prompt="empty table", first=1001, last=1010, out_dir="/tmp/void", engine="tcp://127.0.0.1:5555")


def test_text_mode_sends_the_name_and_no_roto():
    from bridge.protocol import JobMasks, JobSpec
    from void_nuke.settings import MASK_MODES, RemoveSettings, build_spec

    assert MASK_MODES[:4] == ("mattes", "quadmask", "propagate", "reason")  # saved panels keep their index
    spec = build_spec(
        RemoveSettings(**BASE, mask_mode="text", remove_text=" the glass ", instruction="and its shadow"),
        plate="/p/p.####.exr",
        remove=None,
        affected="/p/a.####.exr",
        name="p",
        job_key="k",
    )
    assert spec.masks == JobMasks(
        mode="text", remove_text="the glass", affected="/p/a.####.exr", instruction="and its shadow"
    )
    assert spec.remove is None and spec.quadmask is None
    JobSpec.from_wire(spec.to_wire())  # valid on the wire as the plugin sends it


def test_text_mode_without_a_name_is_refused_with_the_fix():
    from void_nuke.errors import SetupError
    from void_nuke.settings import RemoveSettings, build_spec

    with pytest.raises(SetupError, match="Name what to remove in 'remove text'"):
        build_spec(RemoveSettings(**BASE, mask_mode="text"), plate="/p/p.####.exr", remove=None, name="p", job_key="k")
