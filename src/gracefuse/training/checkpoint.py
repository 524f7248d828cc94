"""Checkpoints: what one training run holds, written atomically and resumed only by the
same run.

A checkpoint's fingerprint hashes the architecture (parameter names and shapes), the
training settings, the package version and a content hash of the samples and splits; a
``last.pt`` with another fingerprint is never resumed. Files are loaded with
``weights_only=True``: no code can run from them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from gracefuse import __version__
from gracefuse.config import TrainConfig
from gracefuse.io import atomic_path

log = logging.getLogger(__name__)


def fingerprint(model: nn.Module, cfg: TrainConfig, extra: dict | None = None) -> str:
    """A hash of everything that shapes training: the architecture, the training settings,
    the package version and ``extra`` (the data digest, the epochs, the extra terms)."""
    arch = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    blob = json.dumps(
        [arch, cfg.model_dump(mode="json"), extra or {}, __version__], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_checkpoint(obj: dict, path: Path) -> None:
    """``torch.save`` through a temporary file renamed into place."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


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


@dataclass
class LoopState:
    """The mutable state of one training run: what ``last.pt`` holds."""

    model: nn.Module
    opt: torch.optim.Optimizer
    ema: nn.Module | None
    terms: list
    fingerprint: str
    best_state: dict
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = float("inf")
    bad: int = 0
    start_epoch: int = 0
    resumed_from: int | None = None
    stopped_early: bool = False
    loss: nn.Module | None = None  # a loss with learned parameters (task weights)

    @property
    def judged(self) -> nn.Module:
        """The averaged weights (EMA) when kept: what is validated, kept as best, returned."""
        return self.ema if self.ema is not None else self.model

    def record(self, entry: dict, patience: int) -> None:
        """Add an epoch's losses; keep the best weights; count epochs without gain."""
        self.history.append(entry)
        if entry["val_loss"] < self.best_loss - 1e-6:
            self.best_loss, self.best_epoch, self.bad = entry["val_loss"], entry["epoch"], 0
            self.best_state = copy.deepcopy(self.judged.state_dict())
        else:
            self.bad += 1
        self.stopped_early = self.bad >= patience

    def save(self, folder: Path, epoch: int, done: bool) -> None:
        """Write ``last.pt`` (and ``best.pt`` when this epoch is the best) atomically."""
        save_checkpoint(self.state(epoch, done), folder / "last.pt")
        if self.best_epoch == epoch:
            best = {"fingerprint": self.fingerprint, "model": self.best_state, "epoch": epoch}
            save_checkpoint(best, folder / "best.pt")

    def state(self, epoch: int, done: bool) -> dict:
        """Everything ``last.pt`` holds after ``epoch``."""
        return {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "terms": {t.name: t.state_dict() for t in self.terms},
            "loss": None if self.loss is None else self.loss.state_dict(),
            "best_state": self.best_state,
            "best_epoch": self.best_epoch,
            "best_loss": self.best_loss,
            "bad_epochs": self.bad,
            "history": self.history,
            "stopped_early": self.stopped_early,
            "done": done,
        }

    def resume(self, last: Path, device, n_epochs: int, label: str) -> None:
        """Load ``last.pt`` if it belongs to this run; otherwise start fresh and say so."""
        state = load_checkpoint(last, device)
        if state is None:
            log.warning("%s: starting fresh", label)
            return
        if state.get("fingerprint") != self.fingerprint:
            log.warning(
                "%s: the checkpoint in %s was trained on other data or settings (fingerprint "
                "%s, this run %s); starting fresh",
                label, last.parent, state.get("fingerprint"), self.fingerprint,
            )  # fmt: skip
            return
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        if self.loss is not None and state.get("loss") is not None:
            self.loss.load_state_dict(state["loss"])
        for term in self.terms:
            if term.name in state.get("terms", {}):
                term.load_state_dict(state["terms"][term.name])
        self.best_state, self.history = state["best_state"], state["history"]
        self.best_epoch, self.best_loss = state["best_epoch"], state["best_loss"]
        self.bad, self.start_epoch = state["bad_epochs"], state["epoch"] + 1
        self.resumed_from = state["epoch"]
        self.stopped_early = state.get("stopped_early", False)
        log.info("%s: resuming after epoch %d", label, state["epoch"])
        if state.get("done"):
            self.start_epoch = n_epochs
