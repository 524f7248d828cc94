"""Losses over dicts: ``loss(outputs, batch) → (total, parts)``.

``outputs`` is what a model returned (``"y_hat"``, ``"variance"``, …), ``batch`` what the
Dataset served (``"y"``: the target, NaN where unobserved or masked). ``parts`` names each
component (logged per epoch); ``total`` is what is minimised. Extra weighted terms
(adversarial, physics penalties) are :mod:`gracefuse.training.terms`, not losses.
"""

from __future__ import annotations

import math

import torch
from torch import nn

Parts = dict[str, torch.Tensor]


def _valid(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    valid = torch.isfinite(target)
    return valid, torch.where(valid, target, torch.zeros_like(target))


def mismatch_loss(
    pred: torch.Tensor, target: torch.Tensor, cell_mean: torch.Tensor, weight: float = 0.5
) -> torch.Tensor:
    """``w · MSE + (1 − w) · Σ|f − S| / Σ|S − S̄_cell|`` over observed cells (Sun et al. eq. 7).

    Parameters
    ----------
    pred, target
        ``(B, H, W)``; target NaN where GRACE is missing or outside the mask.
    cell_mean
        ``(H, W)`` training-period mean of the target per cell (S̄_cell).
    weight
        ``w``; 1 gives plain MSE, 0 the L1 form of 1 − NSE.
    """
    return MismatchLoss(cell_mean, weight)({"y_hat": pred}, {"y": target})[0]


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over cells where ``target`` is finite."""
    valid, t = _valid(target)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    return ((pred - t)[valid] ** 2).mean()


def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over cells where ``target`` is finite."""
    valid, t = _valid(target)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    return (pred - t)[valid].abs().mean()


class MismatchLoss:
    """Sun et al.'s loss on ``y_hat``: ``w · MSE`` (part ``mse``) plus ``(1 − w) · NSE-L1``
    (part ``nse_l1``), both weighted as they enter the total."""

    def __init__(self, cell_mean: torch.Tensor, weight: float = 0.5) -> None:
        self.cell_mean, self.weight = cell_mean, weight

    def parts(self, pred: torch.Tensor, target: torch.Tensor) -> Parts:
        valid, t = _valid(target)
        if not bool(valid.any()):
            return {"mse": pred.sum() * 0.0}
        diff = (pred - t)[valid]
        mse = (diff**2).mean()
        cell_mean = self.cell_mean.to(pred.device)
        spread = (t - cell_mean.expand_as(t))[valid].abs().sum().clamp_min(1e-6)
        nse_l1 = diff.abs().sum() / spread
        return {"mse": self.weight * mse, "nse_l1": (1.0 - self.weight) * nse_l1}

    def __call__(self, outputs: Parts, batch: Parts) -> tuple[torch.Tensor, Parts]:
        parts = self.parts(outputs["y_hat"], batch["y"])
        total = parts["mse"] + parts["nse_l1"] if "nse_l1" in parts else parts["mse"]
        return total, parts


class MaskedMSE:
    """Mean squared error of ``y_hat`` over observed cells (part ``mse``)."""

    def __call__(self, outputs: Parts, batch: Parts) -> tuple[torch.Tensor, Parts]:
        mse = masked_mse(outputs["y_hat"], batch["y"])
        return mse, {"mse": mse}


class MaskedL1:
    """``scale ×`` the mean absolute error over observed cells (part ``l1``): Pix2Pix's
    reconstruction loss with ``scale = 100`` (Isola et al. 2017's λ)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, outputs: Parts, batch: Parts) -> tuple[torch.Tensor, Parts]:
        l1 = self.scale * masked_l1(outputs["y_hat"], batch["y"])
        return l1, {"l1": l1}


class GaussianNLL:
    """Negative log-likelihood of the target under ``N(y_hat, variance)`` (a Gaussian
    head), averaged over observed cells (part ``nll``)."""

    def __call__(self, outputs: Parts, batch: Parts) -> tuple[torch.Tensor, Parts]:
        valid, t = _valid(batch["y"])
        mean, var = outputs["y_hat"], outputs["variance"]
        if not bool(valid.any()):
            return mean.sum() * 0.0, {"nll": mean.sum() * 0.0}
        nll = 0.5 * (torch.log(2 * math.pi * var) + (t - mean) ** 2 / var)
        value = nll[valid].mean()
        return value, {"nll": value}


class TaskUncertaintyLoss(nn.Module):
    """Several targets weighed by learned task uncertainty (Kendall et al. 2018), as the
    hybrid model of Kraft et al. (2020) does.

    With ``s_i = log σ_i²`` learned per task, ``total = Σ 0.5·exp(−s_i)·L_i + 0.5·s_i``: a
    task whose loss stays large gets a small weight, and the ``0.5·s_i`` term stops every
    weight from vanishing. A task without an observed value in the batch (loss NaN) is left
    out of that batch. The ``s_i`` train in their own optimiser group at ``lr``.

    Parameters
    ----------
    tasks
        ``name → loss(outputs, batch) → tensor`` per task (e.g. the RMSE of ``tws``).
    lr
        Learning rate of the task weights (``None``: the model's).

    Examples
    --------
    >>> tasks = {"a": lambda o, b: torch.tensor(4.0), "b": lambda o, b: torch.tensor(1.0)}
    >>> total, parts = TaskUncertaintyLoss(tasks)({}, {})
    >>> float(total.detach()), sorted(parts)
    (2.5, ['a', 'b', 'weight_a', 'weight_b'])
    """

    def __init__(self, tasks: dict, lr: float | None = None) -> None:
        super().__init__()
        self.tasks = dict(tasks)
        self.lr = lr
        self.log_vars = nn.Parameter(torch.zeros(len(self.tasks)))

    def weights(self) -> dict[str, float]:
        """The current weight ``0.5·exp(−s_i)`` of each task."""
        w = 0.5 * torch.exp(-self.log_vars.detach())
        return {name: float(w[i]) for i, name in enumerate(self.tasks)}

    def forward(self, outputs: Parts, batch: Parts) -> tuple[torch.Tensor, Parts]:
        total, parts = self.log_vars.sum() * 0.0, {}
        for i, (name, task) in enumerate(self.tasks.items()):
            value = task(outputs, batch)
            if not bool(torch.isfinite(value)):
                continue
            s = self.log_vars[i]
            total = total + 0.5 * torch.exp(-s) * value + 0.5 * s
            parts[name] = value
            parts[f"weight_{name}"] = (0.5 * torch.exp(-s)).detach()
        return total, parts
