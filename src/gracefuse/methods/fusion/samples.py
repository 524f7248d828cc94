"""Turn ``(time, lat, lon)`` grids into training samples for the fusion CNNs.

Predictors are stacked with their lags (months t, t−1, …, t−lags), normalised with
statistics of the training months only; the target is the mismatch
``S = TWSA_LSM − TWSA_GRACE`` (optionally minus its per-cell linear trend fitted on the
training months), NaN where GRACE is missing or outside the mask.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.datasets.features import exponential_memory, stack_lags, trailing_mean
from gracefuse.datasets.scaling import standardiser
from gracefuse.datasets.splits import split_months
from gracefuse.errors import InputError
from gracefuse.methods.fusion.config import SamplesConfig

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
    fields
        The predictor blocks in channel order (each ``lags + 1`` channels).
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
    fields: list[FeatureField] = field(default_factory=list)

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


@dataclass(frozen=True)
class FeatureField:
    """One predictor block before its lags: a variable, its memory, its normalisation.

    ``memory`` is ``"none"``, ``"trailing"`` (mean over the past ``memory_months``) or an
    e-folding time in months (an exponential memory of the anomaly about the training
    months' per-cell mean). ``mean`` and ``std`` are scalars (global normalisation) or
    ``(H, W)`` maps (per cell), from the training months alone.
    """

    name: str
    memory: str | float
    mean: float | np.ndarray
    std: float | np.ndarray

    @property
    def variable(self) -> str:
        return PREDICTOR_VARIABLES[self.name]


def feature_series(a: np.ndarray, memory: str | float, memory_months: int,
                   climatology: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """A field ``(time, ...)`` (float64) turned into its predictor series, before scaling.

    ``climatology`` (``(...)``, the per-cell mean over the training months) is what an
    exponential memory is an anomaly about; ignored otherwise.
    """
    if memory == "trailing":  # mean over the past memory_months (antecedent conditions)
        return trailing_mean(a, memory_months)
    if memory == "none":
        return a
    return exponential_memory(a - climatology, float(memory))


def scale_field(a: np.ndarray, spec: FeatureField, mask: np.ndarray) -> np.ndarray:
    """Standardise a predictor series; 0 (the training mean) outside ``mask`` and where
    missing."""
    return np.where(mask[None] & np.isfinite(a), (a - spec.mean) / spec.std, 0.0)


def _predictor_blocks(ds: xr.Dataset, cfg: SamplesConfig, train, mask):
    """Each predictor normalised on the training months and stacked with its lags; and the
    :class:`FeatureField` of each block."""
    fields = [(n, "none") for n in cfg.predictors] + [(n, "trailing") for n in cfg.memory]
    fields += [("precip", tau) for tau in cfg.memory_efolding]
    blocks, specs = [], []
    for name, memory in fields:
        var = PREDICTOR_VARIABLES[name]
        if var not in ds:
            raise InputError(None, f"predictor '{name}' needs variable '{var}' in the data", var)
        a = ds[var].values.astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            clim = np.nanmean(a[train], axis=0) if memory not in ("none", "trailing") else None
        a = feature_series(a, memory, cfg.memory_months, clim)
        mu, sd = standardiser(a, train, mask, cfg.normalize == "cell")
        spec = FeatureField(name, memory, mu, sd)
        blocks.append(stack_lags(scale_field(a, spec, mask), cfg.lags))
        specs.append(spec)
    return blocks, specs


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
    t_mean, t_std = standardiser(mismatch, train, mask, cfg.normalize == "cell")
    y = (mismatch - t_mean) / t_std
    blocks, fields = _predictor_blocks(ds, cfg, train, mask)
    x = np.concatenate(blocks, axis=1).astype(np.float32)
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
        fields=fields,
    )
