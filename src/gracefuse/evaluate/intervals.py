"""Calibrating prediction intervals: the split-conformal quantile and the one calibrator
every method family uses (:func:`calibrated_halfwidth`)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def conformal_quantile(scores: np.ndarray, alpha: float = 0.05) -> float:
    """Split-conformal quantile of nonconformity ``scores`` (NaN ignored).

    The ⌈(n+1)(1−α)⌉/n empirical quantile: an interval ``prediction ± q × scale`` then
    covers a new exchangeable case with probability ≥ 1 − α. NaN when there is no score.

    Examples
    --------
    >>> conformal_quantile(np.arange(1.0, 20.0), alpha=0.05)  # level ⌈20·0.95⌉/19 = 1
    19.0
    """
    s = np.asarray(scores, dtype=float).ravel()
    s = s[np.isfinite(s)]
    if s.size == 0:
        return float("nan")
    level = min(1.0, np.ceil((s.size + 1) * (1 - alpha)) / s.size)
    return float(np.quantile(s, level))


def calibrated_halfwidth(
    errors: np.ndarray, scale_at_errors: np.ndarray, scale: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """The one interval calibrator: half-widths ``q × scale`` of a ``1 − α`` interval.

    ``q`` is the split-conformal quantile (:func:`conformal_quantile`) of the normalised
    errors ``|errors| / scale_at_errors`` on calibration cases (cases no gradient step,
    early stop or choice used); with none, the normal quantile (1.96 for α = 0.05).

    Parameters
    ----------
    errors, scale_at_errors
        Prediction minus observation on the calibration cases, and the scale (ensemble
        spread, per-cell RMSE, predicted σ) there; broadcastable, NaN ignored.
    scale
        The scale where the interval is wanted.

    Examples
    --------
    >>> e = np.array([1.0, -2.0, 0.5, 1.5] * 5)
    >>> float(calibrated_halfwidth(e, np.ones(20), np.array(3.0)))  # q = 2 (the largest)
    6.0
    >>> float(calibrated_halfwidth(np.array([]), np.array([]), np.array(1.0)))
    1.96
    """
    errors = np.asarray(errors)
    q = conformal_quantile(np.abs(errors) / scale_at_errors, alpha) if errors.size else np.nan
    z = float(NormalDist().inv_cdf(1 - alpha / 2))
    return (round(z, 2) if np.isnan(q) else q) * np.asarray(scale)
