"""Suite-wide settings: how a test process behaves as one of ``make test``'s xdist workers (see
tests/parallel.py)."""

from __future__ import annotations

import os

import pytest

from tests.parallel import in_worker


def pytest_configure(config: pytest.Config) -> None:
    if in_worker():
        # Before any test module imports torch; the engines and scripts the tests start inherit it.
        os.environ["OMP_NUM_THREADS"] = "1"
