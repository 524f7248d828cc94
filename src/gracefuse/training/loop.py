"""One training loop for every model: ``model(batch) → dict``, ``loss(outputs, batch) →
(total, parts)``, weighted extra terms, checkpoint every epoch, resume, early stop.

Samples come from a ``Dataset`` through a ``DataLoader``: only a batch is on the device. A
run interrupted at any point resumes from ``last.pt`` to the same result as an
uninterrupted one: each epoch's shuffling and dropout draw from generators seeded by
``(seed, epoch)``, and the optimiser, EMA and term states travel in the checkpoint.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn
from torch.utils.data import DataLoader, Dataset

from gracefuse.config import TrainConfig
from gracefuse.datasets.arrays import as_batch, data_digest
from gracefuse.training.checkpoint import LoopState, fingerprint
from gracefuse.training.distributed import (
    Ranks,
    average_gradients,
    barrier,
    broadcast_parameters,
    current_ranks,
    data_parallel,
    share,
    sum_over_ranks,
)
from gracefuse.training.terms import Term

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]
Loss = Callable[[Batch, Batch], tuple[torch.Tensor, Batch]]


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for and present), else CPU; never requires a GPU."""
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "cuda":
        log.warning("CUDA was asked for but is not available; using the CPU")
    return torch.device("cpu")


@dataclass
class FitResult:
    """What :func:`fit` did."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = float("inf")
    epochs_run: int = 0
    resumed_from: int | None = None
    seconds: float = 0.0
    stopped_early: bool = False

    @classmethod
    def of(cls, state: LoopState, t0: float) -> FitResult:
        """The result of ``state``, with the wall time since ``t0``."""
        return cls(
            list(state.history), state.best_epoch, state.best_loss, len(state.history),
            state.resumed_from, time.perf_counter() - t0, state.stopped_early,
        )  # fmt: skip

    @property
    def seconds_per_epoch(self) -> float:
        """Median wall time of one epoch (training and validation), over every epoch run."""
        times = [h["seconds"] for h in self.history if "seconds" in h]
        return float(np.median(times)) if times else float("nan")


def loader(data: Dataset, batches: Sequence[Sequence[int]]) -> DataLoader:
    """A ``DataLoader`` over ``batches`` (lists of sample indices), in this order. It draws
    from its own generator, never from torch's global one (the dropout draws)."""
    collate = as_batch if hasattr(data, "__getitems__") else None
    return DataLoader(
        data, batch_sampler=[list(map(int, b)) for b in batches], collate_fn=collate,
        generator=torch.Generator(),
    )  # fmt: skip


def chunks(idx: np.ndarray, size: int) -> list[np.ndarray]:
    """``idx`` in consecutive batches of ``size``."""
    return [idx[i : i + size] for i in range(0, len(idx), size)]


def to_device(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (CPU for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def loss_parameters(loss) -> list[nn.Parameter]:
    """The trainable parameters of a loss (task-uncertainty weights), if it has any."""
    return [p for p in loss.parameters() if p.requires_grad] if isinstance(loss, nn.Module) else []


def _optimizer(model: nn.Module, cfg: TrainConfig, loss=None) -> torch.optim.Optimizer:
    """The model's parameters, and a loss's own (learned task weights) in a group of their
    own: the loss's ``lr`` (default: the model's) and no weight decay."""
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    if loss_parameters(loss):
        lr = getattr(loss, "lr", None) or cfg.lr
        groups.append({"params": loss_parameters(loss), "lr": lr, "weight_decay": 0.0})
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema ← decay · ema + (1 − decay) · model`` for parameters; buffers are copied."""
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
            pe.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
        for be, b in zip(ema.buffers(), model.buffers(), strict=True):
            be.copy_(b)


def evaluate_loss(
    model: nn.Module, data: Dataset, idx: np.ndarray, loss: Loss, bs: int, ranks: Ranks = Ranks()
) -> float:
    """Mean loss over the samples ``idx`` in eval mode (no dropout, no extra terms); with
    several ranks each scores its share and the sums are added up."""
    if len(idx) == 0:
        return float("nan")
    model.eval()
    device = model_device(model)
    mine = np.array_split(np.asarray(idx), ranks.world)[ranks.rank]
    total, n = 0.0, 0
    with torch.no_grad():
        for batch in loader(data, chunks(mine, bs)):
            batch = to_device(batch, device)
            k = len(batch["index"]) if "index" in batch else len(next(iter(batch.values())))
            total += float(loss(model(batch), batch)[0]) * k
            n += k
    total, n = sum_over_ranks([total, n], ranks)
    return total / n


def _train_epoch(state: LoopState, forward: nn.Module, data, train_idx, loss: Loss,
                 cfg: TrainConfig, epoch: int, ranks: Ranks):  # fmt: skip
    """One pass over the training samples: mean total loss and mean of each part. With
    several ranks, ``forward`` is the DDP-wrapped model and each rank takes its share of
    every batch (:mod:`gracefuse.training.distributed`)."""
    torch.manual_seed((cfg.seed * 100_003 + epoch) * ranks.world + ranks.rank)  # dropout
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
    order = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
    model, device = state.model, model_device(state.model)
    model.train()
    totals, parts_sum = [], {}
    plan = [share(b, ranks) for b in chunks(order, cfg.batch_size)]
    for (_, scale), batch in zip(plan, loader(data, [m for m, _ in plan]), strict=True):
        batch = to_device(batch, device)
        state.opt.zero_grad(set_to_none=True)
        outputs = forward(batch)
        total, parts = loss(outputs, batch)
        for term in state.terms:
            term.before_step(outputs, batch)
            value = term(outputs, batch)
            total = total + term.weight * value
            parts = {**parts, term.name: value}
        if scale != 1.0:  # this rank's share of a mean over the batch
            total = total * scale
        total.backward()
        average_gradients(loss_parameters(loss), ranks)
        if cfg.clip_grad is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        state.opt.step()
        if state.ema is not None:
            _ema_update(state.ema, model, cfg.ema_decay)
        # the batch's losses: the (already scaled) total and each part, weighted by share
        weight = scale / ranks.world
        logged = sum_over_ranks([float(total.detach()) / ranks.world,
                                 *(float(v.detach()) * weight for v in parts.values())], ranks)  # fmt: skip
        totals.append(logged[0])
        for k, v in zip(parts, logged[1:], strict=True):
            parts_sum.setdefault(k, []).append(v)
    mean = float(np.mean(totals)) if totals else float("nan")
    return mean, {k: float(np.mean(v)) for k, v in parts_sum.items()}


def _progress(progress: bool) -> Progress:
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    ]
    return Progress(*columns, disable=not progress, transient=False)


def _start(model, data, train_idx, val_idx, cfg, n_epochs, terms, loss) -> LoopState:
    """The loop's state before any epoch: optimiser, EMA copy, fingerprint."""
    digest = data.digest() if hasattr(data, "digest") else type(data).__name__
    splits = data_digest(np.asarray(train_idx), np.asarray(val_idx))
    extra = {"epochs": n_epochs, "data": digest, "splits": splits,
             "terms": [(type(t).__name__, t.weight) for t in terms],
             "loss": type(loss).__name__}  # fmt: skip
    ema = copy.deepcopy(model) if cfg.ema_decay > 0 else None
    fp = fingerprint(model, cfg, extra)
    opt = _optimizer(model, cfg, loss)
    learned = loss if loss_parameters(loss) else None
    return LoopState(
        model, opt, ema, list(terms), fp, copy.deepcopy(model.state_dict()), loss=learned
    )


def fit(
    model: nn.Module,
    data: Dataset,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    loss: Loss,
    cfg: TrainConfig,
    checkpoint_dir: str | os.PathLike | None = None,
    *,
    epochs: int | None = None,
    terms: Sequence[Term] = (),
    label: str = "train",
    progress: bool = True,
    stop_after: int | None = None,
) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of the best epoch.

    Parameters
    ----------
    model
        Takes a batch dict, returns a dict (:class:`gracefuse.models.GridModel`); on the
        device it should train on (batches are moved there).
    data
        A ``Dataset`` of batch dicts (:class:`gracefuse.datasets.ArrayDataset`) with a
        ``digest()`` of its contents.
    train_idx, val_idx
        Samples to train on and to early-stop on (the training loss is used if empty).
    loss
        ``loss(outputs, batch) → (total, parts)`` (:mod:`gracefuse.training.losses`). A
        loss with parameters (:class:`~gracefuse.training.losses.TaskUncertaintyLoss`)
        trains them in its own optimiser group and checkpoints them.
    checkpoint_dir
        Where ``last.pt`` (every epoch) and ``best.pt`` live; an existing ``last.pt`` of the
        same run (same fingerprint: architecture, settings, package version, data digest,
        splits, terms) is resumed; any other starts fresh, with a warning.
    terms
        Weighted extra terms (:mod:`gracefuse.training.terms`) added to the training loss.
    stop_after
        Stop after this many epochs *of this call* without finishing (simulates a crash).
    """
    n_epochs = cfg.epochs if epochs is None else epochs
    if n_epochs < 1:
        raise ValueError(f"{label}: epochs must be at least 1, got {n_epochs}")
    ranks = current_ranks()
    state = _start(model, data, train_idx, val_idx, cfg, n_epochs, terms, loss)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    if ckpt is not None:
        if ranks.main:
            ckpt.mkdir(parents=True, exist_ok=True)
        barrier(ranks)
        if (ckpt / "last.pt").exists():
            state.resume(ckpt / "last.pt", model_device(model), n_epochs, label)
    forward = data_parallel(model, ranks)  # DDP copies rank 0's weights to every rank
    if loss_parameters(loss):
        broadcast_parameters(loss, ranks)
    stop_idx = val_idx if len(val_idx) else train_idx
    t0 = time.perf_counter()
    with _progress(progress and ranks.main) as bar:
        task = bar.add_task(label, total=n_epochs, completed=state.start_epoch, info="")
        for ran, epoch in enumerate(range(state.start_epoch, n_epochs), start=1):
            if state.stopped_early:
                break
            t_epoch = time.perf_counter()
            train_loss, parts = _train_epoch(
                state, forward, data, np.asarray(train_idx), loss, cfg, epoch, ranks
            )
            val_loss = evaluate_loss(state.judged, data, stop_idx, loss, cfg.batch_size, ranks)
            entry = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                     "seconds": time.perf_counter() - t_epoch, "parts": parts}  # fmt: skip
            state.record(entry, cfg.patience)
            done = state.stopped_early or epoch == n_epochs - 1
            if ckpt is not None and ranks.main:
                state.save(ckpt, epoch, done)
            bar.update(task, advance=1, info=f"loss {train_loss:.3f} val {val_loss:.3f}")
            if stop_after is not None and ran >= stop_after and not done:
                return FitResult.of(state, t0)
    model.load_state_dict(state.best_state)
    return FitResult.of(state, t0)
