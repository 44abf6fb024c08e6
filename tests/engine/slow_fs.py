"""Engine plugin for the loop-thread test: a file server that answers ``stat`` slowly.

Every ``os.path.isfile`` on a path inside a folder named ``slow-nfs`` takes 1 ms more, as on a
busy NFS mount; a 10,000-frame plate there takes 10 s to check. Other paths are not slowed.
"""

from __future__ import annotations

import os
import time

SLOW_FOLDER = "slow-nfs"
DELAY_S = 0.001

_isfile = os.path.isfile


def _slow_isfile(path) -> bool:
    if SLOW_FOLDER in os.fspath(path):
        time.sleep(DELAY_S)
    return _isfile(path)


os.path.isfile = _slow_isfile
