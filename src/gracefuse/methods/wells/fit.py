"""Every model of a wells run on one fold: GRACE alone and a random forest (baselines),
GNNWR and GTNNWR (:mod:`gracefuse.models.gnnwr`) with the fold's training wells as the
spatial anchors, each trained on one target and applied to the fold's test wells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import RandomForestRegressor

from gracefuse.config import ModelConfig
from gracefuse.datasets.arrays import ArrayDataset
from gracefuse.datasets.scaling import PointScaler
from gracefuse.methods.wells.config import WellsRecipe
from gracefuse.methods.wells.problem import WellsProblem, validation_wells
from gracefuse.models.gnnwr import WeightedRegression, knn_proximity, ols, unit_vectors
from gracefuse.training.determinism import seed_everything
from gracefuse.training.loop import choose_device, fit
from gracefuse.training.losses import MaskedMSE


def space_proximity(problem: WellsProblem, rows: np.ndarray, anchors: list[str], k: int):
    """The ``k`` nearest anchor wells of each row's well, never the well itself."""
    site = problem.table.groupby("well")[["lat", "lon"]].first()
    ref = unit_vectors(site.loc[anchors, "lat"].values, site.loc[anchors, "lon"].values)
    k = min(k, len(anchors) - 1)
    idx, w, _ = knn_proximity(unit_vectors(problem.lat[rows], problem.lon[rows]), ref, k + 1)
    own = np.array([anchors.index(x) if x in anchors else -1 for x in problem.well[rows]])
    order = np.argsort(idx == own[:, None], axis=1, kind="stable")[:, :k]  # self last
    idx, w = np.take_along_axis(idx, order, 1), np.take_along_axis(w, order, 1)
    return idx, (w / w.sum(1, keepdims=True)).astype(np.float32)


def fit_weighted_wells(mc: ModelConfig, problem: WellsProblem, recipe: WellsRecipe,
                       y: np.ndarray, rows: dict[str, np.ndarray], anchors: list[str],
                       folder: Path, progress: bool) -> np.ndarray:  # fmt: skip
    """Fit GNNWR/GTNNWR on ``rows["fit"]`` (early stop on ``rows["val"]``); predict
    ``rows["test"]``."""
    cfg, fit_rows = recipe.wells, rows["fit"]
    std = PointScaler.fit(problem.x[fit_rows], y[fit_rows])
    x, z = std.x(problem.x), std.y(y)
    used = np.concatenate([fit_rows, rows["val"], rows["test"]])
    arrays = {"x": x[used], "y": z[used]}
    arrays["space_idx"], arrays["space_w"] = space_proximity(problem, used, anchors, cfg.k_space)
    temporal = mc.name == "gtnnwr"
    n_months = int(problem.month.max()) + 1
    if temporal:
        arrays["time_idx"], arrays["time_w"], _ = knn_proximity(
            problem.month[used, None].astype(float), np.arange(n_months, dtype=float)[:, None],
            cfg.k_time)  # fmt: skip
    seed_everything(recipe.train.seed)
    beta = ols(x[fit_rows], z[fit_rows])
    model = WeightedRegression(torch.as_tensor(beta), len(anchors), n_months if temporal else 0,
                               tuple(cfg.hidden), mc.dropout).to(choose_device(recipe.train.device))  # fmt: skip
    n_fit, n_val = len(fit_rows), len(rows["val"])
    fit(model, ArrayDataset(**arrays), np.arange(n_fit), np.arange(n_fit, n_fit + n_val),
        MaskedMSE(), recipe.train, folder, epochs=mc.epochs, label=folder.name,
        progress=progress)  # fmt: skip
    model.eval()
    test = slice(n_fit + n_val, None)
    device = next(model.parameters()).device
    with torch.no_grad():
        batch = {k: torch.as_tensor(v[test], device=device) for k, v in arrays.items()}
        return std.inverse_y(model(batch)["y_hat"].cpu().numpy())


def fold_rows(problem: WellsProblem, recipe: WellsRecipe, test_wells: list[str],
              target: str, seed: int) -> tuple[dict[str, np.ndarray], list[str]]:  # fmt: skip
    """The fold's row indices (``fit`` and ``val``: measured months of the training and
    the early-stopping wells; ``test``: every month of ``test_wells``) and its anchors
    (the training wells that do not early-stop)."""
    y = problem.targets[target]
    test = np.isin(problem.well, test_wells)
    train_wells = [w for w in problem.wells if w not in test_wells]
    val_wells = validation_wells(train_wells, recipe.wells.validation_wells, seed)
    measured = np.isfinite(y)
    is_val = np.isin(problem.well, val_wells)
    rows = {"fit": np.nonzero(~test & ~is_val & measured)[0],
            "val": np.nonzero(is_val & measured)[0], "test": np.nonzero(test)[0]}  # fmt: skip
    return rows, [w for w in train_wells if w not in val_wells]


def fit_fold(problem: WellsProblem, recipe: WellsRecipe, test_wells: list[str], target: str,
             folder: Path, progress: bool, seed: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Predictions of every model at the rows of ``test_wells`` (NaN elsewhere)."""
    y = problem.targets[target]
    rows, anchors = fold_rows(problem, recipe, test_wells, target, seed)
    train_rows = np.sort(np.concatenate([rows["fit"], rows["val"]]))
    out = {}
    grace = problem.x[:, problem.names.index("GRACE_TWSA")]
    design = np.stack([np.ones_like(grace), grace], 1)
    out["grace"] = design[rows["test"]] @ ols(design[train_rows], y[train_rows])
    xs = np.column_stack([problem.x, problem.lat, problem.lon])
    # the fold's seed (its validation wells) and the training seed (its trees)
    forest = RandomForestRegressor(recipe.wells.forest_trees, min_samples_leaf=5, max_features=0.5,
                                   n_jobs=-1, random_state=seed + 100_003 * recipe.train.seed)  # fmt: skip
    forest.fit(xs[train_rows], y[train_rows]).set_params(n_jobs=1)  # trees summed in order
    out["random_forest"] = forest.predict(xs[rows["test"]])
    for mc in recipe.models:
        out[mc.name] = fit_weighted_wells(mc, problem, recipe, y, rows, anchors,
                                 folder / f"{target}_{mc.name}", progress)  # fmt: skip
    full = {}
    for name, pred in out.items():
        full[name] = np.full(len(y), np.nan)
        full[name][rows["test"]] = pred
    return full
