"""Turn ``(time, lat, lon)`` grids into training samples for the fusion CNNs.

Predictors are stacked with their lags (months t, t−1, …, t−lags), normalised with
statistics of the training months only; the target is the mismatch
``S = TWSA_LSM − TWSA_GRACE`` (optionally minus its per-cell linear trend fitted on the
training months), NaN where GRACE is missing or outside the mask.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.config import SamplesConfig
from gracefuse.errors import InputError

PREDICTOR_VARIABLES = {"twsa": "twsa_lsm", "precip": "precip", "tair": "tair"}


@dataclass
class FusionSamples:
    """Arrays ready for a CNN (all float32, NaN-free inputs).

    Attributes
    ----------
    x
        ``(time, channels, H, W)``; channels are predictor blocks of ``lags + 1`` months.
    y
        ``(time, H, W)`` normalised target, NaN where not observed.
    mask
        ``(H, W)`` cells that count (land with data).
    times
        Month starts of the samples.
    train, val, cal, test
        Indices into ``time`` of months with a target, in time order: gradient steps,
        validation (early stopping and every choice), calibration of the intervals, test.
    target_mean, target_std
        Normalisation of the target (mm): scalars, or ``(H, W)`` maps when normalised per
        cell.
    trend_slope, trend_intercept
        ``(H, W)`` per-cell trend of the mismatch (mm/month, mm) removed before learning.
    cell_mean
        ``(H, W)`` training-month mean of the normalised target (for the NSE-L1 loss).
    n_predictors, lags
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    times: pd.DatetimeIndex
    train: np.ndarray
    val: np.ndarray
    cal: np.ndarray
    test: np.ndarray
    target_mean: np.ndarray
    target_std: np.ndarray
    trend_slope: np.ndarray
    trend_intercept: np.ndarray
    cell_mean: np.ndarray
    n_predictors: int
    lags: int

    @property
    def fit_months(self) -> np.ndarray:
        """Every month before the test months (the paper's training period)."""
        return np.sort(np.concatenate([self.train, self.val, self.cal]))

    def trend(self) -> np.ndarray:
        """``(time, H, W)`` the removed trend in mm."""
        k = np.arange(len(self.times), dtype=np.float32)[:, None, None]
        return self.trend_intercept[None] + self.trend_slope[None] * k

    def to_mm(self, y_norm: np.ndarray) -> np.ndarray:
        """Normalised target (or prediction) back to mismatch in mm, trend added back."""
        return y_norm * self.target_std + self.target_mean + self.trend()


def split_months(
    has_target: np.ndarray, times: pd.DatetimeIndex, cfg: SamplesConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/calibration/test indices, contiguous and in time order.

    The first ``train_fraction`` of the months with a target (or those up to ``train_end``)
    are the paper's training period, the rest test. Of the training period, the last
    ``calibration_fraction`` calibrate the intervals and the ``validation_fraction`` before
    them validate (early stopping, the ridge penalty, every choice); disjoint, so that the
    coverage measured on test months is honest.

    Examples
    --------
    >>> t = pd.date_range("2002-04-01", periods=100, freq="MS")
    >>> tr, va, ca, te = split_months(np.ones(100, bool), t, SamplesConfig())
    >>> len(tr), len(va), len(ca), len(te), bool(tr[-1] < va[0] < ca[0] < te[0])
    (56, 7, 7, 30, True)
    """
    valid = np.flatnonzero(has_target)
    if valid.size < 10:
        raise InputError(None, f"only {valid.size} months have GRACE data; need at least 10")
    if cfg.train_end is not None:
        end = pd.Timestamp(cfg.train_end)
        n_fit = int((times[valid] <= end).sum())
    else:
        n_fit = int(round(cfg.train_fraction * valid.size))
    n_fit = min(max(n_fit, 4), valid.size - 1)
    fit, test = valid[:n_fit], valid[n_fit:]
    n_cal = int(round(cfg.calibration_fraction * n_fit))
    n_val = int(round(cfg.validation_fraction * n_fit))
    if n_fit - n_val - n_cal < 2:
        raise InputError(None, f"only {n_fit} training months: too few for the held-out shares")
    train = fit[: n_fit - n_val - n_cal]
    val, cal = fit[len(train) : n_fit - n_cal], fit[n_fit - n_cal :]
    return train, val, cal, test


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
    from scipy.signal import lfilter

    if not efolding > 0:
        raise ValueError(f"efolding must be positive, got {efolding}")
    k = float(np.exp(-1.0 / efolding))
    return lfilter([1.0 - k], [1.0, -k], np.nan_to_num(np.asarray(a, dtype=float)), axis=0)


def stack_lags(a: np.ndarray, lags: int) -> np.ndarray:
    """``(T, H, W)`` → ``(T, lags+1, H, W)`` with month t, t−1, …; edge-padded at the start."""
    padded = np.concatenate([np.repeat(a[:1], lags, axis=0), a], axis=0)
    return np.stack([padded[lags - k : lags - k + a.shape[0]] for k in range(lags + 1)], axis=1)


def _normaliser(a: np.ndarray, months: np.ndarray, mask: np.ndarray, per_cell: bool):
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


def _predictor_blocks(ds: xr.Dataset, cfg: SamplesConfig, train, mask) -> list[np.ndarray]:
    """Each predictor normalised on the training months and stacked with its lags."""
    fields = [(n, "none") for n in cfg.predictors] + [(n, "trailing") for n in cfg.memory]
    fields += [("precip", tau) for tau in cfg.memory_efolding]
    blocks = []
    for name, memory in fields:
        var = PREDICTOR_VARIABLES[name]
        if var not in ds:
            raise InputError(None, f"predictor '{name}' needs variable '{var}' in the data", var)
        a = ds[var].values.astype(np.float64)
        if memory == "trailing":  # mean over the past memory_months (antecedent conditions)
            a = trailing_mean(a, cfg.memory_months)
        elif memory != "none":  # a linear reservoir fed by the precipitation anomaly
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                a = exponential_memory(a - np.nanmean(a[train], axis=0), float(memory))
        mu, sd = _normaliser(a, train, mask, cfg.normalize == "cell")
        a = np.where(mask[None] & np.isfinite(a), (a - mu) / sd, 0.0)
        blocks.append(stack_lags(a, cfg.lags))
    return blocks


def _cell_trend(mismatch: np.ndarray, months: np.ndarray, mask: np.ndarray):
    """Per-cell least-squares slope (mm/month) and intercept (mm) over ``months``."""
    k = np.arange(mismatch.shape[0], dtype=float)
    m = mismatch[months]
    kk = np.where(np.isfinite(m), k[months][:, None, None], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kbar, mbar = np.nanmean(kk, 0), np.nanmean(m, 0)
    cov = np.nansum((kk - kbar) * (m - mbar), 0)
    var = np.nansum((kk - kbar) ** 2, 0)
    slope = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 0.0)
    intercept = np.where(np.isfinite(mbar), mbar - slope * kbar, 0.0)
    return np.where(mask, slope, 0.0), np.where(mask, intercept, 0.0)


def build_samples(ds: xr.Dataset, cfg: SamplesConfig) -> FusionSamples:
    """Build :class:`FusionSamples` from a Dataset holding ``twsa_lsm``, ``twsa_grace``,
    the predictor variables and ``land_mask`` on one ``(time, lat, lon)`` grid.

    Every statistic (normalisation, trend, memory climatology) comes from the training
    months alone: validation, calibration and test months play no part in them.
    """
    for need in ("twsa_lsm", "twsa_grace", "land_mask"):
        if need not in ds:
            raise InputError(None, f"the fusion data has no '{need}'", need)
    times = pd.DatetimeIndex(ds["time"].values)
    lsm = ds["twsa_lsm"].values.astype(np.float64)
    grace = ds["twsa_grace"].values.astype(np.float64)
    mask = ds["land_mask"].values.astype(bool) & np.isfinite(lsm).any(0)
    mismatch = np.where(mask[None], lsm - grace, np.nan)
    train, val, cal, test = split_months(np.isfinite(mismatch).any(axis=(1, 2)), times, cfg)

    slope, intercept = np.zeros(mask.shape), np.zeros(mask.shape)
    if cfg.detrend:
        slope, intercept = _cell_trend(mismatch, train, mask)
        k = np.arange(len(times), dtype=float)[:, None, None]
        mismatch = mismatch - (intercept[None] + slope[None] * k)
    t_mean, t_std = _normaliser(mismatch, train, mask, cfg.normalize == "cell")
    y = (mismatch - t_mean) / t_std
    x = np.concatenate(_predictor_blocks(ds, cfg, train, mask), axis=1).astype(np.float32)
    with warnings.catch_warnings():  # all-NaN (ocean) cells give NaN, then 0
        warnings.simplefilter("ignore", RuntimeWarning)
        cell_mean = np.nan_to_num(np.nanmean(y[train], axis=0))
    return FusionSamples(
        x=x,
        y=y.astype(np.float32),
        mask=mask,
        times=times,
        train=train,
        val=val,
        cal=cal,
        test=test,
        target_mean=np.asarray(t_mean, dtype=np.float32),
        target_std=np.asarray(t_std, dtype=np.float32),
        trend_slope=slope.astype(np.float32),
        trend_intercept=intercept.astype(np.float32),
        cell_mean=cell_mean.astype(np.float32),
        n_predictors=x.shape[1] // (cfg.lags + 1),
        lags=cfg.lags,
    )
