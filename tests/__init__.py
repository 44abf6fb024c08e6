"""The test suite. House rules:

- Every folder is a package; pyproject's pytest ``pythonpath`` puts this checkout first on
  sys.path (no test edits sys.path). Helpers are imported relatively inside their folder
  (``from .nuke_helpers import ...``) and as ``tests.<area>.<module>`` across folders.
- Fixtures shared by a folder live in its ``conftest.py``; no test module imports a fixture.
- Engines are started with the product's ``void_engine.service.local.LocalEngine`` (wrapped for
  the test backends in ``tests.engine.engine_harness.EngineProcess``).
"""
