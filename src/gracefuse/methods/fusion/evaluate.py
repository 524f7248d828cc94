"""Scores of a fusion run: every network and baseline against GRACE, on every split.

Splits: ``train`` (the paper's training period: every month before the test months),
``validation`` (the months every choice is made on) and ``test``. Scales: ``region`` (the
area-weighted mean series) and ``grid_median`` (median over cells of the per-cell metric).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grid import cell_area, region_mean
from gracefuse.evaluate.compare import compare_to_baselines, comparison_rows
from gracefuse.evaluate.metrics import pearson_r
from gracefuse.evaluate.regions import skill_rows
from gracefuse.evaluate.stats import williams_test
from gracefuse.evaluate.table import long_table
from gracefuse.methods.fusion.baselines import BASELINES
from gracefuse.methods.fusion.samples import FusionSamples
from gracefuse.methods.fusion.train import ModelRun

TABLE_METRICS = ("r", "nse", "rmse", "kge", "kge_anomaly")


def splits_of(samples: FusionSamples) -> dict[str, np.ndarray]:
    """The scored splits and their months."""
    return {"train": samples.fit_months, "validation": samples.val, "test": samples.test}


def _williams_rows(name, split, sim, grace, lsm, mask, idx) -> list[dict]:
    """Williams' test of H0: the corrected TWSA correlates with GRACE no better than the
    LSM does (region series)."""
    a, b, c = (region_mean(v, mask).isel(time=idx) for v in (sim, grace, lsm))
    r12, r13, r23 = (float(pearson_r(*p)) for p in ((a, b), (c, b), (a, c)))
    _, p = williams_test(r12, r13, r23, int((a.notnull() & b.notnull()).sum()))
    return [dict(model=name, split=split, scale="region", metric="williams_p", value=p)]


def _coverage_rows(run: ModelRun, obs: np.ndarray, splits: dict) -> list[dict]:
    """Share of cell-months of GRACE − LSM (= −S) inside each 95 % interval."""
    rows = []
    for split, idx in splits.items():
        if split == "train" or len(idx) == 0:
            continue
        for metric, lo, hi in (
            ("coverage95", run.lower, run.upper),
            ("coverage95_rmse", run.lower_rmse, run.upper_rmse),
        ):
            o = obs[idx]
            valid = np.isfinite(o)
            inside = (o >= lo[idx]) & (o <= hi[idx])
            value = float(inside[valid].mean()) if valid.any() else float("nan")
            rows.append(dict(model=run.name, split=split, scale="grid", metric=metric, value=value))
    return rows


def metrics_table(
    image: xr.Dataset,
    samples: FusionSamples,
    runs: list[ModelRun],
    baselines: dict[str, np.ndarray],
    n_boot: int = 1000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long metrics table and the comparison with the best baseline (test months).

    Returns
    -------
    metrics, comparison
        ``model,variable,split,scale,metric,value`` rows for every network and baseline (skill,
        Williams' p, interval coverage, the NSE gain over the best baseline with its
        block-bootstrap interval and p-value), and the comparison table of
        :func:`gracefuse.evaluate.compare.compare_to_baselines` for validation and test.
    """
    mask = image["land_mask"]
    grace = image["twsa_grace"].where(mask)
    lsm = image["twsa_lsm"].where(mask)
    mismatch = {**baselines, **{r.name: r.mismatch for r in runs}}
    corrected = {
        k: lsm - xr.DataArray(v, coords=lsm.coords, dims=lsm.dims) for k, v in mismatch.items()
    }
    splits = splits_of(samples)
    rows: list[dict] = []
    for name, sim in corrected.items():
        for split, idx in splits.items():
            if len(idx) == 0:
                continue
            rows += skill_rows(
                name, split, sim.isel(time=idx), grace.isel(time=idx), mask, TABLE_METRICS
            )
            if name not in BASELINES:
                rows += _williams_rows(name, split, sim, grace, lsm, mask, idx)
    obs = (grace - lsm).values  # = −S
    for run in runs:
        rows += _coverage_rows(run, obs, splits)
    weights = cell_area(image["lat"].values, image["lon"].values).values
    pred = {k: v.values for k, v in corrected.items()}
    parts = []
    for split in ("validation", "test"):
        idx = splits[split]
        if len(idx) and runs:
            parts.append(
                compare_to_baselines(
                    pred, grace.values, mask.values, weights, idx, BASELINES, split, n_boot
                )
            )
    comparison = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    rows += comparison_rows(comparison)
    return long_table(rows), comparison


#: how the model to use is chosen: its grid-median NSE on validation months. It pools every
#: cell-month; the region NSE of a dozen validation months mostly measures that window's
#: offset. Test months play no part.
SELECTION = ("validation", "grid_median", "nse")


def select_model(metrics: pd.DataFrame, candidates: list[str]) -> str | None:
    """The model a user should take among ``candidates``, by :data:`SELECTION`."""
    split, scale, metric = SELECTION
    val = metrics[
        (metrics.split == split) & (metrics.scale == scale) & (metrics.metric == metric)
    ].set_index("model")["value"]
    scores = {m: val.get(m, np.nan) for m in candidates}
    scores = {m: v for m, v in scores.items() if np.isfinite(v)}
    return max(scores, key=scores.get) if scores else None
