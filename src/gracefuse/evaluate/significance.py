"""Significance for autocorrelated monthly series: effective sample size and a moving-block
bootstrap of the difference between two models' skill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def lag1_autocorrelation(x: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (NaN ignored pairwise); 0 for fewer than 3 values.

    Examples
    --------
    >>> round(lag1_autocorrelation(np.sin(np.arange(100) / 5)), 2)
    0.98
    """
    x = np.asarray(x, dtype=float)
    a, b = x[:-1], x[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def effective_sample_size(x: np.ndarray) -> float:
    """``n (1 − ρ₁) / (1 + ρ₁)``: independent samples worth of an AR(1)-like series.

    Negative ρ₁ is taken as 0 (no gain from anti-persistence is claimed).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> white = rng.normal(size=400); red = np.convolve(white, np.ones(10), "same")
    >>> effective_sample_size(red) < 0.2 * effective_sample_size(white)
    True
    """
    x = np.asarray(x, dtype=float)
    n = int(np.isfinite(x).sum())
    rho = min(max(lag1_autocorrelation(x), 0.0), 0.99)
    return n * (1.0 - rho) / (1.0 + rho)


def block_length(x: np.ndarray) -> int:
    """Block length for a moving-block bootstrap: ``n / n_eff`` months, at least 1 and at
    most a quarter of the series."""
    n = int(np.isfinite(np.asarray(x, dtype=float)).sum())
    n_eff = max(effective_sample_size(x), 1.0)
    return int(np.clip(round(n / n_eff), 1, max(1, n // 4)))


def block_bootstrap_indices(
    n: int, block: int, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``(n_boot, n)`` month indices: circular blocks of ``block`` months drawn with
    replacement and concatenated (Politis & Romano's circular block bootstrap)."""
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(n_boot, -1)[:, :n]


@dataclass
class GainTest:
    """A skill difference (model − reference) with its bootstrap interval and p-value.

    ``p_value`` is the one-sided bootstrap probability that the gain is ≤ 0.
    """

    gain: float
    ci_low: float
    ci_high: float
    p_value: float
    block: int
    n_eff: float


def bootstrap_gain(
    statistic: Callable[[np.ndarray], float],
    loss_differential: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> GainTest:
    """Moving-block bootstrap of ``statistic(months) = skill(model) − skill(reference)``.

    Parameters
    ----------
    statistic
        The gain computed on a set of month positions ``0..n−1`` (with repeats).
    loss_differential
        ``(n,)`` per-month difference of squared errors (reference − model); its lag-1
        autocorrelation sets the block length and the effective sample size.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> obs = rng.normal(size=60); good = obs + 0.1 * rng.normal(size=60)
    >>> bad = obs + rng.normal(size=60)
    >>> def gain(i):
    ...     return float(np.mean((bad[i] - obs[i]) ** 2) - np.mean((good[i] - obs[i]) ** 2))
    >>> t = bootstrap_gain(gain, (bad - obs) ** 2 - (good - obs) ** 2)
    >>> t.gain > 0 and t.ci_low > 0 and t.p_value < 0.01
    True
    """
    d = np.asarray(loss_differential, dtype=float)
    n = len(d)
    block = block_length(d)
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(i) for i in block_bootstrap_indices(n, block, n_boot, rng)])
    draws = draws[np.isfinite(draws)]
    value = float(statistic(np.arange(n)))
    if draws.size == 0:
        return GainTest(value, np.nan, np.nan, np.nan, block, effective_sample_size(d))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    p = (1.0 + np.sum(draws <= 0.0)) / (1.0 + draws.size)
    return GainTest(value, float(low), float(high), float(p), block, effective_sample_size(d))
