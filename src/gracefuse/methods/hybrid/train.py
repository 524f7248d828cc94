"""Train the hybrid family's models on one split with the shared loop, and predict monthly
stores and fluxes for the samples that split scores."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.methods.hybrid.config import HybridRecipe
from gracefuse.methods.hybrid.loss import HybridLoss
from gracefuse.methods.hybrid.series import HybridData, Standardised, role_dataset, to_months
from gracefuse.methods.hybrid.splits import Roles
from gracefuse.models.hybrid import (
    ConceptualModel,
    HybridLSTM,
    HybridTrend,
    SeriesLSTM,
    SeriesTrend,
)
from gracefuse.training.determinism import seed_everything
from gracefuse.training.jobs import job_processes, run_jobs
from gracefuse.training.loop import FitResult, choose_device, fit, to_device

log = logging.getLogger(__name__)

#: outputs kept as monthly means (stores, fractions); every other output is a monthly sum
MEAN_OUTPUTS = ("tws", "swe", "cwd", "gw", "frac_fast", "frac_soil", "frac_gw",
                "frac_et_soil", "baseflow", "lateral_store")  # fmt: skip
#: models that keep the water balance, and the ones that can predict unseen samples (the
#: others fit parameters per sample: the conceptual model's, the trend models' lateral flux)
PHYSICAL = ("hybrid", "hybrid_trend", "conceptual")
TRANSFERABLE = ("hybrid", "lstm")


@dataclass
class Trained:
    """Monthly predictions ``name → (len(samples), M)`` of one model on one split, the
    mean over ensemble members, and each member's (for the robustness of latent stores)."""

    samples: np.ndarray
    monthly: dict[str, np.ndarray]
    members: list[dict[str, np.ndarray]] = field(default_factory=list)
    fits: list[FitResult] = field(default_factory=list)


def build_hybrid_model(name: str, mc: ModelConfig, recipe: HybridRecipe, data: HybridData,
                       n_x: int, n_s: int) -> torch.nn.Module:  # fmt: skip
    """The model ``name`` sized for ``data`` (``n_x`` inputs per step, ``n_s`` statics)."""
    h = recipe.hybrid
    spy = data.steps_per_year
    physical = {"hidden": h.hidden, "dropout": mc.dropout, "branch_width": h.branch_width,
                "spinup_years": h.spinup_years, "steps_per_year": spy}  # fmt: skip
    series = {"hidden": h.hidden, "dropout": mc.dropout, "branch_width": h.branch_width}
    if name == "hybrid":
        return HybridLSTM(n_x, n_s, **physical)
    if name == "hybrid_trend":
        return HybridTrend(n_x, n_s, data.n, **physical)
    if name == "lstm":
        return SeriesLSTM(n_x, n_s, **series)
    if name == "lstm_trend":
        return SeriesTrend(n_x, n_s, data.n, **series)
    if name == "conceptual":
        return ConceptualModel(n_x, data.n, h.spinup_years, spy)
    raise ValueError(f"model {name!r} is not a hybrid-family model")


def predict_monthly(model: torch.nn.Module, data: HybridData, std: Standardised,
                    samples: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:  # fmt: skip
    """Every output of ``model`` over the whole record, made monthly, for ``samples``."""
    model.eval()
    device = next(model.parameters()).device
    step_month = torch.as_tensor(data.step_month, device=device)
    n_months = len(data.months)
    chunks: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for i in range(0, len(samples), batch_size):
            idx = samples[i : i + batch_size]
            batch = to_device({
                "x": torch.as_tensor(std.x[idx]), "s": torch.as_tensor(std.s[idx]),
                "p": torch.as_tensor(np.nan_to_num(data.precip[idx]).astype(np.float32)),
                "scale": torch.as_tensor(std.scale[idx]), "sample": torch.as_tensor(idx),
            }, device)  # fmt: skip
            out = model(batch)
            for name, v in out.items():
                if v.ndim != 2:
                    continue
                how = "mean" if name in MEAN_OUTPUTS else "sum"
                monthly = to_months(v.double(), step_month, n_months, how)
                chunks.setdefault(name, []).append(monthly.cpu().numpy())
    return {k: np.concatenate(v) for k, v in chunks.items()}


def target_scales(data: HybridData, targets: list[str], roles: Roles) -> dict[str, float]:
    """Each target's standard deviation (mm) over the training samples and months (TWS
    about each sample's mean), the scale of the NSE-like loss's floor."""
    samples, months = roles.train
    out = {}
    for t in targets:
        obs = data.targets[t][samples][:, months]
        if t == "twsa":
            obs = obs - np.nanmean(obs, axis=1, keepdims=True)
        out[t] = float(np.nanstd(obs)) if np.isfinite(obs).any() else 1.0
    return out


def training_parts(roles: Roles) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``role → (samples, months)`` a network trains and early-stops on: ``train`` and
    ``validation``, or with ``roles.refit`` one ``train`` over both (no early stopping)."""
    if roles.refit:
        return {"train": (roles.train[0], roles.train[1] | roles.validation[1])}
    return {"train": roles.train, "validation": roles.validation}


def fit_member(mc: ModelConfig, recipe: HybridRecipe, data: HybridData, roles: Roles,
               folder: Path, progress: bool, member: int, epochs: int | None = None,
               stop_after: int | None = None):  # fmt: skip
    """Train one member of ``mc`` on ``roles`` (checkpoints under ``folder``); returns
    ``(model, standardised inputs, FitResult)``."""
    h = recipe.hybrid
    tc: TrainConfig = recipe.train.model_copy(update={"seed": recipe.train.seed + member})
    targets = [t for t in h.targets if t in data.targets]
    std = Standardised.of(data, roles.train[0])
    ds, index = role_dataset(data, std, training_parts(roles), targets, h.warmup_months)
    stop_on = index.get("validation", np.array([], dtype=int))
    device = choose_device(tc.device)
    seed_everything(tc.seed)
    model = build_hybrid_model(mc.name, mc, recipe, data, std.x.shape[2], std.s.shape[1])
    model = model.to(device)
    weight = h.groundwater_weight if mc.name in PHYSICAL else 0.0
    loss = HybridLoss(targets, torch.as_tensor(data.step_month), h.loss, weight, h.task_lr,
                      target_scales(data, targets, roles))  # fmt: skip
    loss = loss.to(device)
    result = fit(
        model, ds, index["train"], stop_on, loss, tc,
        folder / f"{mc.name}_{roles.name}_m{member}", epochs=epochs or mc.epochs,
        label=f"{mc.name} {roles.name}" + (f" #{member}" if mc.ensemble > 1 else ""),
        progress=progress, stop_after=stop_after,
    )  # fmt: skip
    return model, std, result


def _member(mc, recipe, data, roles, folder, progress, member):
    """One member trained and predicted (a job of :func:`train_plan`)."""
    model, std, result = fit_member(mc, recipe, data, roles, folder, progress, member)
    return predict_monthly(model, data, std, roles.scored, recipe.train.batch_size), result


def train_plan(plan: list[tuple[ModelConfig, Roles]], recipe: HybridRecipe, data: HybridData,
               folder: Path, progress: bool) -> list[Trained]:  # fmt: skip
    """Train each ``(model, split)`` of ``plan`` (every ensemble member) and predict its
    scored samples. The members of every entry are independent trainings: they run side
    by side in processes (:func:`gracefuse.training.jobs.run_jobs`)."""
    jobs, labels, owner = [], [], []
    side_by_side = job_processes(recipe.train, sum(mc.ensemble for mc, _ in plan)) > 1
    for k, (mc, roles) in enumerate(plan):
        for m in range(mc.ensemble):
            jobs.append((mc, recipe, data, roles, folder, progress and not side_by_side, m))
            labels.append(f"{mc.name} {roles.name}" + (f" #{m}" if mc.ensemble > 1 else ""))
            owner.append(k)
    done = run_jobs(_member, jobs, recipe.train, labels, progress)
    out = []
    for k, (mc, roles) in enumerate(plan):
        members = [pred for (pred, _), o in zip(done, owner, strict=True) if o == k]
        fits = [fit for (_, fit), o in zip(done, owner, strict=True) if o == k]
        for m, result in enumerate(fits):
            log.info("%s %s member %d: %d epochs, best %d (val %.4f), %.2f s/epoch", mc.name,
                     roles.name, m, result.epochs_run, result.best_epoch, result.best_loss,
                     result.seconds_per_epoch)  # fmt: skip
        mean = {key: np.mean([p[key] for p in members], axis=0) for key in members[0]}
        out.append(Trained(roles.scored, mean, members, fits))
    return out


def merge_folds(parts: list[Trained], n: int) -> Trained:
    """Fold predictions, each on its held-out samples, as one prediction of every sample."""
    keys = set.intersection(*(set(p.monthly) for p in parts))
    n_months = next(iter(parts[0].monthly.values())).shape[1]
    monthly = {k: np.full((n, n_months), np.nan) for k in keys}
    for p in parts:
        for k in keys:
            monthly[k][p.samples] = p.monthly[k]
    fits = [f for p in parts for f in p.fits]
    return Trained(np.arange(n), monthly, [], fits)
