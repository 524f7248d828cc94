"""Reconstruction and gap filling (Yu et al. 2021) as a method family.

Besides the common files of a run folder (:func:`gracefuse.runner.run_recipe`) it writes
``filled.nc``: GRACE where observed; inside GRACE's record the fill model, outside it the
hindcast model; with 95 % bounds, and every model's reconstruction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from rich.table import Table

from gracefuse.config import GraceOnlySource
from gracefuse.data.grid import cell_area, pad_to_multiple
from gracefuse.data.inputs import check_sources, load_inputs
from gracefuse.datasets.scaling import Scaler
from gracefuse.datasets.splits import ROLES, Splits, early_stopping, reconstruction_splits
from gracefuse.errors import ConfigError, InputError
from gracefuse.evaluate.compare import compare_to_baselines, comparison_rows, verdicts
from gracefuse.evaluate.regions import skill_rows
from gracefuse.evaluate.table import long_table
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.reconstruction.baselines import (
    BASELINES,
    LSM_BASELINES,
    baseline_predictions,
)
from gracefuse.methods.reconstruction.config import ReconstructionRecipe
from gracefuse.methods.reconstruction.convlstm import convlstm_all
from gracefuse.methods.reconstruction.image import train_image_model
from gracefuse.methods.reconstruction.intervals import FillIntervals, fill_intervals
from gracefuse.methods.reconstruction.predictors import lsm_predictors
from gracefuse.methods.reconstruction.report import write_reconstruction_report
from gracefuse.methods.registry import register_method

log = logging.getLogger(__name__)


@dataclass
class ReconstructionData:
    """GRACE (and the LSM with its forcing) on one grid padded for the CNNs; the twin's
    GRACE-like truth as ``reference`` (scores hindcasts, never an input)."""

    grid: xr.Dataset
    reference: np.ndarray | None
    original: xr.Dataset
    source: str


@dataclass
class ReconstructionResult:
    predictions: dict[str, np.ndarray]  # model -> (time, H, W) mm, scored
    forecasts: dict[str, np.ndarray]  # model -> one-month-ahead forecasts (forecast_1m)
    parameters: dict[str, int]
    splits: Splits
    table: pd.DataFrame
    comparison: pd.DataFrame
    fill_model: str
    filled: xr.Dataset
    data: ReconstructionData
    hindcast_model: str = ""


def check_reconstruction_recipe(recipe) -> None:
    """Fail fast, before a run folder exists or data loads, on settings that cannot work."""
    check_sources(recipe.data)
    rc, names = recipe.reconstruction, [m.name for m in recipe.models]
    if isinstance(recipe.data, GraceOnlySource):
        needs_lsm = [n for n in names if n != "convlstm"]
        if needs_lsm:
            raise ConfigError(
                f"models {needs_lsm} are driven by an LSM; a grace_only recipe can train "
                "convlstm only (or give data.kind = 'files' with an LSM)"
            )
    known = set(names) | set(BASELINES) | set(LSM_BASELINES) | {"lsm"}
    for key, value, rules in (
        ("fill_model", rc.fill_model, {"best"}),
        ("hindcast_model", rc.hindcast_model, {"fill_model", "best_lsm"}),
    ):
        if value not in rules | known:
            raise ConfigError(
                f"reconstruction.{key} = {value!r} is neither {' nor '.join(map(repr, sorted(rules)))} "
                f"nor a model of this recipe ({', '.join(sorted(known))})"
            )


def load_reconstruction_data(recipe, multiple: int = 16) -> ReconstructionData:
    """The inputs of a reconstruction recipe (:func:`load_inputs`), padded for the CNNs."""
    inputs = load_inputs(recipe.data, "grace")
    ds = inputs.observed
    padded = pad_to_multiple(ds, multiple)
    padded["land_mask"] = padded["land_mask"].fillna(False).astype(bool)
    reference = None
    if inputs.reference is not None and "twsa_grace_clean" in inputs.reference:
        ref = pad_to_multiple(inputs.reference["twsa_grace_clean"], multiple)
        reference = ref.where(padded["land_mask"]).values
    return ReconstructionData(padded, reference, ds[["land_mask"]], inputs.source)


def _train_models(
    recipe, data: ReconstructionData, splits: Splits, g_scaler: Scaler, out, progress
):
    """Every recipe model: scored predictions, forecasts and the production fill (mm)."""
    grid, rc = data.grid, recipe.reconstruction
    mask = grid["land_mask"].values[None]
    grace = grid["twsa_grace"].where(grid["land_mask"]).values
    g_scaled = g_scaler.forward(grace)
    times = pd.DatetimeIndex(grid["time"].values)
    lsm_x = lsm_predictors(grid, splits, rc) if "twsa_lsm" in grid else None
    pred, ahead, product, info = {}, {}, {}, {}
    for mcfg in recipe.models:
        if mcfg.name == "convlstm":
            p, f, prod, n = convlstm_all(mcfg, recipe, g_scaled, times, splits, out, progress)
        else:
            if lsm_x is None:
                raise InputError(None, f"{mcfg.name} needs an LSM; this recipe has GRACE only")
            p, n = train_image_model(mcfg, recipe, lsm_x, g_scaled, splits, out, progress)
            f, prod = p, p
        for store, a in ((pred, p), (ahead, f), (product, prod)):
            store[mcfg.name] = np.where(mask, g_scaler.inverse(a), np.nan)
        info[mcfg.name] = n
    return pred, ahead, product, info, lsm_x


def _skill_table(result_pred, forecasts, grace, reference, splits, grid) -> list[dict]:
    """Skill rows of every model on every role (hindcast against the reference)."""
    like, mask = grid["twsa_grace"], grid["land_mask"]
    obs = xr.DataArray(grace, coords=like.coords, dims=like.dims)
    ref = None if reference is None else xr.DataArray(reference, coords=like.coords, dims=like.dims)
    rows: list[dict] = []
    for name, p in result_pred.items():
        for split, idx in splits.as_dict().items():
            values = forecasts.get(name, p) if split == "forecast_1m" else p
            target = ref if split == "hindcast" else obs
            if len(idx) == 0 or target is None or not np.isfinite(values[idx]).any():
                continue
            sim = xr.DataArray(values, coords=like.coords, dims=like.dims)
            rows += skill_rows(name, split, sim.isel(time=idx), target.isel(time=idx), mask)
    return rows


def choose_fill_model(table: pd.DataFrame, names: list[str], split: str) -> str:
    """The candidate with the lowest grid-median RMSE on ``split`` (a validation role)."""
    sub = table[
        (table.split == split)
        & (table.scale == "grid_median")
        & (table.metric == "rmse")
        & table.model.isin(names)
    ]
    if sub.empty:
        raise InputError(None, f"no model could be scored on the {split} months")
    return str(sub.sort_values("value").model.iloc[0])


def lsm_driven(recipe) -> list[str]:
    """The recipe's models that take the LSM's storage as input, and the LSM baselines."""
    return [m.name for m in recipe.models if m.name != "convlstm"] + list(LSM_BASELINES)


def choose_models(table, names, lsm_driven, rc, role: str) -> tuple[str, str]:
    """The fill model (gaps inside the training span) and the hindcast model (outside it).

    ``"best"`` (fill model) and ``"best_lsm"`` (hindcast model, among LSM-driven models
    only) are chosen on ``role`` (the validation block, or the training months where there
    is none) among ``names`` (the models with predictions); ``"fill_model"`` hindcasts with
    the fill model. Without LSM-driven models ``"best_lsm"`` falls back to the fill model.
    """
    chosen = []
    for setting, pool in (
        (rc.fill_model, [m for m in names if m != "lsm"]),
        (rc.hindcast_model, [m for m in names if m in lsm_driven]),
    ):
        if setting == "fill_model" and chosen:
            chosen.append(chosen[0])
        elif setting in ("best", "best_lsm"):
            chosen.append(choose_fill_model(table, pool, role) if pool else chosen[0])
        elif setting in names:
            chosen.append(setting)
        else:
            raise InputError(None, f"fill model {setting!r} was not trained in this recipe")
    return chosen[0], chosen[1]


def combined_intervals(inside: FillIntervals, outside: FillIntervals) -> FillIntervals:
    """Interior bounds (and coverage) of the fill model, exterior ones of the hindcast model."""
    cov = {k: v for k, v in inside.coverage.items() if k in ("hidden_single", "hidden_block")}
    cov |= {k: v for k, v in outside.coverage.items() if k in ("test", "hindcast")}
    return FillIntervals(interior=inside.interior, exterior=outside.exterior, coverage=cov)


def _comparison(predictions, grace, grid, splits) -> pd.DataFrame:
    mask = grid["land_mask"].values
    w = cell_area(grid["lat"].values, grid["lon"].values).values
    baselines = [b for b in ("lsm", *BASELINES) if b in predictions]
    parts = [
        compare_to_baselines(predictions, grace, mask, w, idx, baselines, split)
        for split, idx in (("hidden_block", splits.hidden_block), ("test", splits.test))
        if len(idx)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _filled(data, grace, product, models: tuple[str, str], intervals, splits, learned):
    """``filled.nc``: GRACE where observed; elsewhere the fill model inside the training span
    and the hindcast model outside it (``models``), with 95 % bounds, and the reconstruction
    of every model in ``learned`` (both among them)."""
    grid, mask = data.grid, data.grid["land_mask"].values
    flag = ~np.isfinite(grace) & mask[None]
    t = np.arange(len(grid["time"]))
    inside = ((t >= splits.train.min()) & (t <= splits.train.max()))[:, None, None]
    fill = np.where(inside, product[models[0]], product[models[1]])
    complete = np.where(flag, fill, grace)
    band = np.where(flag, intervals.halfwidth(len(grid["time"]), splits.train), 0.0)
    dims = ("time", "lat", "lon")
    ds = xr.Dataset(
        {
            "twsa": (dims, complete, {"units": "mm",
                     "long_name": "complete TWSA: GRACE where observed, filled elsewhere"}),
            "filled": (dims, np.where(mask[None], flag, False),
                       {"long_name": "true where the value is filled, false where GRACE observed"}),
            "twsa_lower": (dims, complete - band, {"units": "mm", "long_name": "2.5 % bound"}),
            "twsa_upper": (dims, complete + band, {"units": "mm", "long_name": "97.5 % bound"}),
            "twsa_reconstructed": (("model", *dims), np.stack([product[m] for m in learned]),
                                   {"units": "mm", "long_name": "each model's reconstruction"}),
            "land_mask": grid["land_mask"],
        },
        coords={**{k: grid[k] for k in dims}, "model": learned},
    )  # fmt: skip
    ds = ds.sel(lat=data.original["lat"], lon=data.original["lon"])
    ds.attrs = {
        "title": "gracefuse gap-filled and reconstructed TWSA (Yu et al. 2021)",
        "fill_model": models[0],
        "hindcast_model": models[1],
        "source_product": "gracefuse_fill",
        "anomaly_baseline": "2004-01..2009-12",
    }
    return ds


def _model_rows(info: dict) -> list[dict]:
    return [
        dict(model=name, split="all", scale="model", metric=metric, value=n[metric])
        for name, n in info.items()
        for metric in ("parameters", "seconds_per_epoch")
    ]


@dataclass
class Prepared:
    """The inputs of a reconstruction run on the padded grid, and its roles."""

    data: ReconstructionData
    grace: np.ndarray
    lsm: np.ndarray | None
    times: pd.DatetimeIndex
    splits: Splits
    g_scaler: Scaler


def _choose_and_bound(recipe, prepared: Prepared, fitted):
    """Baselines, skill rows of every model, the fill and hindcast models (validation
    block) and their intervals."""
    p = prepared
    pred, ahead, _, info, lsm_x = fitted
    base, base_ahead = baseline_predictions(p.grace, p.lsm, lsm_x, p.times, p.splits)
    mask = p.data.grid["land_mask"].values[None]
    predictions = {**({"lsm": p.lsm} if p.lsm is not None else {}), **pred}
    predictions.update({k: np.where(mask, v, np.nan) for k, v in base.items()})
    forecasts = {**ahead, **base_ahead}
    rows = _skill_table(predictions, forecasts, p.grace, p.data.reference, p.splits, p.data.grid)
    table = long_table(rows + _model_rows(info))
    role = "validation_block" if len(p.splits.validation_block) else "train"
    models = choose_models(table, list(predictions), lsm_driven(recipe), recipe.reconstruction,
                           role)  # fmt: skip
    intervals = combined_intervals(
        *(fill_intervals(predictions[m], p.grace, p.splits, p.data.reference) for m in models)
    )
    return rows, predictions, forecasts, models, intervals


def console_summary(result: ReconstructionResult) -> list:
    """Grid-median RMSE of every model on every role, the verdicts and the chosen models."""
    t = result.table
    view = Table(title="grid-median RMSE (mm) by split; lower is better")
    splits = [s for s in ROLES if s != "train" and s in set(t.split)]
    view.add_column("model")
    for s in splits:
        view.add_column(s, justify="right")
    sub = t[(t.scale == "grid_median") & (t.metric == "rmse")]
    for model in dict.fromkeys(sub.model):
        vals = sub[sub.model == model].set_index("split").value
        view.add_row(model, *(f"{vals[s]:.1f}" if s in vals else "–" for s in splits))
    lines: list = [view]
    if not result.comparison.empty:
        lines += verdicts(result.comparison[result.comparison.split == "hidden_block"])
    lines.append(
        f"gaps filled by {result.fill_model} (chosen on the validation block), hindcast by "
        f"{result.hindcast_model}"
    )
    return lines


@register_method
class ReconstructionMethod(Method):
    """Yu et al. (2021): GRACE-like TWSA from the LSM or from GRACE alone."""

    name = "reconstruction"
    recipe_type = ReconstructionRecipe
    summary = "fill GRACE's gaps and the GRACE/GRACE-FO gap, hindcast before 2002"
    source = "Yu et al. 2021"
    products = ("filled.nc", "comparison.csv")
    headlines = (("hidden_block", "grid_median", "rmse"), ("test", "grid_median", "rmse"),
                 ("hindcast", "grid_median", "rmse"))  # fmt: skip

    def check(self, recipe: ReconstructionRecipe) -> None:
        check_reconstruction_recipe(recipe)

    def prepare(self, recipe: ReconstructionRecipe) -> Prepared:
        data = load_reconstruction_data(recipe)
        grid = data.grid
        grace = grid["twsa_grace"].where(grid["land_mask"]).values
        lsm = grid["twsa_lsm"].where(grid["land_mask"]).values if "twsa_lsm" in grid else None
        times = pd.DatetimeIndex(grid["time"].values)
        splits = reconstruction_splits(times, np.isfinite(grace).any((1, 2)), recipe.reconstruction)
        return Prepared(data, grace, lsm, times, splits, Scaler.fit(grace[splits.train]))

    def fit_predict(self, recipe, prepared: Prepared, folder: Path, progress: bool):
        p = prepared
        return _train_models(recipe, p.data, p.splits, p.g_scaler, folder, progress)

    def outputs(self, recipe, prepared: Prepared, fitted) -> MethodOutput:
        p, info = prepared, fitted[3]
        learned = list(fitted[0])
        rows, predictions, forecasts, models, intervals = _choose_and_bound(recipe, p, fitted)
        product = {**predictions, **fitted[2]}  # each network's production fill, else scored
        rows += [
            dict(model=models[0] if s.startswith("hidden") else models[1], split=s,
                 scale="grid", metric="coverage95", value=v)
            for s, v in intervals.coverage.items()
        ]  # fmt: skip
        comparison = _comparison(predictions, p.grace, p.data.grid, p.splits)
        table = long_table(rows + comparison_rows(comparison) + _model_rows(info))
        kept = learned + [m for m in dict.fromkeys(models) if m not in learned]
        filled = _filled(p.data, p.grace, product, models, intervals, p.splits, kept)
        result = ReconstructionResult(
            predictions, forecasts, {k: v["parameters"] for k, v in info.items()},
            p.splits, table, comparison, models[0], filled, p.data, models[1],
        )  # fmt: skip
        run_info = {
            "source": p.data.source,
            "fill_model": models[0],
            "hindcast_model": models[1],
            "fill_model_chosen_on": "validation_block"
            if len(p.splits.validation_block) else "train",
            "seconds_per_epoch": {k: round(v["seconds_per_epoch"], 2) for k, v in info.items()},
            "parameters": {k: v["parameters"] for k, v in info.items()},
            "months": {k: int(len(v)) for k, v in p.splits.as_dict().items()},
            "early_stopping_months": int(len(early_stopping(p.splits.train)[1])),
        }  # fmt: skip
        return MethodOutput(table, comparison, {"filled.nc": filled}, run_info, result)

    def report(self, folder: Path, output: MethodOutput) -> None:
        write_reconstruction_report(folder, output.result, output.info)

    def choices(self, recipe, table: pd.DataFrame) -> dict[str, str]:
        role = "validation_block" if (table.split == "validation_block").any() else "train"
        names = list(dict.fromkeys(table.loc[table.split == role, "model"]))
        fill, hindcast = choose_models(table, names, lsm_driven(recipe), recipe.reconstruction,
                                       role)  # fmt: skip
        return {"fill_model": fill, "hindcast_model": hindcast}

    def console(self, result: ReconstructionResult) -> list:
        return console_summary(result)
