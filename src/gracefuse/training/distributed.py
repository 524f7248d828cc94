"""Training on several processes with ``torch.distributed`` (DDP), started by ``torchrun``.

``torchrun --nproc_per_node 2 -m gracefuse run RECIPE --out DIR`` (or ``gracefuse run
RECIPE --nproc 2``) starts one process per device. Each process prepares the same data;
:func:`gracefuse.training.fit` then gives every process its share of each global batch,
and :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients, so the
optimiser takes the same steps as one process on the whole batch:

- each global batch (the one-process order, drawn from the same seeded generator on every
  rank) is cut into ``world`` consecutive shares (``numpy.array_split``); a batch smaller
  than ``world`` goes whole to every rank;
- each rank's loss is scaled by ``world · n_rank / n_batch``, so DDP's average of the
  gradients is the gradient of the batch mean for a loss that is a mean over samples;
- a loss's own parameters (learned task weights) have their gradients averaged the same
  way; the logged losses are the batch's, summed over ranks;
- only rank 0 writes checkpoints, the run folder and the report; every rank resumes from
  the same ``last.pt`` (a shared file system when the ranks are on several nodes).

The backend is ``nccl`` on CUDA and ``gloo`` on CPU. On CUDA, batch norm layers become
:class:`~torch.nn.SyncBatchNorm`; on CPU torch has no synchronised batch norm, so a model
with batch norm sees per-rank batch statistics there (logged), and its result departs from
one process by more than rounding. Dropout draws differ from one process's (another mask
shape per rank).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the training processes (one process: 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world > 1

    @property
    def main(self) -> bool:
        """Whether this process writes files and shows progress (rank 0)."""
        return self.rank == 0


def current_ranks() -> Ranks:
    """The ranks of an initialised process group, else one process.

    >>> current_ranks().world  # no process group in a doctest
    1
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return Ranks(dist.get_rank(), dist.get_world_size(), local)


def launched_by_torchrun() -> bool:
    """Whether ``torchrun`` started this process as one of several (``WORLD_SIZE > 1``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def process_group(backend: str = "auto", timeout_s: float = 1800.0) -> Iterator[Ranks]:
    """Join the process group ``torchrun`` set up (``env://``) for the block, and leave it.

    Outside ``torchrun`` (or with ``WORLD_SIZE = 1``) nothing happens and one process is
    yielded. ``backend = "auto"`` picks ``nccl`` when CUDA is present, else ``gloo``; on
    CUDA each process takes the device ``LOCAL_RANK``.
    """
    import torch.distributed as dist

    if not launched_by_torchrun() or dist.is_initialized():
        yield current_ranks()
        return
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    ranks = current_ranks()
    log.info("process %d of %d (%s)", ranks.rank, ranks.world, backend)
    try:
        yield ranks
    finally:
        dist.destroy_process_group()


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (nothing for one process)."""
    if ranks.active:
        torch.distributed.barrier()


def share(batch: np.ndarray, ranks: Ranks) -> tuple[np.ndarray, float]:
    """This rank's share of one global ``batch`` and the factor its loss is scaled by.

    >>> share(np.arange(5), Ranks(1, 2))
    (array([3, 4]), 0.8)
    >>> share(np.arange(1), Ranks(1, 2))  # smaller than the world: whole, on every rank
    (array([0]), 1.0)
    """
    if not ranks.active:
        return batch, 1.0
    if len(batch) < ranks.world:
        return batch, 1.0
    part = np.array_split(batch, ranks.world)[ranks.rank]
    return part, ranks.world * len(part) / len(batch)


def sum_over_ranks(values: Sequence[float], ranks: Ranks) -> list[float]:
    """``values`` summed over the ranks (float64; themselves for one process)."""
    if not ranks.active:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return t.tolist()


def average_gradients(params: Sequence[nn.Parameter], ranks: Ranks) -> None:
    """Average the gradients of ``params`` over the ranks in place (those DDP does not own)."""
    if not ranks.active:
        return
    for p in params:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad.div_(ranks.world)


def broadcast_parameters(module: nn.Module, ranks: Ranks) -> None:
    """Copy rank 0's parameters and buffers of ``module`` to every rank."""
    if not ranks.active:
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            torch.distributed.broadcast(t.data, src=0)


def has_batch_norm(model: nn.Module) -> bool:
    """Whether ``model`` holds a batch norm layer."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def data_parallel(model: nn.Module, ranks: Ranks) -> nn.Module:
    """``model`` wrapped for DDP (itself for one process). It keeps its parameters, so the
    loop's optimiser, EMA and checkpoints go on holding the bare model. The graph is
    declared static (``static_graph``): a model whose parameters are not all used (a head
    a loss ignores) trains without a search of the graph at every step."""
    if not ranks.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    p = next(model.parameters(), None)
    on_cuda = p is not None and p.device.type == "cuda"
    if has_batch_norm(model):
        if on_cuda:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            log.warning(
                "%s has batch norm and trains on %d CPU processes: torch has no synchronised "
                "batch norm on CPU, so each process normalises with its own share's "
                "statistics", type(model).__name__, ranks.world,
            )  # fmt: skip
    device_ids = [p.device.index] if on_cuda else None
    return DistributedDataParallel(model, device_ids=device_ids, static_graph=True)
