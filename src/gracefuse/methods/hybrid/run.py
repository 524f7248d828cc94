"""The hybrid family's experiment: every model and baseline on the temporal test and on
spatial cross-validation, scored per target (and on the twin, latent stores against truth).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gracefuse.methods.hybrid import baselines as bl
from gracefuse.methods.hybrid.config import HybridRecipe
from gracefuse.methods.hybrid.series import HybridData
from gracefuse.methods.hybrid.splits import Roles, spatial_roles, temporal_roles
from gracefuse.methods.hybrid.train import TRANSFERABLE, Trained, merge_folds, train_plan

log = logging.getLogger(__name__)

BASELINES = ("climatology", "cumulative_wb", "basin_ridge", "pooled_gbm")


@dataclass
class SplitResult:
    """Predictions of one split: ``model → Trained`` for the networks and ``baseline →
    (N, M)`` TWS (and ``variable → (N, M)`` ET/runoff/SWE climatologies)."""

    name: str
    roles: Roles
    models: dict[str, Trained] = field(default_factory=dict)
    baselines: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    own_history: bool = True


def split_names(data: HybridData) -> tuple[str, str]:
    """``(temporal, spatial)`` split names: basins ``test_years``/``test_basins``, grid
    cells ``test``/``test_cells``."""
    return ("test", "test_cells") if data.grid is not None else ("test_years", "test_basins")


def temporal_baselines(data: HybridData, roles: Roles, seed: int) -> dict:
    """Every baseline on the temporal split, per variable."""
    fit, val = roles.train[1], roles.validation[1]
    train = fit | val
    obs = data.targets["twsa"]
    feats = bl.memory_features(data)
    everyone = np.arange(data.n)
    twsa = {
        "climatology": bl.climatology(obs, data.months, train),
        "cumulative_wb": bl.cumulative_wb(data),
        "basin_ridge": bl.basin_ridge(obs, feats, fit, val),
        "pooled_gbm": bl.pooled_gbm(obs, data, feats, everyone, train, everyone, seed),
    }
    out = {name: {"twsa": v} for name, v in twsa.items()}
    for var in ("et", "q", "swe"):
        if var in data.targets:
            out["climatology"][var] = bl.climatology(data.targets[var], data.months, train)
    return out


def spatial_baselines(data: HybridData, folds: list[Roles], seed: int) -> dict:
    """The baselines that can predict unseen samples, fold by fold."""
    obs = data.targets["twsa"]
    feats = bl.memory_features(data)
    gbm = np.full(obs.shape, np.nan)
    for r in folds:
        train = np.concatenate([r.train[0], r.validation[0]])
        gbm[r.scored] = bl.pooled_gbm(obs, data, feats, train, r.train[1], r.scored, seed)
    return {"cumulative_wb": {"twsa": bl.cumulative_wb(data)}, "pooled_gbm": {"twsa": gbm}}


def run_splits(recipe: HybridRecipe, data: HybridData, folder: Path,
               progress: bool) -> list[SplitResult]:  # fmt: skip
    """Train every model of the recipe on the temporal split and (transferable ones) on
    every spatial fold, side by side where the machine allows; compute the baselines on
    the same splits."""
    cfg = recipe.hybrid
    temporal_name, spatial_name = split_names(data)
    roles = temporal_roles(data, cfg, temporal_name)
    folds = spatial_roles(data, cfg, spatial_name) if cfg.spatial_folds >= 2 else []
    plan = [(mc, roles) for mc in recipe.models]
    for mc in recipe.models:
        if folds and mc.name not in TRANSFERABLE:
            log.info("%s fits parameters per sample; left out of %s", mc.name, spatial_name)
        elif folds:
            plan += [(mc, r) for r in folds]
    trained = iter(train_plan(plan, recipe, data, folder / "checkpoints", progress))
    temporal = SplitResult(temporal_name, roles)
    for mc in recipe.models:
        temporal.models[mc.label] = next(trained)
    temporal.baselines = temporal_baselines(data, roles, cfg.seed)
    if not folds:
        return [temporal]
    # each sample is scored by the model of the fold that held it out
    every = Roles(spatial_name, folds[0].train, folds[0].validation, np.arange(data.n),
                  folds[0].score_months)  # fmt: skip
    spatial = SplitResult(spatial_name, every, own_history=False)
    for mc in recipe.models:
        if mc.name in TRANSFERABLE:
            spatial.models[mc.label] = merge_folds([next(trained) for _ in folds], data.n)
    spatial.baselines = spatial_baselines(data, folds, cfg.seed)
    return [temporal, spatial]
