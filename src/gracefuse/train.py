"""One training loop for every model: seeds, device, checkpoint every epoch, resume, early stop.

A run interrupted at any point resumes from ``last.pt`` to the same result as an
uninterrupted one: each epoch's shuffling and dropout draw from generators seeded by
``(seed, epoch)``, and the optimiser state travels in the checkpoint.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from gracefuse.config import TrainConfig
from gracefuse.io import atomic_path

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for and present), else CPU; never requires a GPU."""
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "cuda":
        log.warning("CUDA was asked for but is not available; using the CPU")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (weight init); gracefuse's NumPy code uses its own
    seeded Generators, and the loop reseeds per epoch."""
    torch.manual_seed(seed)


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

    def finish(self, t0: float) -> FitResult:
        """Record the epochs run and the wall time since ``t0`` (``time.perf_counter``)."""
        self.epochs_run = len(self.history)
        self.seconds = time.perf_counter() - t0
        return self

    @property
    def seconds_per_epoch(self) -> float:
        """Median wall time of one epoch (training and validation), over every epoch run."""
        times = [h["seconds"] for h in self.history if "seconds" in h]
        return float(np.median(times)) if times else float("nan")


def _save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def data_digest(*arrays: torch.Tensor | np.ndarray) -> str:
    """A content hash of the arrays a run trains on (values, dtype and shape).

    Two runs share a digest only when they see the same samples: the source, twin seed and
    size, box, files, predictors, lags, normalisation and splits all shape these arrays.

    Examples
    --------
    >>> a = np.zeros((2, 3), np.float32)
    >>> data_digest(a) == data_digest(a.copy()), data_digest(a) == data_digest(a + 1)
    (True, False)
    """
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def fingerprint(model: nn.Module, cfg: TrainConfig, extra: dict | None = None) -> str:
    """A hash of everything that shapes training: the architecture (parameter names and
    shapes), the training settings, the package version and ``extra`` (the data digest, the
    epochs, the GAN term). A checkpoint resumes only the run with the same fingerprint."""
    from gracefuse import __version__

    arch = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    blob = json.dumps(
        [arch, cfg.model_dump(mode="json"), extra or {}, __version__], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _batches(idx: np.ndarray, size: int, gen: torch.Generator, shuffle: bool) -> list[np.ndarray]:
    order = idx[torch.randperm(len(idx), generator=gen).numpy()] if shuffle else idx
    return [order[i : i + size] for i in range(0, len(order), size)]


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema ← decay · ema + (1 − decay) · model`` for parameters; buffers are copied."""
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
            pe.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
        for be, b in zip(ema.buffers(), model.buffers(), strict=True):
            be.copy_(b)


def evaluate_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, idx: np.ndarray, loss_fn: LossFn, bs: int
) -> float:
    """Mean loss over ``idx`` in eval mode (no dropout)."""
    if len(idx) == 0:
        return float("nan")
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for b in [idx[i : i + bs] for i in range(0, len(idx), bs)]:
            tb = torch.as_tensor(b)
            total += float(loss_fn(model(x[tb]).squeeze(1), y[tb])) * len(b)
            n += len(b)
    return total / n


@dataclass
class _Loop:
    """The mutable state of one :func:`fit` call (what a checkpoint holds)."""

    model: nn.Module
    opt: torch.optim.Optimizer
    ema: nn.Module | None
    adversarial: object | None
    fingerprint: str
    best_state: dict
    bad: int = 0
    start_epoch: int = 0

    @property
    def judged(self) -> nn.Module:
        """The averaged weights (EMA) when kept: what is validated, kept as best, returned."""
        return self.ema if self.ema is not None else self.model

    def save(self, folder: Path, result: FitResult, epoch: int, done: bool) -> None:
        """Write ``last.pt`` (and ``best.pt`` when this epoch is the best) atomically."""
        _save(self.state(result, epoch, done), folder / "last.pt")
        if result.best_epoch == epoch:
            best = {"fingerprint": self.fingerprint, "model": self.best_state, "epoch": epoch}
            _save(best, folder / "best.pt")

    def state(self, result: FitResult, epoch: int, done: bool) -> dict:
        """Everything ``last.pt`` holds after ``epoch``."""
        return {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "adversarial": None if self.adversarial is None else self.adversarial.state_dict(),
            "best_state": self.best_state,
            "best_epoch": result.best_epoch,
            "best_loss": result.best_loss,
            "bad_epochs": self.bad,
            "history": result.history,
            "stopped_early": result.stopped_early,
            "done": done,
        }


def load_checkpoint(path: Path, device) -> dict | None:
    """A checkpoint's contents, loaded with ``weights_only=True`` (tensors, numbers, strings,
    lists and dicts only: no code can run from the file); ``None`` if it cannot be read."""
    try:
        with warnings.catch_warnings():  # torch's notes on foreign pickle protocols
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, foreign or unsafe: never trusted
        log.warning("%s cannot be loaded safely (%s); it is ignored", path, type(exc).__name__)
        return None
    return state if isinstance(state, dict) else None


def _resume(loop: _Loop, last: Path, device, n_epochs: int, result: FitResult, label: str):
    """Load ``last.pt`` into ``loop`` and ``result`` if it belongs to this run; otherwise
    start fresh and say so (a checkpoint of other data or settings is never resumed)."""
    state = load_checkpoint(last, device)
    if state is None:
        log.warning("%s: starting fresh", label)
        return
    if state.get("fingerprint") != loop.fingerprint:
        log.warning(
            "%s: the checkpoint in %s was trained on other data or settings (fingerprint %s, "
            "this run %s); starting fresh",
            label,
            last.parent,
            state.get("fingerprint"),
            loop.fingerprint,
        )
        return
    loop.model.load_state_dict(state["model"])
    loop.opt.load_state_dict(state["optimizer"])
    if loop.ema is not None and state.get("ema") is not None:
        loop.ema.load_state_dict(state["ema"])
    if loop.adversarial is not None and state.get("adversarial") is not None:
        loop.adversarial.load_state_dict(state["adversarial"])
    loop.best_state = state["best_state"]
    result.history = state["history"]
    result.best_epoch, result.best_loss = state["best_epoch"], state["best_loss"]
    loop.bad, loop.start_epoch = state["bad_epochs"], state["epoch"] + 1
    result.resumed_from = state["epoch"]
    result.stopped_early = state.get("stopped_early", False)
    log.info("%s: resuming after epoch %d", label, state["epoch"])
    if state.get("done"):
        loop.start_epoch = n_epochs


def _train_epoch(loop: _Loop, x, y, train_idx, loss_fn: LossFn, cfg: TrainConfig, epoch: int):
    """One pass over the training months; returns the mean training loss."""
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout draws of this epoch
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
    model, adversarial = loop.model, loop.adversarial
    model.train()
    losses = []
    for b in _batches(train_idx, cfg.batch_size, gen, shuffle=True):
        tb = torch.as_tensor(b, device=x.device)
        loop.opt.zero_grad(set_to_none=True)
        pred = model(x[tb]).squeeze(1)
        loss = loss_fn(pred, y[tb])
        if adversarial is not None:
            adversarial.discriminator_step(x[tb], pred, y[tb])
            loss = loss + adversarial.generator_loss(x[tb], pred, y[tb])
        loss.backward()
        loop.opt.step()
        if loop.ema is not None:
            _ema_update(loop.ema, model, cfg.ema_decay)
        losses.append(loss.detach().item())
    return float(np.mean(losses)) if losses else float("nan")


def _progress(progress: bool) -> Progress:
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    ]
    return Progress(*columns, disable=not progress, transient=False)


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    loss_fn: LossFn,
    cfg: TrainConfig,
    checkpoint_dir: str | os.PathLike | None = None,
    *,
    epochs: int | None = None,
    label: str = "train",
    progress: bool = True,
    stop_after: int | None = None,
    adversarial=None,
) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of the best epoch.

    Parameters
    ----------
    x, y
        All samples on the target device: ``(T, C, H, W)`` and ``(T, H, W)`` (NaN = no target).
    train_idx, val_idx
        Months to train on and to early-stop on (the training loss is used if empty).
    checkpoint_dir
        Where ``last.pt`` (every epoch) and ``best.pt`` live; an existing ``last.pt`` of the
        same run (same fingerprint: architecture, settings, package version and a content
        hash of ``x``, ``y`` and the splits) is resumed; any other starts fresh, with a
        warning. Checkpoints are loaded with ``weights_only=True``.
    stop_after
        Stop after this many epochs *of this call* without finishing (simulates a crash).
    adversarial
        Optional GAN term (e.g. :class:`gracefuse.models.pix2pix.AdversarialTerm`): before
        each generator step it updates its discriminator, and its generator loss is added.
        Its state travels in the checkpoint too.
    """
    n_epochs = cfg.epochs if epochs is None else epochs
    if n_epochs < 1:
        raise ValueError(f"{label}: epochs must be at least 1, got {n_epochs}")
    data = data_digest(x, y, np.asarray(train_idx), np.asarray(val_idx))
    adv = type(adversarial).__name__ if adversarial is not None else None
    fp = fingerprint(model, cfg, {"epochs": n_epochs, "data": data, "adversarial": adv})
    ema = copy.deepcopy(model) if cfg.ema_decay > 0 else None
    loop = _Loop(
        model, _optimizer(model, cfg), ema, adversarial, fp, copy.deepcopy(model.state_dict())
    )
    result = FitResult()
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
        if (ckpt / "last.pt").exists():
            _resume(loop, ckpt / "last.pt", x.device, n_epochs, result, label)
    stop_idx = val_idx if len(val_idx) else train_idx
    t0 = time.perf_counter()
    with _progress(progress) as bar:
        task = bar.add_task(label, total=n_epochs, completed=loop.start_epoch, info="")
        for ran, epoch in enumerate(range(loop.start_epoch, n_epochs), start=1):
            if result.stopped_early:
                break
            t_epoch = time.perf_counter()
            train_loss = _train_epoch(loop, x, y, train_idx, loss_fn, cfg, epoch)
            val_loss = evaluate_loss(loop.judged, x, y, stop_idx, loss_fn, cfg.batch_size)
            seconds = time.perf_counter() - t_epoch
            result.history.append(
                {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds}
            )
            if val_loss < result.best_loss - 1e-6:
                result.best_loss, result.best_epoch, loop.bad = val_loss, epoch, 0
                loop.best_state = copy.deepcopy(loop.judged.state_dict())
            else:
                loop.bad += 1
            result.stopped_early = loop.bad >= cfg.patience
            done = result.stopped_early or epoch == n_epochs - 1
            if ckpt is not None:
                loop.save(ckpt, result, epoch, done)
            bar.update(task, advance=1, info=f"loss {train_loss:.3f} val {val_loss:.3f}")
            if stop_after is not None and ran >= stop_after and not done:
                return result.finish(t0)
    model.load_state_dict(loop.best_state)
    return result.finish(t0)


def predict(
    model: nn.Module, x: torch.Tensor, batch_size: int = 8, mc_samples: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions for every sample: the deterministic mean, and the MC-dropout spread.

    With ``mc_samples > 0`` dropout stays on (batch norm in eval mode) and the mean and
    standard deviation over the passes are returned; otherwise ``(pred, None)``.

    Returns
    -------
    mean, std
        ``(T, H, W)`` arrays (std ``None`` without MC sampling).
    """
    model.eval()
    idx = np.arange(x.shape[0])
    chunks = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
    with torch.no_grad():
        det = np.concatenate(
            [model(x[torch.as_tensor(c)]).squeeze(1).cpu().numpy() for c in chunks]
        )
        if mc_samples <= 0:
            return det, None
        for m in model.modules():
            if isinstance(m, nn.Dropout | nn.Dropout2d):
                m.train()
        torch.manual_seed(seed)
        runs = np.stack(
            [
                np.concatenate(
                    [model(x[torch.as_tensor(c)]).squeeze(1).cpu().numpy() for c in chunks]
                )
                for _ in range(mc_samples)
            ]
        )
        model.eval()
    return det, runs.std(axis=0)
