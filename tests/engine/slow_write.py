"""Engine plugin for the restart test: writing a result frame takes half a second, so a test can
kill the engine while one job writes, the next runs its model and a third waits prepared."""

from __future__ import annotations

import time

from void_engine.plates.shot import Shot

_write_frame = Shot.write_frame


def _slow_write_frame(self, t, model_frame, target, attrs, **kw):
    time.sleep(0.5)
    return _write_frame(self, t, model_frame, target, attrs, **kw)


Shot.write_frame = _slow_write_frame
