"""Features built from monthly grids: lags and memories (axis 0 is time)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def trailing_mean(a: np.ndarray, window: int) -> np.ndarray:
    """Mean of months t−window+1 … t along axis 0 (shorter windows at the start)."""
    filled = np.nan_to_num(a)
    csum = np.cumsum(filled, axis=0)
    shifted = np.concatenate([np.zeros((window, *a.shape[1:])), csum[:-window]], axis=0)
    count = np.minimum(np.arange(1, a.shape[0] + 1), window).reshape(-1, *[1] * (a.ndim - 1))
    return (csum - shifted[: a.shape[0]]) / count


def exponential_memory(a: np.ndarray, efolding: float) -> np.ndarray:
    """Exponentially weighted memory along axis 0: a linear reservoir fed by ``a``.

    ``m[t] = k·m[t−1] + (1−k)·a[t]`` with ``k = exp(−1/efolding)`` and ``m[−1] = 0``. A
    groundwater store that drains with e-folding time ``efolding`` (months) and is recharged
    in proportion to ``a`` follows this series up to a gain, which is why it carries the
    slow storage a land-surface model without groundwater lacks. Pass anomalies (so that the
    start value 0 is the mean state); NaN counts as 0.

    Parameters
    ----------
    a
        ``(time, ...)`` monthly series, e.g. precipitation anomalies in mm/month.
    efolding
        e-folding time in months (> 0).

    Returns
    -------
    numpy.ndarray
        Same shape and units as ``a``.

    Examples
    --------
    >>> m = exponential_memory(np.ones(24), 12.0)  # a step: 1 − exp(−t/τ)
    >>> round(float(m[11]), 3), round(float(1 - np.exp(-1.0)), 3)
    (0.632, 0.632)
    """
    if not efolding > 0:
        raise ValueError(f"efolding must be positive, got {efolding}")
    k = float(np.exp(-1.0 / efolding))
    return lfilter([1.0 - k], [1.0, -k], np.nan_to_num(np.asarray(a, dtype=float)), axis=0)


def stack_lags(a: np.ndarray, lags: int) -> np.ndarray:
    """``(T, H, W)`` → ``(T, lags+1, H, W)`` with month t, t−1, …; edge-padded at the start."""
    padded = np.concatenate([np.repeat(a[:1], lags, axis=0), a], axis=0)
    return np.stack([padded[lags - k : lags - k + a.shape[0]] for k in range(lags + 1)], axis=1)
