"""The ZeroMQ gateway in front of a Ray engine pool: the single engine, with a different job runner.

Everything a plugin sees — the ROUTER socket, protocol, CURVE, path roots, uploads, journal,
events, fetch — is :class:`void_engine.service.server.Engine`'s own code, so a plugin cannot tell a
gateway from an engine. Only the :class:`~void_engine.service.job_runner.JobRunner` differs: the
:class:`~.dispatcher.ClusterDispatcher` hands queued jobs to Ray actors instead of a local backend.
"""

from __future__ import annotations

from typing import Callable

from ..config import EngineConfig
from ..service.job_runner import JobRunner, Notify
from ..service.journal import Journal
from ..service.server import Engine
from .dispatcher import ClusterDispatcher
from .pool import EnginePool


class ClusterGateway(Engine):
    """``void-engine serve --cluster ADDRESS``: one gateway, N engine actors (``cfg.ray_address``)."""

    def __init__(
        self,
        cfg: EngineConfig,
        *,
        pool_factory: Callable[[], EnginePool] | None = None,
        streaming: bool | None = None,
    ):
        if not cfg.ray_address:
            raise ValueError("the cluster gateway needs [cluster] ray_address (or --cluster ADDRESS)")

        def dispatcher(journal: Journal, notify: Notify) -> JobRunner:
            return ClusterDispatcher(journal, cfg, notify, pool_factory=pool_factory, streaming=streaming)

        super().__init__(cfg, make_runner=dispatcher)

    @property
    def dispatcher(self) -> ClusterDispatcher:
        """The job runner (``self.worker``) as what it is: its engine slots, readiness, pool."""
        assert isinstance(self.worker, ClusterDispatcher)
        return self.worker
