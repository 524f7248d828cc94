"""Baselines of the hybrid family, on the same splits as the networks.

- ``climatology``: each sample's mean per calendar month over its training months.
- ``cumulative_wb``: the cumulative sum of ``P − ET − R`` (the forcing's, or the observed
  ET and runoff where the forcing has none) after removing its long-term mean (the drift
  of a budget that does not close).
- ``basin_ridge``: per sample, a ridge regression on exponential memories (1–48 months)
  of the water-balance drivers, annual and semi-annual harmonics and a trend; its penalty
  chosen on the validation months.
- ``pooled_gbm``: one gradient-boosting model over every training sample and month, on the
  same memories, the calendar month, the 12-month mean precipitation and the statics; it
  predicts unseen samples.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from gracefuse.datasets.features import exponential_memory, trailing_mean
from gracefuse.methods.hybrid.series import HybridData

#: e-folding times (months) of the memories
MEMORIES = (1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0)
#: ridge penalties tried on the validation months
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
#: baselines that need the sample's own training months (not defined on unseen samples)
NEEDS_OWN_HISTORY = ("climatology", "basin_ridge")


def monthly_drivers(data: HybridData) -> dict[str, np.ndarray]:
    """``(N, M)`` monthly drivers of storage: ``net`` = P − ET − R when the forcing has ET
    and R, else each forcing variable but radiation."""
    f = {n: _monthly(data, data.forcing[..., i], "sum" if n.split("_")[0] in ("P", "ET", "R")
                     else "mean") for i, n in enumerate(data.forcing_names)}  # fmt: skip
    et = next((v for k, v in f.items() if k.startswith("ET")), None)
    r = next((v for k, v in f.items() if k.startswith("R_")), None)
    if et is not None and r is not None:
        return {"net": f["P"] - et - r}
    return {k: v for k, v in f.items() if k != "SW"}


def _monthly(data: HybridData, a: np.ndarray, how: str = "sum") -> np.ndarray:
    """``(N, T)`` steps → ``(N, M)`` monthly sums (fluxes) or means."""
    if len(data.steps) == len(data.months):
        return np.asarray(a, float)
    out = np.zeros((a.shape[0], len(data.months)))
    np.add.at(out.T, data.step_month, np.asarray(a, float).T)
    counts = np.bincount(data.step_month, minlength=len(data.months))
    return out / counts if how == "mean" else out


def climatology(obs: np.ndarray, months, fit: np.ndarray) -> np.ndarray:
    """``(N, M)``: each sample's mean per calendar month over the months ``fit``."""
    cal = np.asarray(months.month) - 1
    out = np.full(obs.shape, np.nan)
    for c in range(12):
        sel = fit & (cal == c)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(sel[None], obs, np.nan), axis=1) if sel.any() else np.nan
        out[:, cal == c] = np.asarray(mean)[:, None] if np.ndim(mean) else mean
    return out


def cumulative_wb(data: HybridData) -> np.ndarray:
    """``(N, M)`` cumulative drift-corrected ``P − ET − R`` (mm)."""
    d = monthly_drivers(data)
    if "net" in d:
        net = d["net"]
    else:
        net = _monthly(data, data.precip) - data.targets.get("et", 0.0) - data.targets.get("q", 0.0)
    net = net - np.nanmean(net, axis=1, keepdims=True)
    return np.cumsum(np.nan_to_num(net), axis=1)


def memory_features(data: HybridData) -> np.ndarray:
    """``(N, M, K)``: exponential memories of each driver's anomaly, harmonics, trend."""
    feats = []
    for a in monthly_drivers(data).values():
        anom = a - np.nanmean(a, axis=1, keepdims=True)
        feats += [exponential_memory(anom.T, tau).T for tau in MEMORIES]
    t = np.asarray(data.months.year) + (np.asarray(data.months.month) - 0.5) / 12 - 2000.0
    w = 2 * np.pi * t
    for h in (np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w), t / 10.0):
        feats.append(np.broadcast_to(h, (data.n, len(t))))
    return np.stack(feats, axis=2)


def basin_ridge(obs: np.ndarray, feats: np.ndarray, fit: np.ndarray, val: np.ndarray):
    """``(N, M)`` per-sample ridge predictions; the penalty is chosen per sample on ``val``
    (fitted on ``fit``), then the model refitted on ``fit | val``."""
    out = np.full(obs.shape, np.nan)
    for i in range(obs.shape[0]):
        ok = np.isfinite(obs[i])
        a, b = ok & fit, ok & val
        if a.sum() < 12:
            continue
        x = feats[i]
        mu, sd = x[a].mean(0), x[a].std(0) + 1e-9
        z = (x - mu) / sd
        best = ALPHAS[0]
        if b.any():
            errs = [np.mean((Ridge(alpha=al).fit(z[a], obs[i, a]).predict(z[b]) - obs[i, b]) ** 2)
                    for al in ALPHAS]  # fmt: skip
            best = ALPHAS[int(np.argmin(errs))]
        out[i] = Ridge(alpha=best).fit(z[a | b], obs[i, a | b]).predict(z)
    return out


def _gbm_features(data: HybridData, feats: np.ndarray) -> np.ndarray:
    p12 = trailing_mean(_monthly(data, data.precip).T, 12).T
    cal = np.asarray(data.months.month, float)
    stat = np.broadcast_to(data.statics[:, None, :], (data.n, len(cal), data.statics.shape[1]))
    parts = [feats, p12[..., None], np.broadcast_to(cal, (data.n, len(cal)))[..., None], stat]
    return np.concatenate(parts, axis=2)


def pooled_gbm(obs: np.ndarray, data: HybridData, feats: np.ndarray, train: np.ndarray,
               months: np.ndarray, predict: np.ndarray, seed: int = 0) -> np.ndarray:  # fmt: skip
    """``(len(predict), M)``: a gradient-boosting model fitted on the samples ``train`` over
    the months ``months`` (pooled), predicting the samples ``predict`` over every month."""
    x = _gbm_features(data, feats)
    xt, yt = x[train][:, months], obs[train][:, months]
    ok = np.isfinite(yt)
    model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=seed)
    model.fit(xt[ok], yt[ok])
    xp = x[predict]
    return model.predict(xp.reshape(-1, xp.shape[2])).reshape(len(predict), -1)
