"""Engine plugin for one test: moving a finished upload into its job takes a second, which widens
the window between a by-value job being stored and its inputs being in place."""

from __future__ import annotations

import time

from void_engine.service.uploads import UploadStore

_take = UploadStore.take


def _slow_take(self, owner, upload_id, dest):
    time.sleep(1.0)  # longer than the worker's idle poll (0.5 s)
    return _take(self, owner, upload_id, dest)


UploadStore.take = _slow_take  # type: ignore[method-assign]
