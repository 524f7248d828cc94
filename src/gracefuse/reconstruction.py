"""Reconstruction and gap filling (Yu et al. 2021): GRACE-like TWSA where GRACE is missing.

Building blocks of the ``gracefuse fill`` workflow:

- :func:`reconstruction_splits`: which months train, which are test (first and last months
  of the record), which are hidden to score gap filling (scattered single months and one
  contiguous block as long as the real GRACE/GRACE-FO gap), which are scored as one-month-
  ahead forecasts, and which lie before GRACE (hindcast);
- :class:`Scaler`: predictors and predictands to [−1, 1] on training data (tanh outputs);
- baselines every learned model must beat: ``persistence``, ``climatology_trend``,
  ``linear_interp`` and ``lsm_regression``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.config import ReconstructionConfig
from gracefuse.errors import InputError

BASELINES = ("persistence", "climatology_trend", "linear_interp", "lsm_regression")


@dataclass
class Splits:
    """Month indices (into the time axis) of each role, in time order."""

    train: np.ndarray
    test: np.ndarray
    hidden_single: np.ndarray
    hidden_block: np.ndarray
    forecast_1m: np.ndarray
    hindcast: np.ndarray

    def hidden(self) -> np.ndarray:
        """Every month whose GRACE value is withheld from training and from model inputs."""
        return np.union1d(self.hidden_single, self.hidden_block)

    def withheld(self) -> np.ndarray:
        """Everything a model may not train on (test, hidden, forecast window)."""
        return np.union1d(np.union1d(self.test, self.hidden()), self.forecast_1m)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            k: getattr(self, k)
            for k in ("train", "test", "hidden_single", "hidden_block", "forecast_1m", "hindcast")
        }


def reconstruction_splits(
    times: pd.DatetimeIndex, known: np.ndarray, cfg: ReconstructionConfig
) -> Splits:
    """Assign each month with GRACE to one role; months before GRACE are ``hindcast``.

    Parameters
    ----------
    times
        The monthly axis.
    known
        ``(time,)`` bool, true where GRACE has a solution.

    Examples
    --------
    >>> t = pd.date_range("2002-04-01", periods=120, freq="MS")
    >>> cfg = ReconstructionConfig(test_first=5, test_last=5, hidden_single=3,
    ...                            hidden_block_start="2006-01", hidden_block_length=11,
    ...                            forecast_months=12)
    >>> s = reconstruction_splits(t, np.ones(120, bool), cfg)
    >>> len(s.hidden_block), len(s.test), len(s.hidden_single)
    (11, 10, 3)
    """
    idx = np.flatnonzero(known)
    if idx.size < cfg.test_first + cfg.test_last + cfg.hidden_block_length + 10:
        raise InputError(None, f"only {idx.size} GRACE months: too few for these splits")
    test = np.union1d(idx[: cfg.test_first], idx[len(idx) - cfg.test_last :])
    forecast = idx[len(idx) - cfg.forecast_months :] if cfg.forecast_months else idx[:0]
    start = pd.Timestamp(cfg.hidden_block_start)
    in_block = (times >= start) & (times < start + pd.DateOffset(months=cfg.hidden_block_length))
    block = np.setdiff1d(np.flatnonzero(in_block & known), np.union1d(test, forecast))
    rest = np.setdiff1d(idx, np.union1d(np.union1d(test, forecast), block))
    rng = np.random.default_rng(cfg.seed)
    # keep a margin around the single months so that each is a real isolated gap
    pool = rest[1:-1]
    single = np.sort(rng.choice(pool, size=min(cfg.hidden_single, pool.size), replace=False))
    train = np.setdiff1d(rest, single)
    first = idx[0]
    hindcast = np.arange(first)
    return Splits(train, test, single, block, forecast, hindcast)


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


# ----------------------------------------------------------------------------- baselines
def _harmonics(t: np.ndarray) -> np.ndarray:
    """Design matrix: intercept, trend (years), annual and semi-annual harmonics."""
    w = 2 * np.pi * t
    return np.stack([np.ones_like(t), t, np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)], 1)


def _decimal_years(times: pd.DatetimeIndex) -> np.ndarray:
    return (times.year + (times.month - 0.5) / 12.0 - 2000.0).to_numpy(dtype=float)


def climatology_trend(
    grace: np.ndarray, times: pd.DatetimeIndex, fit_idx: np.ndarray
) -> np.ndarray:
    """Per-cell least squares of mean + trend + annual + semi-annual cycle, for every month.

    Parameters
    ----------
    grace
        ``(time, H, W)``; NaN where missing.
    fit_idx
        Months to fit on.
    """
    t = _decimal_years(times)
    a = _harmonics(t[fit_idx])
    y = grace[fit_idx].reshape(len(fit_idx), -1)
    out = np.full((len(times), y.shape[1]), np.nan)
    ok_cells = np.isfinite(y).sum(0) >= a.shape[1] + 2
    full = _harmonics(t)
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


def baseline_predictions(
    grace: np.ndarray,
    lsm: np.ndarray | None,
    times: pd.DatetimeIndex,
    splits: Splits,
) -> dict[str, np.ndarray]:
    """Every baseline's prediction for every month (``(time, H, W)`` in mm).

    Only training months (and, for persistence and interpolation, months that a model may
    see as inputs: not hidden, not test) inform the baselines.
    """
    inputs = np.zeros(len(times), bool)
    inputs[np.setdiff1d(np.flatnonzero(np.isfinite(grace).any((1, 2))), splits.hidden())] = True
    fit = splits.train
    out = {
        "climatology_trend": climatology_trend(grace, times, fit),
        "linear_interp": linear_interp(grace, inputs),
        "persistence": persistence(grace, inputs),
    }
    if lsm is not None:
        out["lsm_regression"] = lsm_regression(grace, lsm, times, fit)
    return out


def to_dataarray(a: np.ndarray, like: xr.DataArray, name: str) -> xr.DataArray:
    """``(time, H, W)`` array on the coordinates of ``like``."""
    return xr.DataArray(a, coords=like.coords, dims=like.dims, name=name)
