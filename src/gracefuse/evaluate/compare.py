"""Does a model beat the best baseline? By how much, and how sure can we be?

:func:`compare_to_baselines` scores every model and baseline on the same months, picks
the best baseline on those months (per scale), and tests each model's gain over it with a
moving-block bootstrap over months (:mod:`gracefuse.evaluate.significance`), so that the
autocorrelation of monthly errors is accounted for. Scales: ``region`` (the area-weighted
mean series) and ``grid_median`` (the median over cells of the per-cell skill).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gracefuse.evaluate.significance import bootstrap_gain

COLUMNS = [
    "model",
    "split",
    "scale",
    "metric",
    "value",
    "baseline",
    "baseline_value",
    "gain",
    "ci_low",
    "ci_high",
    "p_value",
    "block",
    "n_eff",
    "beats",
    "significant",
]


def nse_columns(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """NSE of each column of ``(time, n)`` arrays (NaN pairs left out).

    Examples
    --------
    >>> o = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    >>> nse_columns(o + 0.5, o).round(3).tolist()
    [0.625, 0.906]
    """
    ok = np.isfinite(sim) & np.isfinite(obs)
    n = ok.sum(axis=0)
    o = np.where(ok, obs, 0.0)
    s = np.where(ok, sim, 0.0)
    mean = o.sum(axis=0) / np.maximum(n, 1)
    den = (np.where(ok, o - mean, 0.0) ** 2).sum(axis=0)
    num = ((s - o) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n > 1) & (den > 0), 1.0 - num / den, np.nan)


def region_mean(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Area-weighted mean over cells of ``(time, cells)`` (NaN cells left out)."""
    ok = np.isfinite(a)
    num = np.where(ok, a, 0.0) @ w
    den = ok.astype(float) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _scale_fns(obs: np.ndarray, w: np.ndarray):
    """Skill and per-month loss of a ``(time, cells)`` prediction, per scale."""
    obs_region = region_mean(obs, w)

    def region_skill(sim, idx):
        return float(nse_columns(region_mean(sim, w)[idx, None], obs_region[idx, None])[0])

    def region_loss(sim):
        return (region_mean(sim, w) - obs_region) ** 2

    def grid_skill(sim, idx):
        return float(np.nanmedian(nse_columns(sim[idx], obs[idx])))

    def grid_loss(sim):
        return np.nanmean((sim - obs) ** 2, axis=1)

    return {"region": (region_skill, region_loss), "grid_median": (grid_skill, grid_loss)}


def compare_to_baselines(
    predictions: dict[str, np.ndarray],
    observed: np.ndarray,
    mask: np.ndarray,
    weights: np.ndarray,
    months: np.ndarray,
    baselines: Sequence[str],
    split: str = "test",
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """NSE of every model against the best baseline on ``months``, with significance.

    Parameters
    ----------
    predictions
        name → ``(time, H, W)`` predictions of the observed quantity (mm).
    observed
        ``(time, H, W)`` what is scored against (GRACE), NaN where missing.
    mask, weights
        ``(H, W)`` cells that count, and their areas.
    months
        Indices of the months scored.
    baselines
        Which of ``predictions`` are baselines; the others are compared with the best.

    Returns
    -------
    pandas.DataFrame
        One row per model and scale (:data:`COLUMNS`): its NSE, the best baseline and its
        NSE, the gain with a 95 % block-bootstrap interval, the one-sided p-value, the
        block length and effective sample size, and whether the model beats the baseline
        (``gain > 0``) and does so significantly (``p < 0.05``).
    """
    m = np.asarray(mask, bool).ravel()
    w = np.asarray(weights, float).ravel()[m]
    flat = {k: v.reshape(v.shape[0], -1)[:, m] for k, v in predictions.items()}
    obs = observed.reshape(observed.shape[0], -1)[:, m][months]
    sub = {k: v[months] for k, v in flat.items()}
    rows = []
    for scale, (skill, loss) in _scale_fns(obs, w).items():
        everything = np.arange(len(months))
        scores = {k: skill(v, everything) for k, v in sub.items()}
        ranked = [b for b in baselines if b in scores and np.isfinite(scores[b])]
        if not ranked:
            continue
        best = max(ranked, key=scores.get)
        for name in (k for k in sub if k not in baselines):
            a, b = sub[name], sub[best]

            def gain(i, a=a, b=b, skill=skill):
                return skill(a, i) - skill(b, i)

            t = bootstrap_gain(gain, loss(b) - loss(a), n_boot=n_boot, seed=seed)
            rows.append(
                [name, split, scale, "nse", scores[name], best, scores[best], t.gain]
                + [t.ci_low, t.ci_high, t.p_value, t.block, t.n_eff]
                + [bool(t.gain > 0), bool(t.gain > 0 and t.p_value < 0.05)]
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def comparison_rows(table: pd.DataFrame) -> list[dict]:
    """The gains as long metrics rows (``nse_gain``, ``nse_gain_low``, ``nse_gain_high``,
    ``nse_gain_p``) for metrics.csv."""
    out = []
    for _, r in table.iterrows():
        for suffix, value in (("", r.gain), ("_low", r.ci_low), ("_high", r.ci_high)):
            out.append(
                dict(
                    model=r.model,
                    split=r.split,
                    scale=r.scale,
                    metric=f"nse_gain{suffix}",
                    value=value,
                )
            )
        out.append(
            dict(model=r.model, split=r.split, scale=r.scale, metric="nse_gain_p", value=r.p_value)
        )
    return out


def verdicts(table: pd.DataFrame) -> list[str]:
    """One line per model: whether it beats the best baseline at every scale.

    Examples
    --------
    >>> t = pd.DataFrame([["cnn", "test", "region", "nse", 0.9, "cell_ridge", 0.8, 0.1,
    ...                    0.05, 0.15, 0.002, 3, 20.0, True, True]], columns=COLUMNS)
    >>> verdicts(t)[0]
    'cnn: beats cell_ridge on test region NSE (gain +0.100, 95 % CI +0.050..+0.150, p = 0.002)'
    """
    lines = []
    for model, part in table.groupby("model", sort=False):
        beaten = part.beats.all()
        parts = [
            f"{'beats' if r.beats else 'does NOT beat'} {r.baseline} on {r.split} "
            f"{r.scale.replace('_', '-')} NSE (gain {r.gain:+.3f}, "
            f"95 % CI {r.ci_low:+.3f}..{r.ci_high:+.3f}, p = {r.p_value:.3f})"
            for r in part.itertuples()
        ]
        flag = "" if beaten else "⚠ "
        lines.append(f"{flag}{model}: " + "; ".join(parts))
    return lines
