"""The fake hub answers huggingface_hub's own client, so the download tests exercise the real protocol."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes.hub_server import FakeHub
from tests.weights.conftest import TOKEN


@pytest.fixture
def small_hub():
    hub = FakeHub()
    hub.add_repo("org/model", {"config.json": b'{"a": 1}', "w.safetensors": b"\x00" * 5000, "sub/x.txt": b"x"})
    with hub:
        yield hub


def test_weights_fake_hub_serves_hf_hub_download(tmp_path, small_hub):
    from huggingface_hub import HfApi, hf_hub_download

    for name, data in (("config.json", b'{"a": 1}'), ("w.safetensors", b"\x00" * 5000)):
        path = hf_hub_download("org/model", name, endpoint=small_hub.url, cache_dir=tmp_path / "cache", token=TOKEN)
        assert open(path, "rb").read() == data
    # The LFS file went through a 302 to the CDN origin, without the token.
    cdn = [r for r in small_hub.requests if r.server == "cdn"]
    assert len(cdn) == 1 and "authorization" not in cdn[0].headers
    api = HfApi(endpoint=small_hub.url, token=TOKEN)
    info = api.model_info("org/model", files_metadata=True)
    lfs = {s.rfilename: s.lfs for s in info.siblings}
    assert lfs["w.safetensors"].sha256 == hashlib.sha256(b"\x00" * 5000).hexdigest() and lfs["config.json"] is None
    paths = api.get_paths_info("org/model", ["w.safetensors", "sub"], expand=False)
    assert {type(p).__name__ for p in paths} == {"RepoFile", "RepoFolder"}


def test_weights_fake_hub_errors_map_to_hub_exceptions(small_hub):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    api = HfApi(endpoint=small_hub.url, token=False)
    with pytest.raises(RevisionNotFoundError):
        api.model_info("org/model", revision="nope")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org/none")
