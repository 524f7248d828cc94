"""Losses for learning the model–GRACE mismatch."""

from __future__ import annotations

import torch


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
    valid = torch.isfinite(target)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    t = torch.where(valid, target, torch.zeros_like(target))
    diff = (pred - t)[valid]
    mse = (diff**2).mean()
    spread = (t - cell_mean.expand_as(t))[valid].abs().sum().clamp_min(1e-6)
    nse_l1 = diff.abs().sum() / spread
    return weight * mse + (1.0 - weight) * nse_l1


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over cells where ``target`` is finite."""
    valid = torch.isfinite(target)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    return ((pred - torch.where(valid, target, torch.zeros_like(target)))[valid] ** 2).mean()


def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over cells where ``target`` is finite."""
    valid = torch.isfinite(target)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    return (pred - torch.where(valid, target, torch.zeros_like(target)))[valid].abs().mean()
