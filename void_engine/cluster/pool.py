"""Connecting to Ray and starting the engine actors (the only module that decides actor options).

Actor options and why:
- ``num_gpus`` (default 1): one engine per GPU, the model resident on it.
- ``max_restarts=-1``: an engine that dies (CUDA out of memory, a segfault in a kernel, a node
  that comes back) is restarted by Ray and loads its model again.
- ``max_task_retries=0``: Ray never re-runs a job by itself. The gateway decides (once, then
  failed), so an input that kills its engine cannot go on to kill every engine in turn.
- concurrency groups ``jobs: 1`` and ``control: 2``: one job at a time on the GPU, while cancel
  and info are still served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .actor import CONTROL_GROUP, JOBS_GROUP, EngineActor
from .messages import ActorSettings

log = logging.getLogger("void_engine.cluster.pool")


class ClusterError(RuntimeError):
    """Ray is missing, unreachable, or has no room for an engine; the message says which."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError("the cluster mode needs Ray: pip install 'void-bridge[cluster]' (ray 2.60)") from None
    return ray


def remote_engine_class(ray: Any, *, num_gpus: float, num_cpus: float) -> Any:
    """EngineActor as a Ray actor class with the options above."""
    methods = {
        name: ray.method(concurrency_group=group)(getattr(EngineActor, name))
        for name, group in (
            ("run", JOBS_GROUP),
            ("run_polled", JOBS_GROUP),
            ("cancel", CONTROL_GROUP),
            ("info", CONTROL_GROUP),
            ("poll", CONTROL_GROUP),
        )
    }
    # ray.method only tags the functions; the subclass keeps Ray's remote wrapping off EngineActor,
    # which tests and `void-engine run`-like callers can still use as a plain object.
    cls = type("VoidEngineActor", (EngineActor,), methods)
    return ray.remote(
        num_gpus=num_gpus,
        num_cpus=num_cpus,
        max_restarts=-1,
        max_task_retries=0,
        concurrency_groups={JOBS_GROUP: 1, CONTROL_GROUP: 2},
    )(cls)


def streams_from_actors(address: str) -> bool:
    """Whether progress can stream from the actors: not through Ray Client (``ray://``), which
    refuses ``num_returns="streaming"`` (measured with ray 2.60); the gateway then polls."""
    return not address.startswith("ray://")


def connect(address: str, namespace: str) -> bool:
    """Join (or start) Ray; returns True when this call started it (so it must shut it down).

    ``auto`` joins the cluster started on this machine with ``ray start --head``; ``local`` starts
    a private Ray for this process; ``ray://host:10001`` goes through Ray Client; ``host:6379``
    joins a cluster this machine is a node of. If Ray is already initialised in this process
    (tests, a notebook) it is used as it is.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"namespace": namespace, "include_dashboard": False, "log_to_driver": False}
    try:
        # "local" is Ray's own word for "always start a new instance", even if a `ray start`
        # cluster runs on this machine.
        ray.init(address=address, **kwargs)
    except Exception as exc:
        raise ClusterError(f"cannot join the Ray cluster at {address!r}: {type(exc).__name__}: {exc}") from None
    return True


@dataclass
class EnginePool:
    """The engine actors of one gateway. ``handles[i]`` is engine i."""

    handles: list[Any]
    owns_ray: bool
    settings: ActorSettings
    options: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        settings: ActorSettings,
        *,
        address: str,
        namespace: str,
        engines: int = 0,
        gpus_per_engine: float = 1.0,
        cpus_per_engine: float = 1.0,
    ) -> "EnginePool":
        """Start ``engines`` actors (0 = as many as the cluster has GPUs for)."""
        ray = import_ray()
        owns = connect(address, namespace)
        try:
            if engines <= 0:
                gpus = float(ray.cluster_resources().get("GPU", 0))
                engines = int(gpus // gpus_per_engine) if gpus_per_engine > 0 else 0
                if engines <= 0:
                    raise ClusterError(
                        f"the Ray cluster reports {gpus:g} GPUs; set [cluster] engines "
                        "(or gpus_per_engine) to run engines without them"
                    )
            actor_cls = remote_engine_class(ray, num_gpus=gpus_per_engine, num_cpus=cpus_per_engine)
            handles = [actor_cls.remote(settings) for _ in range(engines)]
        except BaseException:
            if owns:
                ray.shutdown()
            raise
        log.info("started %d engine actor(s) (%g GPU, %g CPU each)", engines, gpus_per_engine, cpus_per_engine)
        return cls(handles, owns, settings, {"num_gpus": gpus_per_engine, "num_cpus": cpus_per_engine})

    def close(self) -> None:
        """Stop the actors (the gateway owns them) and Ray itself if the gateway started it."""
        ray = import_ray()
        for h in self.handles:
            try:
                ray.kill(h, no_restart=True)
            except Exception:
                pass
        self.handles = []
        if self.owns_ray and ray.is_initialized():
            ray.shutdown()
