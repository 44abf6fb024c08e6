"""Faithful fakes of DaVinci Resolve's scripting objects for the VOID Resolve scripts' tests.

``resolve`` (project manager, project, media pool, timelines, render queue), ``fusion`` (comps,
tools, Savers that write real EXRs), ``fusion.UIManager`` and ``bmd.UIDispatcher``. Real method
names and argument shapes (checked against ``fusionscript-stubs`` by mypy on the plugin side);
every call the script makes is recorded in :mod:`fake_resolve.calls`.
"""

from .fusion import Composition, Fusion, Tool, add_plate, add_polygon
from .host import Host, edit_scene, fusion_scene, run_script, summary
from .resolve import MediaPoolItem, Project, Resolve, Timeline
from .ui import BMD, Artist, UIDispatcher, UIManager

__all__ = [
    "Artist",
    "BMD",
    "Composition",
    "Fusion",
    "Host",
    "MediaPoolItem",
    "Project",
    "Resolve",
    "Timeline",
    "Tool",
    "UIDispatcher",
    "UIManager",
    "add_plate",
    "add_polygon",
    "edit_scene",
    "fusion_scene",
    "run_script",
    "summary",
]
