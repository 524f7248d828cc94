"""Train one fusion architecture (a deep ensemble) and give it calibrated intervals."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import ModelConfig
from gracefuse.datasets import ArrayDataset
from gracefuse.evaluate.intervals import calibrated_halfwidth
from gracefuse.methods.fusion.config import FusionRecipe
from gracefuse.methods.fusion.samples import FusionSamples
from gracefuse.models import build_model, count_parameters, resolve_name
from gracefuse.training import MismatchLoss, choose_device, fit, predict, seed_everything

log = logging.getLogger(__name__)


def run_label(mcfg: ModelConfig) -> str:
    """The name a model runs under in every table, figure and log line: ``vgg16`` without
    local ImageNet weights is ``vgg16_scratch``; a network on the ridge's residual is
    ``ridge+<name>``."""
    name = resolve_name(mcfg.name, mcfg.pretrained)
    return f"ridge+{name}" if mcfg.residual == "cell_ridge" else name


@dataclass
class ModelRun:
    """Everything one trained architecture produced (mm for every field)."""

    name: str
    parameters: int
    trainable: int
    mismatch: np.ndarray  # (T, H, W) predicted Ŝ
    mismatch_sd: np.ndarray | None  # ensemble + MC-dropout spread
    lower: np.ndarray = field(default_factory=lambda: np.empty(0))
    upper: np.ndarray = field(default_factory=lambda: np.empty(0))
    lower_rmse: np.ndarray = field(default_factory=lambda: np.empty(0))
    upper_rmse: np.ndarray = field(default_factory=lambda: np.empty(0))
    seconds: float = 0.0
    epochs: int = 0
    best_epoch: int = 0
    seconds_per_epoch: float = 0.0
    history: list[dict] = field(default_factory=list)  # losses per epoch (first member)
    interval: dict = field(default_factory=dict)  # the interval's rule on another grid


@dataclass
class Target:
    """What a network learns: the mismatch minus an optional ``base`` (mm), normalised.

    With a base (e.g. a baseline's prediction) the network learns its residual and the
    run's prediction is ``base + network``.
    """

    y: np.ndarray  # (T, H, W) normalised, NaN where unobserved
    mean: np.ndarray
    std: np.ndarray
    base: np.ndarray  # (T, H, W) mm, zeros without a base
    cell_mean: np.ndarray  # (H, W) training mean of y (NSE-L1 loss)

    def to_mm(self, y_norm: np.ndarray) -> np.ndarray:
        return y_norm * self.std + self.mean + self.base


def make_target(samples: FusionSamples, base: np.ndarray | None = None) -> Target:
    """The samples' target, or its residual from ``base`` renormalised on training months."""
    if base is None:
        zero = np.zeros(samples.y.shape, np.float32)
        return Target(
            samples.y,
            samples.target_mean,
            samples.target_std,
            zero + samples.trend(),
            samples.cell_mean,
        )
    resid = samples.to_mm(samples.y) - base
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = float(np.nanmean(resid[samples.train]))
        sd = float(np.nanstd(resid[samples.train])) or 1.0
        y = ((resid - mu) / sd).astype(np.float32)
        cell_mean = np.nan_to_num(np.nanmean(y[samples.train], axis=0)).astype(np.float32)
    return Target(
        y, np.float32(mu), np.float32(sd), np.nan_to_num(base).astype(np.float32), cell_mean
    )


def _member(
    mcfg: ModelConfig,
    recipe: FusionRecipe,
    x: np.ndarray,
    target: Target,
    samples: FusionSamples,
    k: int,
    folder: Path,
    progress: bool,
):
    """Train ensemble member ``k``; returns its mean and MC-dropout variance (normalised)."""
    name = run_label(mcfg)
    tcfg = recipe.train.model_copy(update={"seed": recipe.train.seed + k})
    seed_everything(tcfg.seed)
    device = choose_device(tcfg.device)
    months = samples.lags + 1
    model = build_model(
        resolve_name(mcfg.name, mcfg.pretrained),
        x.shape[1] // months,
        months,
        base_filters=mcfg.base_filters,
        depth=mcfg.depth,
        dropout=mcfg.dropout,
        pretrained=mcfg.pretrained,
        size=x.shape[-2:],
    ).to(device)
    loss = MismatchLoss(torch.as_tensor(target.cell_mean, device=device), recipe.train.loss_weight)
    res = fit(
        model, ArrayDataset(x=x, y=target.y), samples.train, samples.val, loss, tcfg, folder,
        epochs=mcfg.epochs, label=f"{name[:12]:12s}[{k}]", progress=progress,
    )  # fmt: skip
    det, spread = predict(
        model, ArrayDataset(x=x), batch_size=8, mc_samples=tcfg.mc_samples, seed=tcfg.seed
    )
    variance = np.zeros_like(det) if spread is None else spread**2
    return model, det, variance, res


def train_model(
    mcfg: ModelConfig,
    recipe: FusionRecipe,
    samples: FusionSamples,
    out_dir: Path,
    base: np.ndarray | None = None,
    extra: np.ndarray | None = None,
    progress: bool = True,
) -> ModelRun:
    """Train ``mcfg.ensemble`` members (seeds seed, seed+1, …) and predict every month.

    Members are averaged; the spread combines each member's MC-dropout variance with the
    variance between members. ``base`` (mm) makes the network learn the residual of that
    prediction, ``extra`` adds input channels (blocks of ``lags + 1``).
    """
    target = make_target(samples, base)
    x = samples.x if extra is None else np.concatenate([samples.x, extra], axis=1)
    x = x.astype(np.float32)
    name = run_label(mcfg)
    if resolve_name(mcfg.name, mcfg.pretrained) != mcfg.name:
        log.warning(
            "%s: no VGG16 ImageNet weights found locally (they cannot be downloaded here); "
            "the architecture is trained from random weights and reported as %s",
            mcfg.name,
            resolve_name(mcfg.name, mcfg.pretrained),
        )
    means, variances, results, model = [], [], [], None
    for k in range(mcfg.ensemble):
        sub = name if mcfg.ensemble == 1 else f"{name}/member{k}"
        model, det, var, res = _member(
            mcfg, recipe, x, target, samples, k, out_dir / "checkpoints" / sub, progress
        )
        means.append(det)
        variances.append(var)
        results.append(res)
    mean = np.mean(means, axis=0)
    has_spread = recipe.train.mc_samples > 0 or mcfg.ensemble > 1
    spread = np.sqrt(np.mean(variances, axis=0) + np.var(means, axis=0)) if has_spread else None
    seconds = sum(r.seconds for r in results)
    new_epochs = sum(
        r.epochs_run - ((r.resumed_from + 1) if r.resumed_from is not None else 0) for r in results
    )
    run = ModelRun(
        name=name,
        parameters=count_parameters(model) * mcfg.ensemble,
        trainable=count_parameters(model, trainable_only=True) * mcfg.ensemble,
        mismatch=np.where(samples.mask[None], target.to_mm(mean), np.nan),
        mismatch_sd=None if spread is None else spread * target.std,
        seconds=seconds,
        epochs=sum(r.epochs_run for r in results),
        best_epoch=results[0].best_epoch,
        seconds_per_epoch=seconds / max(1, new_epochs),
        history=results[0].history,
    )
    add_intervals(run, samples)
    return run


def add_intervals(run: ModelRun, samples: FusionSamples) -> None:
    """Two 95 % intervals for the corrected TWSA (LSM − Ŝ):

    - ``*_rmse`` (the paper's): ±1.96 × the per-cell RMSE of the training misfit;
    - the default: a per-cell scale times a split-conformal quantile computed on the
      calibration months alone (no gradient step, early stop or choice used them), so the
      coverage measured on validation and test months is honest. The scale is the ensemble
      (and MC-dropout) spread when there is one, else the per-cell training RMSE (the
      paper's interval, calibrated).

    ``run.interval`` keeps the rule in a form that does not depend on the training grid's
    cells (what ``gracefuse predict`` applies elsewhere): with a spread, ``q`` and the
    spread's ``offset_mm`` (the half-width is ``q × (spread + offset)``, as here); without
    one, a constant ``half_mm`` calibrated the same way on the calibration months.
    """
    s_obs = samples.to_mm(samples.y)
    with warnings.catch_warnings():  # ocean cells: all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        rmse = np.sqrt(np.nanmean((run.mismatch[samples.train] - s_obs[samples.train]) ** 2, 0))
    rmse = np.nan_to_num(rmse, nan=float(np.nanmean(rmse)))
    run.lower_rmse = -run.mismatch - 1.96 * rmse[None]
    run.upper_rmse = -run.mismatch + 1.96 * rmse[None]
    if run.mismatch_sd is not None:
        scale = run.mismatch_sd + np.nanmedian(run.mismatch_sd[samples.cal])
    else:
        scale = np.broadcast_to(rmse[None], run.mismatch.shape)
    cal = samples.cal
    errors = s_obs[cal] - run.mismatch[cal]
    q = float(calibrated_halfwidth(errors, scale[cal], 1.0))
    run.lower, run.upper = -run.mismatch - q * scale, -run.mismatch + q * scale
    if run.mismatch_sd is not None:
        offset = float(np.nanmedian(run.mismatch_sd[cal]))
        run.interval = {"kind": "spread", "q": q, "offset_mm": offset}
    else:
        run.interval = {"kind": "constant",
                        "half_mm": float(calibrated_halfwidth(errors, 1.0, 1.0))}  # fmt: skip
