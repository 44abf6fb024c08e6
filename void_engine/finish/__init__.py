"""The finish stage: the model's result made to hold up at plate resolution (DESIGN.md §4 rule 4).

VOID works at 384x672; a 4K plate's region of interest comes back several times upscaled. The
finish, between the model and the composite, brings in the plate's own full-resolution pixels where
other frames show the background (:mod:`.align`, :mod:`.reveal`), adds grain measured on the plate
where nothing was seen (:mod:`.grain`), and keeps highlights above 1 through an invertible encoding
on the way into the model (:mod:`.highlights`). :mod:`.stage` runs it frame by frame.

Only the settings are imported here: the engine's config loader must not pull in numpy or OpenCV.
"""

from .settings import FinishSettings

__all__ = ["FinishSettings"]
