"""Scaling fitted on training roles only: statistics come from the months (or cells, wells)
a model trains on, and are applied to every sample.

- :func:`standardiser`: mean and standard deviation (global or per cell), for z-scores;
- :class:`Scaler`: the largest absolute training value, to [−1, 1] (tanh outputs);
- :class:`PointScaler`: z-scores of point predictors (columns) and of a target, for the
  regressions on points (GNNWR/GTNNWR, SSVAER).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


def standardiser(a: np.ndarray, months: np.ndarray, mask: np.ndarray, per_cell: bool):
    """Mean and standard deviation of ``a`` over ``months`` (and land cells): scalars, or
    ``(H, W)`` maps with ``per_cell``; a zero spread becomes 1."""
    with warnings.catch_warnings():  # all-NaN (ocean) cells
        warnings.simplefilter("ignore", RuntimeWarning)
        if per_cell:
            mu, sd = np.nanmean(a[months], axis=0), np.nanstd(a[months], axis=0)
            ok = mask & np.isfinite(sd) & (sd > 0)
            return np.where(ok, mu, 0.0), np.where(ok, sd, 1.0)
        ref = a[months][:, mask]
        return float(np.nanmean(ref)), float(np.nanstd(ref)) or 1.0


@dataclass
class Scaler:
    """Linear scaling to [−1, 1] by the largest absolute training value (per variable)."""

    scale: float

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        s = float(np.nanmax(np.abs(values)))
        return cls(scale=s if np.isfinite(s) and s > 0 else 1.0)

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.clip(a / self.scale, -1.0, 1.0)

    def inverse(self, a: np.ndarray) -> np.ndarray:
        return a * self.scale


@dataclass
class PointScaler:
    """Z-scores of ``(n, P)`` predictors and of a target, from the training rows.

    Examples
    --------
    >>> s = PointScaler.fit(np.array([[0.0], [2.0]]), np.array([1.0, 3.0]))
    >>> s.x(np.array([[2.0]])).round(4).tolist(), s.y(np.array([3.0])).round(4).tolist()
    ([[1.0, 1.0]], [1.0])
    """

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> PointScaler:
        return cls(x.mean(0), x.std(0) + eps, float(y.mean()), float(y.std() + eps))

    def z(self, x: np.ndarray) -> np.ndarray:
        """Standardised predictors, float32."""
        return ((x - self.x_mean) / self.x_std).astype(np.float32)

    def x(self, x: np.ndarray) -> np.ndarray:
        """Standardised predictors after an intercept column of ones (an OLS design)."""
        z = self.z(x)
        return np.concatenate([np.ones((len(z), 1), np.float32), z], 1)

    def y(self, v: np.ndarray) -> np.ndarray:
        return ((v - self.y_mean) / self.y_std).astype(np.float32)

    def inverse_y(self, v: np.ndarray) -> np.ndarray:
        return v * self.y_std + self.y_mean
