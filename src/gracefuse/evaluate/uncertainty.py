"""Calibrating prediction intervals."""

from __future__ import annotations

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
