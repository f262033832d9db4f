"""Runs beyond one process, on Dask (the ``distributed`` extra: ``pip install "subsidy-engine[distributed]"``).

A sweep's scenarios and a Monte Carlo's paths are independent of each other: :func:`subsidy_engine.simulation.sweep.sweep`
and :func:`subsidy_engine.simulation.montecarlo.monte_carlo` take ``client=`` (a ``distributed.Client``) and hand
them to the cluster's workers; ``simulate --cluster local:N`` or ``--cluster tcp://host:8786`` does it from the
command line. A worker runs the same functions the single process runs, on the same inputs (sent once to every
worker), so the results and their hashes are the same to the fen; a test checks it, and that a worker killed in the
middle of a run changes nothing (Dask runs its tasks again elsewhere).

``connect("local:2")`` starts a LocalCluster of 2 worker processes of one thread each on this machine (each
worker's numba kernels keep to one thread too: the processes are the parallelism; this process's environment is
left as it was), ``connect("tcp://host:8786")``
joins a running scheduler. Either is a context manager that closes what it opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from subsidy_engine.errors import ClusterError, needs_extra

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
R = TypeVar("R")
NEEDS = "running on a cluster (--cluster, client=) needs dask.distributed"
_LOCAL = re.compile(r"local:([0-9]+)")
#: What Dask's nanny would set in this process before it starts each local worker (its ``pre-spawn-environ``), none
#: of it kept: glibc's ``MALLOC_TRIM_THRESHOLD_=65536`` made glibc hand every large temporary array back to the system
#: and map it again, so a worker priced Monte Carlo paths 1.7x slower than one process; and the thread counts
#: (OMP, MKL, OpenBLAS) would stay in this process's environment after a worker is started again, where numba then
#: refuses to compile (its thread count changed under it).
PRE_SPAWN = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: A local worker's own environment (set inside its process): numba on one thread, since the workers are the
#: parallelism (each task asks numba for it, :func:`_task`: numba sized its pool before the worker set this).
WORKER_THREADS = "SUBSIDY_ENGINE_WORKER_THREADS"


def check_address(address: str) -> str:
    """``address`` if it is ``local:N`` (N from 1 to 512) or a scheduler's ``tcp://``/``tls://`` address, else a
    ``ValueError`` naming the forms."""
    local = _LOCAL.fullmatch(address)
    if local is not None and 1 <= int(local.group(1)) <= 512:
        return address
    remote = re.fullmatch(r"(tcp|tls)://[^\s/]+:([0-9]{1,5})", address)
    if remote is not None and 1 <= int(remote.group(2)) <= 65535:
        return address
    raise ValueError(f"--cluster {address!r}: write local:N (N worker processes on this machine, 1 to 512) or a "
                     "scheduler's address such as tcp://10.0.0.5:8786 (port 1 to 65535)")


def require() -> None:
    """A :class:`~subsidy_engine.errors.MissingExtraError` naming the extra when dask.distributed is not installed
    (checked with the options, before a run computes anything)."""
    with needs_extra("distributed", NEEDS):
        import distributed  # noqa: F401


@contextlib.contextmanager
def connect(address: str, timeout: float = 30) -> Iterator[Client]:
    """A client of the cluster at ``address`` (:func:`check_address`); a local cluster is started and closed here.
    A scheduler not reached within ``timeout`` seconds is a :class:`~subsidy_engine.errors.ClusterError`.

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
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the scheduler at {address} within {timeout:g} s: {exc}") from None
        with client:
            yield client
        return
    import dask

    # the nanny sets its workers' hash seed (and its own bookkeeping) in this process: those put back on leaving
    before = {k: os.environ.get(k) for k in (*PRE_SPAWN, "PYTHONHASHSEED", "__DASK_PARENT_PID")}
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": None for k in PRE_SPAWN}
    try:
        with dask.config.set(environ), LocalCluster(
                n_workers=int(local.group(1)), threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR, env={WORKER_THREADS: "1"}) as cluster, Client(cluster) as client:
            yield client
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def workers(client: Client) -> int:
    """How many workers the cluster has now (at least 1: a cluster scaling up from none still gets its tasks)."""
    return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))


def map_in_order(client: Client, function: Callable[..., R], items: Sequence[T], *shared: object,
                 progress: Callable[[int], None] | None = None) -> list[R]:
    """``[function(item, *shared) for item in items]`` on the cluster's workers, in the order of ``items``.

    ``shared`` (the portfolio, the parameters...) is sent to every worker once, not with each task. A task whose
    worker dies is run again by Dask on another (up to ``distributed.scheduler.allowed-failures`` times); an error
    raised by ``function`` is raised here. A worker that keeps dying on a task, and a scheduler lost in the middle
    (Dask then cancels every future), are a :class:`~subsidy_engine.errors.ClusterError`. ``progress`` is called
    with the number of items done.
    """
    from distributed import as_completed

    # each call its own keys (hash=False): equal values would share one, and this call's cancel would take it from
    # the next; a list or mapping is sent whole, as one value, not item by item
    sent = [client.scatter([value], broadcast=True, hash=False)[0] for value in shared]
    futures = client.map(_task, [function] * len(items), list(items), *[[s] * len(items) for s in sent], pure=False)
    position = {future.key: k for k, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    done = 0
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    name = getattr(function, "__name__", "a task")
    lost = False
    try:
        for future in as_completed(futures):
            try:
                results[position[future.key]] = future.result()
            except KilledWorker:
                raise ClusterError(f"a worker died running {name} (item {position[future.key] + 1} of {len(items)}) "
                                   "more often than Dask runs a task again (distributed.scheduler.allowed-failures): "
                                   "see the workers' logs (out of memory?)") from None
            except FutureCancelledError as exc:  # Dask cancels every future of a client that lost its scheduler
                if getattr(exc, "reason", None) != "scheduler-connection-lost":
                    raise
                lost = True
                raise ClusterError(f"lost the scheduler at {client.scheduler.address} in the middle of {name} "
                                   f"({done} of {len(items)} done): run again when it is back") from None
            done += 1
            if progress is not None:
                progress(done)
    finally:
        if not lost:  # an error or an interrupt leaves nothing running or held on the cluster
            client.cancel(futures + sent)
    return results


def _task(function: Callable[..., R], item: object, *shared: object) -> R:
    """``function(item, *shared)`` on a worker, numba on the threads its environment allows (:data:`WORKER_THREADS`;
    numba counts threads per calling thread, so each task says it)."""
    wanted = os.environ.get(WORKER_THREADS, "")
    if wanted.isdigit():
        import numba

        pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]  # numba's config has no stub
        numba.set_num_threads(max(1, min(int(wanted), pool)))
    return function(item, *shared)


def pid_of_workers(client: Client) -> dict[str, int]:
    """Each worker's address and process id (a test kills one)."""
    return dict(client.run(os.getpid))


__all__ = ["NEEDS", "PRE_SPAWN", "WORKER_THREADS", "check_address", "connect", "map_in_order", "pid_of_workers", "require", "workers"]
