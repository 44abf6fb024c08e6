"""The quadmask's four levels and how resampled values snap back to them.

0 remove, 63 overlap (object over affected), 127 affected (what the object did to the scene),
255 keep. Cut points 31 / 95 / 191 are the reference's (a value on a cut point goes down).
"""

from __future__ import annotations

import numpy as np

REMOVE, OVERLAP, AFFECTED, KEEP = 0, 63, 127, 255
LEVELS = (REMOVE, OVERLAP, AFFECTED, KEEP)
CUTS = (31, 95, 191)
LEVELS_TEXT = "/".join(map(str, LEVELS))  # "0/63/127/255", for messages


def snap_quadmask(values: np.ndarray) -> np.ndarray:
    """Snap any 0..255 values (e.g. after area resampling) to the four levels, as uint8."""
    v = np.asarray(values)
    out = np.full(v.shape, KEEP, np.uint8)
    out[v <= CUTS[2]] = AFFECTED
    out[v <= CUTS[1]] = OVERLAP
    out[v <= CUTS[0]] = REMOVE
    return out
