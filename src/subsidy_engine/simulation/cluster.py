"""Runs beyond one process, on Dask (the ``distributed`` extra: ``pip install "subsidy-engine[distributed]"``).

A sweep's scenarios and a Monte Carlo's paths are independent of each other: :func:`subsidy_engine.simulation.sweep.sweep`
and :func:`subsidy_engine.simulation.montecarlo.monte_carlo` take ``client=`` (a ``distributed.Client``) and hand
them to the cluster's workers; ``simulate --cluster local:N`` or ``--cluster tcp://host:8786`` does it from the
command line. A worker runs the same functions the single process runs, on the same inputs (sent once to every
worker), so the results and their hashes are the same to the fen; a test checks it, and that a worker killed in the
middle of a run changes nothing (Dask runs its tasks again elsewhere).

``connect("local:2")`` starts a LocalCluster of 2 worker processes of one thread each on this machine (each
worker's numba kernels keep to one thread too: the processes are the parallelism), ``connect("tcp://host:8786")``
joins a running scheduler. Either is a context manager that closes what it opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from subsidy_engine.errors import needs_extra

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
R = TypeVar("R")
NEEDS = "running on a cluster (--cluster, client=) needs dask.distributed"
_LOCAL = re.compile(r"local:([0-9]+)")
#: The environment a local worker starts with (set before its process starts, Dask's ``pre-spawn-environ``): numba
#: on one thread, since the workers are the parallelism (two workers of two threads on two cores wait on each
#: other); and not Dask's ``MALLOC_TRIM_THRESHOLD_=65536``, under which glibc hands every large temporary array
#: back to the system and maps it again: a worker priced Monte Carlo paths 1.7x slower than one process.
WORKER_ENV: dict[str, str | None] = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MALLOC_TRIM_THRESHOLD_": None}


def check_address(address: str) -> str:
    """``address`` if it is ``local:N`` (N from 1 to 512) or a scheduler's ``tcp://``/``tls://`` address, else a
    ``ValueError`` naming the forms."""
    local = _LOCAL.fullmatch(address)
    if local is not None and 1 <= int(local.group(1)) <= 512:
        return address
    if re.fullmatch(r"(tcp|tls)://[^\s/]+:[0-9]{1,5}", address):
        return address
    raise ValueError(f"--cluster {address!r}: write local:N (N worker processes on this machine, 1 to 512) or a "
                     "scheduler's address such as tcp://10.0.0.5:8786")


def require() -> None:
    """A :class:`~subsidy_engine.errors.MissingExtraError` naming the extra when dask.distributed is not installed
    (checked with the options, before a run computes anything)."""
    with needs_extra("distributed", NEEDS):
        import distributed  # noqa: F401


@contextlib.contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the cluster at ``address`` (:func:`check_address`); a local cluster is started and closed here.

    Examples
    --------
    >>> with connect("local:1") as client:
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    check_address(address)
    with needs_extra("distributed", NEEDS):
        from distributed import Client, LocalCluster
    local = _LOCAL.fullmatch(address)
    if local is None:
        with Client(address) as client:
            yield client
        return
    import dask

    before = dict(os.environ)  # Dask sets the workers' environment in this process before it starts them
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}
    with dask.config.set(environ), LocalCluster(
            n_workers=int(local.group(1)), threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.ERROR) as cluster:
        os.environ.clear()  # ours again (a worker started again later sets its own once more)
        os.environ.update(before)
        with Client(cluster) as client:
            yield client


def workers(client: Client) -> int:
    """How many workers the cluster has now (at least 1: a cluster scaling up from none still gets its tasks)."""
    return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))


def map_in_order(client: Client, function: Callable[..., R], items: Sequence[T], *shared: object,
                 progress: Callable[[int], None] | None = None) -> list[R]:
    """``[function(item, *shared) for item in items]`` on the cluster's workers, in the order of ``items``.

    ``shared`` (the portfolio, the parameters...) is sent to every worker once, not with each task. A task whose
    worker dies is run again by Dask on another (up to ``distributed.scheduler.allowed-failures`` times); an error
    raised by ``function`` is raised here. ``progress`` is called with the number of items done.
    """
    from distributed import as_completed

    sent = [client.scatter(value, broadcast=True) for value in shared]
    futures = client.map(function, list(items), *[[s] * len(items) for s in sent], pure=False)
    position = {future.key: k for k, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    done = 0
    try:
        for future in as_completed(futures):
            results[position[future.key]] = future.result()
            done += 1
            if progress is not None:
                progress(done)
    finally:
        client.cancel(futures)  # an error or an interrupt leaves nothing running on the cluster
    return results


def pid_of_workers(client: Client) -> dict[str, int]:
    """Each worker's address and process id (a test kills one)."""
    return dict(client.run(os.getpid))


__all__ = ["NEEDS", "WORKER_ENV", "check_address", "connect", "map_in_order", "pid_of_workers", "require", "workers"]
