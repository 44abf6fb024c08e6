"""Beyond one GPU: the engines as Ray actors behind the same ZeroMQ gateway, and a farm template.

``void-engine serve --cluster ray://head:10001|auto|local`` runs :class:`~.gateway.ClusterGateway`:
the single engine's socket loop and journal, unchanged on the wire, whose job runner is
:class:`~.dispatcher.ClusterDispatcher` instead of the local worker thread. The dispatcher claims
queued jobs from the journal whenever an engine actor (:class:`~.actor.EngineActor`,
``num_gpus=1``, restartable) is free, streams the actor's progress back into the journal, forwards
cancels, and decides retries when an actor dies. Ray schedules, restarts and moves frames; nothing here is a scheduler.

Ray is an optional extra (``[cluster]``): importing this package does not import ray; the
modules that need it import it when they run.

:mod:`.farm` writes an Open Job Description job bundle (``config/void.template.yaml``) that runs
``void-engine run`` over frame windows on a render farm (Deadline Cloud) or locally with ``openjd``.
"""
