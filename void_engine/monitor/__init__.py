"""The engine's web page and Prometheus ``/metrics`` (``[monitor]`` in config/engine.toml; off by default).

Needs the ``[monitor]`` extra (starlette, uvicorn, prometheus-client). See :class:`Monitor`.
"""

from .service import Monitor

__all__ = ["Monitor"]
