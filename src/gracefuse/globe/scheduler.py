"""Where dask runs the chunked preparation: ``--scheduler`` on the command line.

``threads`` (dask's default for arrays), ``processes``, ``synchronous`` (one thread, for
debugging), ``local:N`` (a ``dask.distributed.LocalCluster`` of ``N`` worker processes on
this machine, one thread each) or the address of a running ``dask.distributed`` scheduler
(``tcp://host:8786``, e.g. started by ``dask scheduler`` and ``dask worker`` on a cluster,
or by dask-jobqueue). Within the block every ``.compute()``, ``.load()`` and
``to_netcdf`` of gracefuse's dask-backed arrays runs there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import dask

from gracefuse.errors import ConfigError

log = logging.getLogger(__name__)

#: the single-machine schedulers of dask itself
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")


def describe_scheduler(spec: str | None) -> str:
    """What ``spec`` asks for, or a :class:`ConfigError` naming what is wrong with it.

    >>> describe_scheduler("local:2")
    'LocalCluster with 2 workers'
    >>> describe_scheduler("tcp://10.0.0.5:8786")
    'dask.distributed scheduler at tcp://10.0.0.5:8786'
    """
    if spec is None or spec in LOCAL_SCHEDULERS:
        return f"dask {spec or 'threads'} scheduler"
    if spec.startswith("local:"):
        return f"LocalCluster with {_workers(spec)} workers"
    if "://" in spec:
        return f"dask.distributed scheduler at {spec}"
    raise ConfigError(
        f"--scheduler: {spec!r} is not one of {', '.join(LOCAL_SCHEDULERS)}, local:N (a "
        "LocalCluster of N workers) or a dask.distributed address such as tcp://host:8786"
    )


def _workers(spec: str) -> int:
    try:
        n = int(spec.split(":", 1)[1])
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"--scheduler: {spec!r}: give the number of workers, e.g. local:2")
    return n


@contextlib.contextmanager
def dask_scheduler(
    spec: str | None = None, memory_limit: str = "auto", timeout: str = "10s"
) -> Iterator[str]:
    """Run dask's computations of the block on the scheduler ``spec`` (see the module);
    yields its description. A LocalCluster is closed at the end; a remote scheduler is
    only disconnected from. ``memory_limit`` is each LocalCluster worker's limit;
    ``timeout`` how long to wait for a remote scheduler."""
    text = describe_scheduler(spec)
    if spec is None or spec in LOCAL_SCHEDULERS:
        with dask.config.set(scheduler=spec or "threads"):
            yield text
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise ConfigError(f"--scheduler {spec}: dask.distributed is not installed") from exc
    if spec.startswith("local:"):
        cluster = LocalCluster(
            n_workers=_workers(spec), threads_per_worker=1, processes=True,
            memory_limit=memory_limit, dashboard_address=None,
        )  # fmt: skip
        with cluster, Client(cluster) as client:
            log.info("%s (%s)", text, client.dashboard_link or "no dashboard")
            yield text
        return
    try:
        client = Client(spec, timeout=timeout)
    except OSError as exc:
        msg = f"--scheduler: no dask.distributed scheduler answers at {spec} ({exc})"
        raise ConfigError(msg) from None
    with client:
        log.info("%s with %d workers", text, len(client.scheduler_info().get("workers", {})))
        yield text
