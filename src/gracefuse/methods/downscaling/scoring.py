"""Intervals and scores of the downscalers.

Every method's 95 % interval is ``prediction ± q·s`` with ``s = sqrt(σ_c² + (f − f_nn)²)``
(the coarse field's error, and how far the method moved away from the coarse value) and
``q`` the split-conformal quantile of ``|error| / s`` over the fine cells of the
validation months (:func:`gracefuse.evaluate.intervals.calibrated_halfwidth`). Test
months never touch it. A fine field drifts from the truth as the months leave the fine
reference behind, so ``s`` can grow with the lead ``L`` (months after the last training
month) as ``sqrt(1 + β·log(1 + L))``, β fitted on the validation months
(:func:`lead_growth`). Scores are pooled over every fine land cell of the test months
(scale ``fine_grid``), with the mass correction's size at ``coarse_grid``.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from gracefuse.evaluate.intervals import calibrated_halfwidth
from gracefuse.evaluate.metrics import mae, nse, rmse
from gracefuse.evaluate.significance import bootstrap_gain
from gracefuse.methods.downscaling.problem import DownscalingProblem, upsample


def interval_scale(problem: DownscalingProblem, fine: np.ndarray) -> np.ndarray:
    """``(T, Y, X)`` the scale ``s`` of a method's interval (mm)."""
    moved = fine - upsample(problem.coarse, problem.factor)
    return np.sqrt(problem.coarse_sigma**2 + np.nan_to_num(moved) ** 2)


LEAD_FORMS = {"log": np.log1p, "sqrt": np.sqrt, "linear": lambda lead: lead}


def lead_months(split: np.ndarray) -> np.ndarray:
    """``(T,)`` the lead ``L``: months after the last training month (0 up to it), from
    each month's split label (months in order, consecutive)."""
    after = np.asarray(split) != "train"
    return (np.cumsum(after) * after).astype(float)


def lead_growth(problem: DownscalingProblem, fine: np.ndarray, scale: np.ndarray,
                form: str = "log") -> np.ndarray:  # fmt: skip
    """``(T,)`` factor ``sqrt(1 + β·g(L))`` by which a method's interval scale grows
    with the lead ``L`` (months after the last training month; 0 up to it), ``g`` one of
    :data:`LEAD_FORMS` (default ``log(1 + L)``).

    ``β = b / a`` from the least-squares fit ``z² = a + b·g(L)`` of the scaled
    validation errors ``z = (f − truth) / s``; 0 when the fit gives no growth, and 1
    everywhere when there is no fine truth. The log form was chosen over linear and
    square-root growth on the test months of development worlds 0 and 1
    (``benchmarks/intervals_ibrahim.py``).
    """
    lead = lead_months(problem.split)
    return np.sqrt(1 + lead_beta(problem, fine, scale, form) * LEAD_FORMS[form](lead))


def lead_beta(problem: DownscalingProblem, fine: np.ndarray, scale: np.ndarray,
              form: str = "log") -> float:  # fmt: skip
    """``β`` of :func:`lead_growth` (0 without a fine truth or a growth to fit)."""
    g = LEAD_FORMS[form]
    lead = lead_months(problem.split)
    if problem.truth is None:
        return 0.0
    cal = problem.months_of("validation")
    z2 = ((fine[cal] - problem.truth[cal]) / scale[cal]) ** 2
    x = np.broadcast_to(g(lead[cal])[:, None, None], z2.shape)
    ok = np.isfinite(z2) & (scale[cal] > 0)
    if ok.sum() < 3:
        return 0.0
    a, b = np.linalg.lstsq(np.stack([np.ones(ok.sum()), x[ok]], 1), z2[ok], rcond=None)[0]
    return float(b / a) if a > 0 and b > 0 else 0.0


def interval_quantile(problem: DownscalingProblem, fine: np.ndarray, alpha: float,
                      scale: np.ndarray | None = None) -> float:  # fmt: skip
    """``q``: the half-width of the ``1 − alpha`` interval in units of ``scale`` (default
    :func:`interval_scale`), calibrated on the validation months' fine truth (the normal
    quantile when there is none)."""
    one = np.array(1.0)
    if problem.truth is None:
        return float(calibrated_halfwidth(np.array([]), np.array([]), one, alpha))
    cal = problem.months_of("validation")
    errors = fine[cal] - problem.truth[cal]
    scale = interval_scale(problem, fine) if scale is None else scale
    return float(calibrated_halfwidth(errors, scale[cal], one, alpha))


def pooled_scores(pred: np.ndarray, truth: np.ndarray, half: np.ndarray | None) -> dict:
    """``mae``, ``rmse``, ``r2`` (1 − SSE/SST pooled: the NSE of all pairs) and
    ``coverage95`` over finite pairs."""
    ok = np.isfinite(pred) & np.isfinite(truth)
    p, o = pred[ok], truth[ok]
    out = {"mae": float(mae(p, o)), "rmse": float(rmse(p, o)), "r2": float(nse(p, o))}
    if half is not None:
        h = np.broadcast_to(half, pred.shape)[ok]
        out["coverage95"] = float(np.mean(np.abs(p - o) <= h))
        out["width95"] = float(np.mean(2 * h))
    return out


def reliability(pred: np.ndarray, truth: np.ndarray, scale: np.ndarray, q95: float,
                levels=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95)) -> list[tuple[float, float]]:  # fmt: skip
    """Observed coverage at each nominal level, with Gaussian-shaped intervals sized so that
    the 95 % one is the calibrated one (``q95·scale``)."""
    ok = np.isfinite(pred) & np.isfinite(truth)
    z = np.abs(pred - truth)[ok] / (q95 * scale[ok] / 1.959964)
    return [(lv, float(np.mean(z <= NormalDist().inv_cdf(0.5 + lv / 2)))) for lv in levels]


def metric_rows(problem: DownscalingProblem, fields: dict[str, dict]) -> list[dict]:
    """Long rows for every method: test scores on the fine grid, the mass correction, and
    the validation months' fine-grid scores (the rows a model is chosen on; no coverage:
    the intervals are calibrated on those months)."""
    rows = []
    test, val = problem.months_of("test"), problem.months_of("validation")
    for model, f in fields.items():
        base = {"model": model, "variable": "gwsa"}
        if problem.truth is not None and val.any():
            scores = pooled_scores(f["gwsa"][val], problem.truth[val], None)
            rows += [{**base, "split": "validation", "scale": "fine_grid", "metric": k,
                      "value": v} for k, v in scores.items()]  # fmt: skip
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


def monthly_mae(problem: DownscalingProblem, fine: np.ndarray) -> np.ndarray:
    """``(T_test,)`` MAE over the fine land cells of each test month (mm)."""
    test = problem.months_of("test")
    err = np.abs(fine[test] - problem.truth[test])
    return np.nanmean(err.reshape(err.shape[0], -1), axis=1)


def mae_comparison(problem: DownscalingProblem, fields: dict[str, dict],
                    networks: list[str], baselines: tuple[str, ...], seed: int = 0) -> list:  # fmt: skip
    """Each network's MAE against the best baseline's on the test months: the gain
    (baseline MAE − network MAE, mm) with a moving-block bootstrap over months, so that
    the months' autocorrelation is accounted for (:func:`bootstrap_gain`)."""
    if problem.truth is None:
        return []
    per = {m: monthly_mae(problem, f["gwsa"]) for m, f in fields.items()}
    best = min((b for b in baselines if b in per), key=lambda b: per[b].mean())
    rows = []
    for net in (n for n in networks if n in per):
        a, b = per[net], per[best]
        t = bootstrap_gain(lambda i, a=a, b=b: float(b[i].mean() - a[i].mean()), b - a,
                           seed=seed)  # fmt: skip
        rows.append({"model": net, "split": "test", "scale": "fine_grid", "metric": "mae",
                     "value": float(a.mean()), "baseline": best,
                     "baseline_value": float(b.mean()), "gain": t.gain, "ci_low": t.ci_low,
                     "ci_high": t.ci_high, "p_value": t.p_value, "block": t.block,
                     "n_eff": t.n_eff, "beats": t.gain > 0,
                     "significant": bool(t.ci_low > 0)})  # fmt: skip
    return rows
