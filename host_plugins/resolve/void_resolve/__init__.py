"""Host-free core of the VOID Resolve scripts.

The two menu scripts (Fusion page ``Comp/VOID Remove Object.py`` and Edit page
``Edit/VOID Remove Object.py``) are thin: they find Resolve's objects and hand them to
:mod:`void_resolve.fusion_comp` or :mod:`void_resolve.edit_page`. Everything that can be
decided without Resolve (frame ranges and handles, sequence names, mask roles, the engine
job in its thread) lives in small modules here so tests run it without the host.

Imports only the standard library and ``bridge`` (never numpy/torch: this runs inside
Resolve's Python).
"""

__version__ = "0.1.0"
