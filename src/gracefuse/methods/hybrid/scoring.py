"""From the split results to ``metrics.csv`` rows, ``comparison.csv`` and
``predictions.nc``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.methods.hybrid.evaluate import (
    align_twsa,
    comparison,
    latent_robustness,
    partition_spearman,
    score_rows,
)
from gracefuse.methods.hybrid.run import BASELINES, SplitResult
from gracefuse.methods.hybrid.series import HybridData

#: the model output scored against each observed variable
OUTPUT_OF = {"twsa": "tws", "et": "et", "q": "q", "swe": "swe"}


def _baseline_mask(data: HybridData, baseline: tuple[str, str]) -> np.ndarray:
    m = data.months
    return np.asarray((m >= pd.Timestamp(baseline[0])) & (m <= pd.Timestamp(baseline[1])))


def split_predictions(split: SplitResult, data: HybridData, baseline) -> dict:
    """``model → variable → (N, M)`` predictions comparable with the observations (TWS
    aligned as :func:`align_twsa` does, for networks and baselines alike)."""
    own = (split.roles.train[1] | split.roles.validation[1]) if split.own_history else None
    base = _baseline_mask(data, baseline)
    obs = data.targets["twsa"]
    preds: dict[str, dict[str, np.ndarray]] = {}
    for name, tr in split.models.items():
        preds[name] = {v: tr.monthly[k] for v, k in OUTPUT_OF.items() if k in tr.monthly}
        for v in ("gw", "cwd"):
            if v in tr.monthly:
                preds[name][v] = tr.monthly[v]
    for name, by_var in split.baselines.items():
        preds[name] = dict(by_var)
    for p in preds.values():
        if "twsa" in p:
            p["twsa"] = align_twsa(p["twsa"], obs, own, base)
    return preds


def split_rows(split: SplitResult, data: HybridData, preds: dict) -> list[dict]:
    """Metric rows of every model and baseline on one split, every variable."""
    scored = split.roles.score_months
    months = data.months[scored]
    grid = data.grid is not None
    median_scale = "grid_median" if grid else "basin_median"
    weights = data.area if grid else None
    rows = []
    for model, by_var in preds.items():
        for var, sim in by_var.items():
            if var in ("gw", "cwd"):
                if var not in data.truth:
                    continue
                obs = data.truth[var]
            elif var in data.targets:
                obs = data.targets[var]
            else:
                continue
            s, o = sim[:, scored], obs[:, scored]
            if not (np.isfinite(s) & np.isfinite(o)).any():
                continue
            if var in ("gw", "cwd"):
                rows += [r for r in score_rows(model, var, split.name, s, o, months, data.region,
                                               median_scale, weights) if r["metric"] == "r"]  # fmt: skip
            else:
                rows += score_rows(model, var, split.name, s, o, months, data.region,
                                   median_scale, weights)  # fmt: skip
    return rows


def robustness_rows(splits: list[SplitResult], data: HybridData) -> list[dict]:
    """Latent stores across runs (ensemble members and the spatial-fold model) and the
    partition fractions against the soil deficit, for the hybrid."""
    first = splits[0]
    if "hybrid" not in first.models:
        return []
    months = first.roles.train[1] | first.roles.validation[1] | first.roles.score_months
    runs = list(first.models["hybrid"].members)
    for s in splits[1:]:
        if "hybrid" in s.models:
            runs.append(s.models["hybrid"].monthly)
    scale = "grid_median" if data.grid is not None else "basin_median"
    rows = [dict(model="hybrid", variable=v, split="runs", scale=scale, metric=m, value=x)
            for m, v, x in latent_robustness(runs, months)]  # fmt: skip
    rows += [dict(model="hybrid", variable=v, split=first.name, scale=scale, metric=m, value=x)
             for m, v, x in partition_spearman(first.models["hybrid"].monthly, months)]  # fmt: skip
    return rows


def comparison_table(splits: list[SplitResult], data: HybridData, all_preds: list[dict],
                     seed: int) -> pd.DataFrame:  # fmt: skip
    """TWS NSE of each network against the best baseline, per split."""
    parts = []
    median_scale = "grid_median" if data.grid is not None else "basin_median"
    for split, preds in zip(splits, all_preds, strict=True):
        scored = split.roles.score_months
        twsa = {k: v["twsa"][:, scored] for k, v in preds.items() if "twsa" in v}
        obs = data.targets["twsa"][:, scored]
        parts.append(comparison(twsa, obs, data.area, list(BASELINES), split.name,
                                median_scale, seed))  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def predictions_dataset(splits: list[SplitResult], data: HybridData,
                        all_preds: list[dict]) -> xr.Dataset:  # fmt: skip
    """``predictions.nc``: observations, every store and flux of every network on each
    split (``<output>_<model>_<split>``), the baselines' TWS, and the twin's truth."""
    coords = {"sample": data.ids, "time": data.months}
    ds = xr.Dataset(coords=coords)
    ds = ds.assign_coords(region=("sample", data.region.astype(str)))
    if np.isfinite(data.lat).all():
        ds = ds.assign_coords(lat=("sample", data.lat), lon=("sample", data.lon))
    for v, a in data.targets.items():
        ds[f"{v}_observed"] = (("sample", "time"), a)
    for v, a in data.truth.items():
        ds[f"{v}_true"] = (("sample", "time"), a)
    for split, preds in zip(splits, all_preds, strict=True):
        for name, tr in split.models.items():
            for out, a in tr.monthly.items():
                key = "twsa" if out == "tws" else out
                value = preds[name]["twsa"] if out == "tws" else a
                ds[f"{key}_{name}_{split.name}"] = (("sample", "time"), value.astype(np.float32))
        for name in split.baselines:
            ds[f"twsa_{name}_{split.name}"] = (("sample", "time"), preds[name]["twsa"])
    for k in ds.data_vars:
        first = str(k).split("_")[0]
        ds[k].attrs["units"] = {"et": "mm/month", "q": "mm/month", "liquid": "mm/month",
                                "frac": "1", "baseflow": "1"}.get(first, "mm")  # fmt: skip
    ds.attrs = {"title": "gracefuse hybrid (Kraft et al. 2020) predictions",
                "source": data.source, "Conventions": "CF-1.8"}  # fmt: skip
    return ds
