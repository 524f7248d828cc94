"""Intervals and scores of the downscalers.

Every method's 95 % interval is ``prediction ± q·s`` with ``s = sqrt(σ_c² + (f − f_nn)²)``
(the coarse field's error, and how far the method moved away from the coarse value) and
``q`` the split-conformal quantile of ``|error| / s`` over the fine cells of the
validation months (:func:`gracefuse.evaluate.intervals.calibrated_halfwidth`). Test
months never touch it. Scores are pooled over every fine land cell of the test months
(scale ``fine_grid``), with the mass correction's size at ``coarse_grid``.
"""

from __future__ import annotations

import numpy as np

from gracefuse.evaluate.intervals import calibrated_halfwidth
from gracefuse.methods.downscaling.problem import DownscalingProblem, upsample


def interval_scale(problem: DownscalingProblem, fine: np.ndarray) -> np.ndarray:
    """``(T, Y, X)`` the scale ``s`` of a method's interval (mm)."""
    moved = fine - upsample(problem.coarse, problem.factor)
    return np.sqrt(problem.coarse_sigma**2 + np.nan_to_num(moved) ** 2)


def halfwidth(problem: DownscalingProblem, fine: np.ndarray, alpha: float) -> np.ndarray:
    """``(T, Y, X)`` half-widths of the ``1 − alpha`` interval, calibrated on the validation
    months' fine truth (normal quantile when there is none)."""
    scale = interval_scale(problem, fine)
    cal = problem.months_of("validation")
    if problem.truth is None:
        return calibrated_halfwidth(np.array([]), np.array([]), scale, alpha)
    errors = fine[cal] - problem.truth[cal]
    return calibrated_halfwidth(errors, scale[cal], scale, alpha)


def pooled_scores(pred: np.ndarray, truth: np.ndarray, half: np.ndarray | None) -> dict:
    """``mae``, ``rmse``, ``r2`` (1 − SSE/SST, pooled) and ``coverage95`` over finite pairs."""
    ok = np.isfinite(pred) & np.isfinite(truth)
    p, o = pred[ok], truth[ok]
    out = {
        "mae": float(np.mean(np.abs(p - o))),
        "rmse": float(np.sqrt(np.mean((p - o) ** 2))),
        "r2": float(1 - np.sum((p - o) ** 2) / np.sum((o - o.mean()) ** 2)),
    }
    if half is not None:
        h = np.broadcast_to(half, pred.shape)[ok]
        out["coverage95"] = float(np.mean(np.abs(p - o) <= h))
        out["width95"] = float(np.mean(2 * h))
    return out


def reliability(pred: np.ndarray, truth: np.ndarray, scale: np.ndarray, q95: float,
                levels=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95)) -> list[tuple[float, float]]:  # fmt: skip
    """Observed coverage at each nominal level, with Gaussian-shaped intervals sized so that
    the 95 % one is the calibrated one (``q95·scale``)."""
    from statistics import NormalDist

    ok = np.isfinite(pred) & np.isfinite(truth)
    z = np.abs(pred - truth)[ok] / (q95 * scale[ok] / 1.959964)
    return [(lv, float(np.mean(z <= NormalDist().inv_cdf(0.5 + lv / 2)))) for lv in levels]


def metric_rows(problem: DownscalingProblem, fields: dict[str, dict]) -> list[dict]:
    """Long rows for every method: test scores on the fine grid, the mass correction."""
    rows = []
    test = problem.months_of("test")
    for model, f in fields.items():
        base = {"model": model, "variable": "gwsa"}
        if problem.truth is not None:
            scores = pooled_scores(f["gwsa"][test], problem.truth[test], f["half"][test])
            rows += [{**base, "split": "test", "scale": "fine_grid", "metric": k, "value": v}
                     for k, v in scores.items()]  # fmt: skip
        corr = f.get("correction")
        if corr is not None:
            size = float(np.nanmean(np.abs(np.where(problem.land, corr, np.nan)[test])))
            rows.append({**base, "split": "test", "scale": "coarse_grid",
                         "metric": "mass_correction", "value": size})  # fmt: skip
        rows.append({**base, "split": "test", "scale": "coarse_grid", "metric": "mass_error",
                     "value": f["mass_error"]})  # fmt: skip
    return rows
