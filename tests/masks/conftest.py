"""Fixtures of the masks tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run torch on one thread for the module, then restore. The tiny SAM2's ops are far too
    small to gain from threads, and on a shared 2-core machine torch's spinning worker threads
    made a propagation ten times slower (measured: 18 s vs 1.3 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
