"""Independent trainings side by side, one process each: the spatial folds, the models and
the ensemble members of a recipe share nothing until they are scored.

The hybrid family's models step through their sequences one month at a time on tensors of
a few thousand numbers, where a second thread does not help: two basin trainings of 5
epochs take 66 s one after another on 1 thread, 65 s on 2 threads, and 47 s side by side
in two processes of 1 thread, starting the processes included (2 cores,
``benchmarks/bench_hybrid.py --jobs --epochs 5``). So on a CPU the trainings go to
``jobs`` processes (by default one per core), each on ``threads_per_job`` threads (1 by
default). A training's numbers do not depend on how many run beside it: each is seeded
from the recipe, and runs on its fixed thread count under the run's kernel settings
(:func:`gracefuse.training.determinism.reproducible`).

Processes are started with ``spawn`` (a forked torch can hang in its thread pools); each
job's checkpoints are its own, so an interrupted run resumes every job where it stopped.
On a GPU, or inside a ``torchrun`` process group, jobs run one after another in this
process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch
from rich.progress import Progress

from gracefuse.config import TrainConfig
from gracefuse.training.determinism import reproducible

log = logging.getLogger(__name__)


def job_processes(train: TrainConfig, n_jobs: int) -> int:
    """How many processes train ``n_jobs`` independent trainings: ``train.jobs``, or one
    per CPU core (at most ``n_jobs``); 1 on CUDA or inside a process group.

    Examples
    --------
    >>> job_processes(TrainConfig(jobs=4, device="cpu"), 3)
    3
    >>> job_processes(TrainConfig(jobs=1, device="cpu"), 8)
    1
    """
    if n_jobs <= 1 or train.device == "cuda":
        return 1
    if train.device == "auto" and torch.cuda.is_available():
        return 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return 1
    return max(1, min(train.jobs or cpu_cores(), n_jobs))


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _in_child(train: TrainConfig, logs: list[str], fn: Callable, args: tuple) -> Any:
    """Run ``fn(*args)`` in a job process, under the run's kernel settings, logging (INFO
    and up) to the run's log files ``logs`` as the parent does."""
    root = logging.getLogger("gracefuse")
    for path in logs:
        handler = logging.FileHandler(path, mode="a")
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s %(name)s "
                                               f"[job {os.getpid()}]: %(message)s"))  # fmt: skip
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    with reproducible(train):
        return fn(*args)


def run_jobs(fn: Callable, jobs: Sequence[tuple], train: TrainConfig, labels: Sequence[str],
             progress: bool = True) -> list:  # fmt: skip
    """``[fn(*args) for args in jobs]``, in :func:`job_processes` processes.

    Parameters
    ----------
    fn
        A module-level function (a spawned process imports it by name).
    jobs
        The arguments of each call; they are pickled into the job's process.
    train
        The run's training settings: ``jobs``, ``threads_per_job`` and the kernel settings
        every job runs under.
    labels
        A name for each job, for the progress bar and the log.
    progress
        Show one bar over the jobs (the jobs show none of their own).

    Returns
    -------
    list
        The results in the order of ``jobs``. A job that fails raises its error here,
        after the jobs already running have finished (their checkpoints stay); jobs not
        yet started are not started. Where the processes cannot start or die (a script
        without an ``if __name__ == "__main__"`` guard, a process killed for memory), the
        jobs not finished run here, one after another, with a warning.
    """
    n = job_processes(train, len(jobs))
    results: list = [None] * len(jobs)
    left = list(range(len(jobs)))
    if n > 1:
        try:
            _side_by_side(fn, jobs, train, labels, progress, n, results)
            return results
        except BrokenProcessPool as err:
            left = [i for i, r in enumerate(results) if r is None]
            log.warning("the training processes stopped (%s): the %d trainings not finished "
                        "run one after another in this process, on its threads (they resume "
                        "from their checkpoints)", err, len(left))  # fmt: skip
    for i in left:
        results[i] = fn(*jobs[i])
    return results


def _side_by_side(fn: Callable, jobs: Sequence[tuple], train: TrainConfig,
                  labels: Sequence[str], progress: bool, n: int, results: list) -> None:  # fmt: skip
    """Fill ``results`` from ``n`` spawned processes as the jobs finish."""
    child = train.model_copy(update={"num_threads": train.threads_per_job})
    ctx = multiprocessing.get_context("spawn")
    log.info("%d trainings in %d processes of %d thread(s) each", len(jobs), n,
             train.threads_per_job)  # fmt: skip
    logs = [h.baseFilename for h in logging.getLogger("gracefuse").handlers
            if isinstance(h, logging.FileHandler)]  # fmt: skip
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool, Progress(
        disable=not progress, transient=True
    ) as bar:  # fmt: skip
        task = bar.add_task(f"{len(jobs)} trainings, {n} at a time", total=len(jobs))
        futures = {pool.submit(_in_child, child, logs, fn, args): i
                   for i, args in enumerate(jobs)}  # fmt: skip
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                log.info("training %s finished", labels[i])
                bar.advance(task)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
