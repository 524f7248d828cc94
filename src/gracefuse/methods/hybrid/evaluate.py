"""Scores of the hybrid family: per target, per sample, then the median over samples, per
climate group, and on the twin the region-mean series and the latent stores against truth.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.evaluate.compare import compare_to_baselines, region_mean
from gracefuse.evaluate.metrics import kge, nse, pearson_r, rmse
from gracefuse.evaluate.seasonal import deseasonalize

#: metrics per sample; ``iav_nse`` is the NSE of the interannual variability (each series
#: minus its own mean seasonal cycle over the scored months)
METRICS = ("r", "nse", "kge", "rmse", "iav_nse")
#: how the twin's latent stores are scored against truth
LATENT = {"gw": "gw", "cwd": "cwd"}


def align_twsa(sim: np.ndarray, obs: np.ndarray, own: np.ndarray | None,
               baseline: np.ndarray) -> np.ndarray:  # fmt: skip
    """A simulated storage ``(N, M)`` as an anomaly comparable with ``obs``.

    With ``own`` (the months the sample trained on), shifted so that its mean over those
    observed months equals the observations' (no test month used); without (unseen
    samples), about its own mean over the ``baseline`` months, as the products are.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if own is not None:
            w = own[None] & np.isfinite(obs) & np.isfinite(sim)
            return (
                sim
                - np.nanmean(np.where(w, sim, np.nan), 1, keepdims=True)
                + np.nanmean(np.where(w, obs, np.nan), 1, keepdims=True)
            )
        return sim - np.nanmean(np.where(baseline[None], sim, np.nan), 1, keepdims=True)


def deseasonalised(a: np.ndarray, months: pd.DatetimeIndex) -> np.ndarray:
    """``(N, m)`` minus each row's mean seasonal cycle (:func:`deseasonalize`)."""
    da = xr.DataArray(a, coords={"time": months}, dims=("sample", "time"))
    return deseasonalize(da).transpose("sample", "time").values


def sample_scores(sim: np.ndarray, obs: np.ndarray, months: pd.DatetimeIndex) -> dict:
    """``metric → (N,)`` over the months given (``(N, m)`` arrays, NaN pairs left out)."""
    both = np.isfinite(sim) & np.isfinite(obs)
    s, o = np.where(both, sim, np.nan).T, np.where(both, obs, np.nan).T
    return {
        "r": pearson_r(s, o).values, "nse": nse(s, o).values, "kge": kge(s, o).values,
        "rmse": rmse(s, o).values,
        "iav_nse": nse(deseasonalised(s.T, months).T, deseasonalised(o.T, months).T).values,
    }  # fmt: skip


def _median(v: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def score_rows(model: str, variable: str, split: str, sim: np.ndarray, obs: np.ndarray,
               months: pd.DatetimeIndex, groups: np.ndarray, median_scale: str,
               weights: np.ndarray | None = None) -> list[dict]:  # fmt: skip
    """Long rows: median over samples (``median_scale``), per group (``scale:group``) and,
    with ``weights``, the region-mean series (``region``)."""
    per = sample_scores(sim, obs, months)
    rows = []
    base = {"model": model, "variable": variable, "split": split}
    for metric, v in per.items():
        rows.append({**base, "scale": median_scale, "metric": metric, "value": _median(v)})
        for g in np.unique(groups):
            sel = groups == g
            rows.append({**base, "scale": f"{median_scale}:{g}", "metric": metric,
                         "value": _median(v[sel])})  # fmt: skip
    if weights is not None:
        rs = region_mean(np.where(np.isfinite(obs), sim, np.nan).T, weights)[None]
        ro = region_mean(np.where(np.isfinite(sim), obs, np.nan).T, weights)[None]
        for metric, v in sample_scores(rs, ro, months).items():
            rows.append({**base, "scale": "region", "metric": metric, "value": float(v[0])})
    return rows


def comparison(predictions: dict[str, np.ndarray], obs: np.ndarray, weights: np.ndarray,
               baselines: list[str], split: str, median_scale: str,
               seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Each network's TWS NSE against the best baseline on the scored months, with a
    moving-block bootstrap over months (:func:`compare_to_baselines`); ``(N, m)`` inputs."""
    preds = {k: v.T[:, :, None] for k, v in predictions.items() if np.isfinite(v).any()}
    table = compare_to_baselines(
        preds, obs.T[:, :, None], np.ones((obs.shape[0], 1), bool), weights[:, None],
        np.arange(obs.shape[1]), [b for b in baselines if b in preds], split=split, seed=seed,
    )  # fmt: skip
    table["scale"] = table["scale"].replace({"grid_median": median_scale})
    if median_scale == "basin_median":
        table = table[table["scale"] != "region"]
    return table.reset_index(drop=True)


def latent_robustness(members: list[dict[str, np.ndarray]], months_mask: np.ndarray) -> list:
    """Between-run agreement of the latent stores: for ``gw``, ``cwd`` and ``frac_et_soil``,
    the median over samples of the mean pairwise correlation between runs, and of the
    spread between runs relative to the series' own variability."""
    rows = []
    if len(members) < 2:
        return rows
    for name in ("gw", "cwd", "frac_et_soil"):
        runs = np.stack([m[name][:, months_mask] for m in members])  # (R, N, m)
        rs = [pearson_r(runs[a].T, runs[b].T).values for a in range(len(runs))
              for b in range(a + 1, len(runs))]  # fmt: skip
        spread = runs.std(0).mean(1) / np.maximum(runs.std(2).mean(0), 1e-9)
        rows.append(("between_run_r", name, _median(np.mean(rs, axis=0))))
        rows.append(("spread_ratio", name, _median(spread)))
    return rows


def partition_spearman(monthly: dict[str, np.ndarray], months_mask: np.ndarray) -> list:
    """Spearman correlation of each partition fraction with the soil deficit ``cwd``, per
    sample; the median over samples."""
    c = pd.DataFrame(monthly["cwd"][:, months_mask].T)
    rows = []
    for name in ("frac_fast", "frac_soil", "frac_gw"):
        f = pd.DataFrame(monthly[name][:, months_mask].T)
        rho = f.corrwith(c, method="spearman").to_numpy()
        rows.append(("spearman_cwd", name, _median(rho)))
    return rows
