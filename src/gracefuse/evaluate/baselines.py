"""Baselines every learned model must beat, fitted on training months only.

Each takes ``(time, H, W)`` grids in mm (NaN where missing) and returns a prediction for
every month:

- :func:`cell_ridge`: per-cell ridge regression of a target on exactly the predictors a
  network sees, with one penalty for all cells chosen on validation months;
- :func:`lsm_regression`: the LSM scaled to GRACE per cell (``a + b·LSM + c·t``);
- :func:`climatology_trend`: per-cell mean, trend and seasonal cycle of GRACE;
- :func:`linear_interp` and :func:`persistence`: from neighbouring GRACE months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def _harmonics(t: np.ndarray) -> np.ndarray:
    """Design matrix: intercept, trend (years), annual and semi-annual harmonics."""
    w = 2 * np.pi * t
    return np.stack([np.ones_like(t), t, np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)], 1)


def _decimal_years(times: pd.DatetimeIndex) -> np.ndarray:
    return (times.year + (times.month - 0.5) / 12.0 - 2000.0).to_numpy(dtype=float)


def climatology_trend(
    grace: np.ndarray, times: pd.DatetimeIndex, fit_idx: np.ndarray, trend: bool = True
) -> np.ndarray:
    """Per-cell least squares of mean + trend + annual + semi-annual cycle, for every month.

    Parameters
    ----------
    grace
        ``(time, H, W)``; NaN where missing.
    fit_idx
        Months to fit on.
    trend
        Include the linear trend; without it, the seasonal climatology alone.
    """
    t = _decimal_years(times)
    columns = slice(None) if trend else [0, 2, 3, 4, 5]
    a = _harmonics(t[fit_idx])[:, columns]
    y = grace[fit_idx].reshape(len(fit_idx), -1)
    out = np.full((len(times), y.shape[1]), np.nan)
    ok_cells = np.isfinite(y).sum(0) >= a.shape[1] + 2
    full = _harmonics(t)[:, columns]
    for c in np.flatnonzero(ok_cells):
        m = np.isfinite(y[:, c])
        coef, *_ = np.linalg.lstsq(a[m], y[m, c], rcond=None)
        out[:, c] = full @ coef
    return out.reshape(grace.shape)


def lsm_regression(
    grace: np.ndarray, lsm: np.ndarray, times: pd.DatetimeIndex, fit_idx: np.ndarray
) -> np.ndarray:
    """The LSM scaled to GRACE per cell: ``GRACE ≈ a + b·LSM + c·t`` fitted on ``fit_idx``."""
    t = _decimal_years(times)
    g = grace[fit_idx].reshape(len(fit_idx), -1)
    lv = lsm.reshape(len(times), -1)
    out = np.full(lv.shape, np.nan)
    for c in range(g.shape[1]):
        m = np.isfinite(g[:, c]) & np.isfinite(lv[fit_idx, c])
        if m.sum() < 6:
            continue
        a = np.stack([np.ones(m.sum()), lv[fit_idx, c][m], t[fit_idx][m]], 1)
        coef, *_ = np.linalg.lstsq(a, g[m, c], rcond=None)
        full = np.stack([np.ones(len(t)), lv[:, c], t], 1)
        out[:, c] = full @ coef
    return out.reshape(lsm.shape)


def linear_interp(grace: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Per-cell linear interpolation in time between the nearest available months.

    Months outside the first..last available month take the nearest available value.
    """
    t = np.arange(grace.shape[0], dtype=float)
    flat = grace.reshape(len(t), -1)
    out = np.full(flat.shape, np.nan)
    av = np.flatnonzero(available)
    for c in range(flat.shape[1]):
        m = av[np.isfinite(flat[av, c])]
        if m.size >= 2:
            out[:, c] = np.interp(t, t[m], flat[m, c])
    return out.reshape(grace.shape)


def persistence(grace: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Each month takes the last available month before it (one-month-ahead: last month)."""
    out = np.full(grace.shape, np.nan)
    last = None
    for k in range(grace.shape[0]):
        if last is not None:
            out[k] = grace[last]
        if available[k]:
            last = k
    return out


@dataclass
class RidgeFit:
    """A fitted :func:`cell_ridge`: its predictions and the penalty it chose."""

    prediction: np.ndarray  # (time, H, W)
    alpha: float
    validation_mse: dict[float, float]


def _standardise(x: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """``(time, features, cells)`` z-scored per cell and feature on the months ``fit``."""
    mu = x[fit].mean(axis=0, keepdims=True)
    sd = x[fit].std(axis=0, keepdims=True)
    return (x - mu) / np.where(sd > 0, sd, 1.0)


def cell_ridge(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    validation: np.ndarray,
    alphas: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
    min_months: int = 12,
) -> RidgeFit:
    """Per-cell ridge regression of ``y`` on the features ``x`` at the same cell.

    Features are z-scored per cell on the training months, the intercept is not
    penalised, and the penalty (relative to the number of training months) is the one of
    ``alphas`` with the lowest mean squared error on the ``validation`` months, pooled
    over cells. The fit uses training months only.

    Parameters
    ----------
    x
        ``(time, features, H, W)`` predictors (e.g. the scaled inputs of a network).
    y
        ``(time, H, W)`` target, NaN where unobserved.
    train, validation
        Month indices to fit on and to choose the penalty on.
    min_months
        Cells with fewer finite training targets are left NaN.

    Returns
    -------
    RidgeFit
        ``prediction`` ``(time, H, W)`` for every month (NaN where the cell has no fit).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(80, 2, 3, 3)); y = 2 * x[:, 0] - x[:, 1] + 5
    >>> fit = cell_ridge(x, y, np.arange(60), np.arange(60, 80), alphas=(1e-6,))
    >>> bool(np.allclose(fit.prediction, y, atol=1e-3))
    True
    """
    nt, nf = x.shape[:2]
    cells = int(np.prod(y.shape[1:]))
    xs = _standardise(x.reshape(nt, nf, cells).astype(float), train)
    yv = y.reshape(nt, cells).astype(float)
    ok = np.isfinite(yv[train]).all(axis=0) & np.isfinite(xs[train]).all(axis=(0, 1))
    ok &= np.isfinite(yv[train]).sum(axis=0) >= min_months
    a = np.transpose(xs[train][:, :, ok], (2, 0, 1))  # (cells, months, features)
    b = yv[train][:, ok].T  # (cells, months)
    b_mean = b.mean(axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(a - a.mean(axis=1, keepdims=True), full_matrices=False)
    uty = np.einsum("cmk,cm->ck", u, b - b_mean)
    x_all = np.transpose(xs[:, :, ok], (2, 0, 1)) - a.mean(axis=1, keepdims=True)
    preds, scores = {}, {}
    for alpha in alphas:
        lam = alpha * len(train)
        coef = np.einsum("ckf,ck->cf", vt, uty * s / (s**2 + lam))
        pred = np.einsum("ctf,cf->ct", x_all, coef) + b_mean
        preds[alpha] = pred
        err = pred[:, validation] - yv[validation][:, ok].T
        scores[alpha] = float(np.nanmean(err**2)) if len(validation) else float(alpha)
    best = min(scores, key=scores.get)
    out = np.full((nt, cells), np.nan)
    out[:, ok] = preds[best].T
    return RidgeFit(out.reshape(y.shape), best, scores)


def cell_ridge_crossfit(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, validation: np.ndarray, folds: int = 5
) -> RidgeFit:
    """:func:`cell_ridge` whose predictions on the training months are out-of-fold.

    The penalty is chosen once, on ``validation``; then each of ``folds`` contiguous
    blocks of training months is predicted by a ridge fitted on the other blocks, and
    every other month by the ridge fitted on all training months. The errors on training
    months are then as large as those on new months, which is what a model that learns
    the ridge's residual must see.
    """
    full = cell_ridge(x, y, train, validation)
    pred = full.prediction.copy()
    for block in np.array_split(train, folds):
        rest = np.setdiff1d(train, block)
        pred[block] = cell_ridge(x, y, rest, validation, alphas=(full.alpha,)).prediction[block]
    return RidgeFit(pred, full.alpha, full.validation_mse)
