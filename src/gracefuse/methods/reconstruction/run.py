"""A reconstruction / gap-filling run end to end (``gracefuse fill``, Yu et al. 2021).

Writes ``config.toml``, ``metrics.csv`` (every model and baseline on every role),
``comparison.csv`` (each network against the best baseline, with significance),
``filled.nc`` (GRACE where observed; inside GRACE's record the fill model, outside it the
hindcast model; with 95 % bounds),
figures, ``report.html`` and ``run_info.json``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.config import GraceOnlySource, dump_recipe
from gracefuse.data.grid import cell_area, pad_to_multiple
from gracefuse.data.inputs import check_sources, load_inputs
from gracefuse.errors import ConfigError, InputError
from gracefuse.evaluate.compare import compare_to_baselines, comparison_rows
from gracefuse.evaluate.regions import skill_rows
from gracefuse.io import write_netcdf, write_text
from gracefuse.methods.reconstruction.baselines import (
    BASELINES,
    LSM_BASELINES,
    baseline_predictions,
)
from gracefuse.methods.reconstruction.convlstm import convlstm_all
from gracefuse.methods.reconstruction.image import train_image_model
from gracefuse.methods.reconstruction.intervals import FillIntervals, fill_intervals
from gracefuse.methods.reconstruction.predictors import Scaler, lsm_predictors
from gracefuse.methods.reconstruction.splits import Splits, early_stopping, reconstruction_splits
from gracefuse.runfolder import prepare_run_folder

log = logging.getLogger(__name__)
COLUMNS = ["model", "split", "scale", "metric", "value"]


@dataclass
class ReconData:
    """GRACE (and the LSM with its forcing) on one grid padded for the CNNs; the twin's
    GRACE-like truth as ``reference`` (scores hindcasts, never an input)."""

    grid: xr.Dataset
    reference: np.ndarray | None
    original: xr.Dataset
    source: str


@dataclass
class ReconResult:
    predictions: dict[str, np.ndarray]  # model -> (time, H, W) mm, scored
    forecasts: dict[str, np.ndarray]  # model -> one-month-ahead forecasts (forecast_1m)
    parameters: dict[str, int]
    splits: Splits
    table: pd.DataFrame
    comparison: pd.DataFrame
    fill_model: str
    filled: xr.Dataset
    data: ReconData
    hindcast_model: str = ""


def check_recon_recipe(recipe) -> None:
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


def load_recon_data(recipe, multiple: int = 16) -> ReconData:
    """The inputs of a reconstruction recipe (:func:`load_inputs`), padded for the CNNs."""
    inputs = load_inputs(recipe.data, "grace")
    ds = inputs.observed
    padded = pad_to_multiple(ds, multiple)
    padded["land_mask"] = padded["land_mask"].fillna(False).astype(bool)
    reference = None
    if inputs.reference is not None and "twsa_grace_clean" in inputs.reference:
        ref = pad_to_multiple(inputs.reference["twsa_grace_clean"], multiple)
        reference = ref.where(padded["land_mask"]).values
    return ReconData(padded, reference, ds[["land_mask"]], inputs.source)


def _train_models(recipe, data: ReconData, splits: Splits, g_scaler: Scaler, out, progress):
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


def choose_models(table, predictions, lsm_driven, rc, splits) -> tuple[str, str]:
    """The fill model (gaps inside the training span) and the hindcast model (outside it).

    ``"best"`` (fill model) and ``"best_lsm"`` (hindcast model, among LSM-driven models
    only) are chosen on the validation block (the training months where there is none);
    ``"fill_model"`` hindcasts with the fill model. Without LSM-driven models ``"best_lsm"``
    falls back to the fill model.
    """
    role = "validation_block" if len(splits.validation_block) else "train"
    chosen = []
    for setting, pool in (
        (rc.fill_model, [m for m in predictions if m != "lsm"]),
        (rc.hindcast_model, [m for m in predictions if m in lsm_driven]),
    ):
        if setting == "fill_model" and chosen:
            chosen.append(chosen[0])
        elif setting in ("best", "best_lsm"):
            chosen.append(choose_fill_model(table, pool, role) if pool else chosen[0])
        elif setting in predictions:
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


def run_reconstruction(
    recipe, out_dir, progress: bool = True, figures: bool = True, overwrite: bool = False
) -> ReconResult:
    """Train, evaluate and fill: the whole ``gracefuse fill`` job. Writes the run folder
    (checked first: see :func:`gracefuse.runfolder.prepare_run_folder`)."""
    from gracefuse.report.reconstruction import write_reconstruction_report

    check_recon_recipe(recipe)
    out = prepare_run_folder(out_dir, dump_recipe(recipe), overwrite)
    t0 = time.perf_counter()
    write_text(out / "config.toml", dump_recipe(recipe))
    data = load_recon_data(recipe)
    grid, rc = data.grid, recipe.reconstruction
    grace = grid["twsa_grace"].where(grid["land_mask"]).values
    lsm = grid["twsa_lsm"].where(grid["land_mask"]).values if "twsa_lsm" in grid else None
    times = pd.DatetimeIndex(grid["time"].values)
    splits = reconstruction_splits(times, np.isfinite(grace).any((1, 2)), rc)
    g_scaler = Scaler.fit(grace[splits.train])
    pred, ahead, product, info, lsm_x = _train_models(recipe, data, splits, g_scaler, out, progress)
    learned = list(pred)
    base, base_ahead = baseline_predictions(grace, lsm, lsm_x, times, splits)
    mask = grid["land_mask"].values[None]
    predictions = {**({"lsm": lsm} if lsm is not None else {}), **pred}
    predictions.update({k: np.where(mask, v, np.nan) for k, v in base.items()})
    forecasts = {**ahead, **base_ahead}
    rows = _skill_table(predictions, forecasts, grace, data.reference, splits, grid)
    table = pd.DataFrame(rows + _model_rows(info), columns=COLUMNS)
    lsm_driven = [m.name for m in recipe.models if m.name != "convlstm"] + list(LSM_BASELINES)
    fill_model, hindcast_model = choose_models(table, predictions, lsm_driven, rc, splits)
    product.update({k: v for k, v in predictions.items() if k not in product})
    intervals = combined_intervals(
        *(fill_intervals(predictions[m], grace, splits, data.reference)
          for m in (fill_model, hindcast_model))
    )  # fmt: skip
    rows += [
        dict(model=fill_model if s.startswith("hidden") else hindcast_model, split=s,
             scale="grid", metric="coverage95", value=v)
        for s, v in intervals.coverage.items()
    ]  # fmt: skip
    comparison = _comparison(predictions, grace, grid, splits)
    table = pd.DataFrame(rows + comparison_rows(comparison) + _model_rows(info), columns=COLUMNS)
    write_text(out / "metrics.csv", table.to_csv(index=False, float_format="%.6g"))
    write_text(out / "comparison.csv", comparison.to_csv(index=False, float_format="%.6g"))
    kept = learned + [m for m in dict.fromkeys((fill_model, hindcast_model)) if m not in learned]
    models = (fill_model, hindcast_model)
    filled = _filled(data, grace, product, models, intervals, splits, kept)
    write_netcdf(filled, out / "filled.nc")
    result = ReconResult(
        predictions, forecasts, {k: v["parameters"] for k, v in info.items()},
        splits, table, comparison, fill_model, filled, data, hindcast_model,
    )  # fmt: skip
    run_info = {
        "recipe": recipe.name,
        "source": data.source,
        "fill_model": fill_model,
        "hindcast_model": hindcast_model,
        "fill_model_chosen_on": "validation_block" if len(splits.validation_block) else "train",
        "seconds_per_epoch": {k: round(v["seconds_per_epoch"], 2) for k, v in info.items()},
        "parameters": {k: v["parameters"] for k, v in info.items()},
        "months": {k: int(len(v)) for k, v in splits.as_dict().items()},
        "early_stopping_months": int(len(early_stopping(splits.train)[1])),
    }
    if figures:
        write_reconstruction_report(out, result, run_info)
    run_info["seconds"] = round(time.perf_counter() - t0, 1)
    write_text(out / "run_info.json", json.dumps(run_info, indent=2))
    return result
