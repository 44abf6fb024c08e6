"""How the suite shares one machine with itself when ``make test`` runs it on pytest-xdist workers.

``make test`` runs the suite in two passes: the tests not marked ``serial`` on two xdist workers, then the
``serial`` ones alone (they assert a latency or a duration, or use machine-wide resources: Ray's
default ports and folders, the browser driver's port). Mark such a test in its own file
(``@pytest.mark.serial``, or ``pytestmark`` for a module): the Makefile finds the serial pass's files
by that text. In a worker:

* torch gets one thread (``torch_threads()``, and OMP_NUM_THREADS for the engines a test starts):
  two workers on two cores, each with spinning OpenMP threads of its own, ran tiny models many
  times slower;
* ``free_port()`` hands out ports from a block that belongs to that worker alone, below the
  kernel's ephemeral range, so no other worker, and no socket bound to port 0 (``tcp://...:*``),
  can be given the same port. A plain ``pytest`` run keeps asking the kernel for a free port.
"""

from __future__ import annotations

import itertools
import os
import socket
import zlib

__all__ = ["free_port", "in_worker", "port_block", "torch_threads"]

# Ports handed out to xdist workers: above Ray's worker ports (10002-19999 by default), below the
# kernel's ephemeral range (32768-60999 by default on Linux; read from /proc where it exists).
FIRST_WORKER_PORT = 20000
_EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def in_worker() -> str | None:
    """The xdist worker id ("gw0", "gw1", ...) of this process, None outside a worker."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def torch_threads() -> int:
    """Threads for torch in a test process: one per worker under xdist, else two (the CI machine's cores)."""
    return 1 if in_worker() else 2


def _first_ephemeral_port() -> int:
    try:
        with open(_EPHEMERAL_RANGE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default, and above what other systems reserve for it


def port_block(worker: str, workers: int) -> range:
    """The ports that xdist worker ``worker`` (of ``workers``) alone may hand out."""
    index = int(worker.removeprefix("gw"))
    ceiling = _first_ephemeral_port()
    size = (ceiling - FIRST_WORKER_PORT) // max(workers, 1)
    if size < 100 or not 0 <= index < workers:
        raise RuntimeError(
            f"no port block for xdist worker {worker} of {workers}: ports {FIRST_WORKER_PORT}-{ceiling - 1} are "
            f"below the ephemeral range ({_EPHEMERAL_RANGE}); run fewer workers"
        )
    start = FIRST_WORKER_PORT + index * size
    return range(start, start + size)


class _WorkerPorts:
    """The ports of this worker's block, in turn, from a starting place of this run's own (so two
    test runs on one shared machine rarely meet)."""

    def __init__(self, block: range, run_id: str) -> None:
        self.block = block
        self._next = itertools.count(zlib.crc32(run_id.encode()) % len(block))

    def take(self) -> int:
        for _ in range(len(self.block)):
            port = self.block[next(self._next) % len(self.block)]
            if _binds(port):  # something outside the suite may hold it
                return port
        raise RuntimeError(f"every port of {self.block} is in use")


def _worker_ports() -> _WorkerPorts | None:
    worker = in_worker()
    if worker is None:
        return None
    block = port_block(worker, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    return _WorkerPorts(block, os.environ.get("PYTEST_XDIST_TESTRUNUID", ""))


def _binds(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_PORTS = _worker_ports()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (in an xdist worker: one of its own
    block, not handed out again until the worker has gone round the whole block)."""
    if _PORTS is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    return _PORTS.take()
