"""The ZeroMQ gateway in front of a Ray engine pool: the single engine, with a different worker.

Everything a plugin sees — the ROUTER socket, protocol, CURVE, path roots, uploads, journal,
events, fetch — is :class:`void_engine.service.server.Engine`'s own code, so a plugin cannot tell a
gateway from an engine. Only the thread that runs queued jobs differs: the
:class:`~.dispatcher.ClusterDispatcher` hands them to Ray actors instead of a local backend.
"""

from __future__ import annotations

from typing import Any

from ..config import EngineConfig
from ..service.server import Engine
from .dispatcher import ClusterDispatcher


class ClusterGateway(Engine):
    """``void-engine serve --cluster ADDRESS``: one gateway, N engine actors (``cfg.ray_address``)."""

    def __init__(self, cfg: EngineConfig, *, pool_factory: Any = None, streaming: bool | None = None):
        if not cfg.ray_address:
            raise ValueError("the cluster gateway needs [cluster] ray_address (or --cluster ADDRESS)")
        # Engine builds a local WorkerThread (not started, no backend loaded: construction is cheap);
        # it is replaced before serve_forever starts anything, which keeps server.py free of hooks.
        super().__init__(cfg)
        local = self.worker
        self.worker = ClusterDispatcher(
            self.journal,
            cfg,
            self._notify,
            pool_factory=pool_factory,  # type: ignore[assignment]
            streaming=streaming,
        )
        # Submit-time capability checks (SAM2 files, pass-2 weights) stay in the gateway and use
        # the same settings the actors get, so a job the engines cannot run is refused at once.
        if hasattr(local, "mask_stage"):
            self.worker.mask_stage = local.mask_stage

    @property
    def dispatcher(self) -> ClusterDispatcher:
        """The cluster worker (``self.worker``, typed): its engine slots, readiness, pool."""
        return self.worker  # type: ignore[return-value]
