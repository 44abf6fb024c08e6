"""The one v### rule (bridge.versions) and the engine's publishing, which follows it."""

from __future__ import annotations

import json

import pytest

from bridge.versions import existing_versions, next_version, version_name, version_number
from void_engine.plates.output import publish_version, reserve_version_dir
from void_engine.service.runner import PUBLISHED_MARKER, find_published


@pytest.mark.parametrize("number, name", [(1, "v001"), (42, "v042"), (999, "v999"), (1000, "v1000"), (12345, "v12345")])
def test_version_names_are_three_digits_at_least_and_read_back(number, name):
    assert version_name(number) == name
    assert version_number(name) == number


@pytest.mark.parametrize("name", ["v1", "v12", "V003", "v001_old", "v-01", "v", "001", "v٠٠٣", "xv001", "v001 "])
def test_names_the_engine_never_writes_are_not_versions(name):
    assert version_number(name) is None


def test_version_zero_or_below_has_no_name():
    with pytest.raises(ValueError, match="start at 1"):
        version_name(0)


def test_existing_versions_counts_every_version_name_and_nothing_else(tmp_path):
    for name in ("v001", "v007", "v1", "v12", "v002_old", "takes"):
        (tmp_path / name).mkdir()
    (tmp_path / "v010").write_bytes(b"")  # a file takes its name too
    assert existing_versions(tmp_path) == [1, 7, 10]
    assert next_version(tmp_path) == 11


def test_a_missing_or_empty_folder_starts_at_version_one(tmp_path):
    assert existing_versions(tmp_path / "nowhere") == []
    assert next_version(tmp_path / "nowhere") == 1
    assert next_version(tmp_path) == 1


def test_after_v999_comes_v1000_then_v1001(tmp_path):
    (tmp_path / "v999").mkdir()
    assert version_name(next_version(tmp_path)) == "v1000"
    (tmp_path / "v1000").mkdir()
    assert version_name(next_version(tmp_path)) == "v1001"


def test_the_engine_reserves_and_publishes_the_next_version_of_the_rule(tmp_path):
    (tmp_path / "v999").mkdir()
    (tmp_path / "v5").mkdir()  # not a version: it does not move the numbering
    reserved = reserve_version_dir(tmp_path)
    assert reserved.name == version_name(next_version(tmp_path) - 1) == "v1000"
    staging = tmp_path / ".staging"
    staging.mkdir()
    published = publish_version(staging, tmp_path)
    assert published.name == "v1001" and published.is_dir() and not staging.exists()


def test_a_re_run_finds_its_own_published_version_past_v999(tmp_path):
    """service.runner reads versions by the same rule the plate layer writes them."""
    staging = tmp_path / ".staging"
    staging.mkdir()
    (staging / PUBLISHED_MARKER).write_text(json.dumps({"job": "j1", "pattern": "r.####.exr", "frames": [1]}))
    (tmp_path / "v999").mkdir()
    published = publish_version(staging, tmp_path)
    found = find_published(tmp_path, "j1")
    assert found is not None and found.version_dir == published and published.name == "v1000"
