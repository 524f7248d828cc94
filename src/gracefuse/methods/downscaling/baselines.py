"""The baselines every downscaler must beat: nearest neighbour, bilinear interpolation and
a regression-kriging-style random forest (trained on coarse cells with their averaged
covariates, applied to the fine ones, its coarse residual spread back)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from gracefuse.methods.downscaling.conservation import bilinear
from gracefuse.methods.downscaling.problem import DownscalingProblem, upsample


def nearest(problem: DownscalingProblem) -> np.ndarray:
    """Each fine cell takes its coarse cell's value."""
    return np.where(problem.land, upsample(problem.coarse, problem.factor), np.nan)


def bilinear_field(problem: DownscalingProblem) -> np.ndarray:
    """The coarse field interpolated bilinearly to the fine cells."""
    return np.where(problem.land, bilinear(problem.coarse, problem.factor), np.nan)


def coarse_samples(problem: DownscalingProblem, splits: tuple[str, ...] = ("train",)):
    """``(x, y, (t, i, j))`` of the coarse cells with a coarse value in ``splits`` months:
    predictors averaged over each cell's land, the coarse GWSA, and where each sample is."""
    xc = problem.coarse_features()
    keep = np.isin(problem.split, splits)[:, None, None] & np.isfinite(problem.coarse)
    keep &= np.isfinite(xc).all(-1)
    t, i, j = np.nonzero(keep)
    return xc[t, i, j], problem.coarse[t, i, j], (t, i, j)


def random_forest(problem: DownscalingProblem, trees: int = 100, max_samples: int = 20000,
                  seed: int = 0) -> tuple[np.ndarray, RandomForestRegressor]:  # fmt: skip
    """A random forest of the coarse GWSA on the averaged covariates (training months),
    applied to every fine cell and month (before the coarse residual is spread back).

    Returns the ``(T, Y, X)`` fine prediction and the fitted forest (for SHAP)."""
    x, y, _ = coarse_samples(problem)
    rng = np.random.default_rng(seed)
    if len(y) > max_samples:
        pick = rng.choice(len(y), max_samples, replace=False)
        x, y = x[pick], y[pick]
    forest = RandomForestRegressor(n_estimators=trees, min_samples_leaf=3, max_features=0.5,
                                   n_jobs=-1, random_state=seed).fit(x, y)  # fmt: skip
    forest.set_params(n_jobs=1)  # threads would sum the trees in a varying order
    return predict_fine(problem, lambda x, *where: forest.predict(x)), forest


def predict_fine(problem: DownscalingProblem, predict, chunk: int = 200_000) -> np.ndarray:
    """``(T, Y, X)``: ``predict(x, t, i, j) → (n,)`` over every fine land cell and month, in
    chunks; ``x`` ``(n, P)`` the cells' predictors, ``t, i, j`` where they are."""
    f = problem.features
    out = np.full(f.shape[:3], np.nan, dtype=np.float64)
    t, i, j = np.nonzero(np.broadcast_to(problem.land, f.shape[:3]))
    for a in range(0, len(t), chunk):
        s = slice(a, a + chunk)
        out[t[s], i[s], j[s]] = predict(f[t[s], i[s], j[s]], t[s], i[s], j[s])
    return out


def cell_regression(problem: DownscalingProblem, ridge: float = 1.0) -> np.ndarray:
    """Per fine cell, a ridge regression of the fine reference on the cell's predictors
    and its coarse cell's value over the training months (the per-cell linear baseline of
    the patch-trained networks, which see the same reference), applied to every month.

    Predictors are standardised over all cells; ``ridge`` is in those units."""
    x = np.concatenate([problem.features, upsample(problem.coarse, problem.factor)[..., None]],
                       -1)[:, problem.land]  # fmt: skip
    ok = np.isfinite(x).all(-1)
    mean, std = x[ok].mean(0), x[ok].std(0) + 1e-6
    x = np.concatenate([np.ones((*x.shape[:2], 1)), np.nan_to_num((x - mean) / std)], -1)
    y = problem.reference[:, problem.land]
    fit_rows = problem.months_of("train")[:, None] & np.isfinite(y) & ok
    xt = np.where(fit_rows[..., None], x, 0.0)
    a = np.einsum("tcp,tcq->cpq", xt, xt) + ridge * np.eye(x.shape[-1])
    b = np.einsum("tcp,tc->cp", xt, np.where(fit_rows, y, 0.0))
    beta = np.linalg.solve(a, b[..., None])[..., 0]
    out = np.full(problem.features.shape[:3], np.nan)
    out[:, problem.land] = np.where(ok, np.einsum("tcp,cp->tc", x, beta), np.nan)
    return out
