"""Seasonal means, mean seasonal cycle and interannual variability of monthly series."""

from __future__ import annotations

import numpy as np
import xarray as xr

SEASONS = ("DJF", "MAM", "JJA", "SON")


def seasonal_means(da: xr.DataArray) -> xr.DataArray:
    """Mean over all months of each meteorological season (DJF, MAM, JJA, SON).

    Returns
    -------
    xr.DataArray
        The time dim replaced by ``season`` (ordered DJF, MAM, JJA, SON).
    """
    out = da.groupby("time.season").mean("time", skipna=True)
    return out.reindex(season=list(SEASONS))


def seasonal_cycle(da: xr.DataArray) -> xr.DataArray:
    """Mean seasonal cycle: the mean of each calendar month (dim ``month``, 1..12)."""
    return da.groupby("time.month").mean("time", skipna=True)


def deseasonalize(da: xr.DataArray) -> xr.DataArray:
    """The series minus its mean seasonal cycle (same shape as ``da``)."""
    clim = seasonal_cycle(da)
    out = da.groupby("time.month") - clim
    return out.drop_vars("month", errors="ignore").assign_attrs(da.attrs)


def interannual_variability(da: xr.DataArray, window: int = 12) -> xr.DataArray:
    """Interannual variability: the deseasonalised series smoothed by a centred running mean.

    At least half of the ``window`` months must be valid.
    """
    anom = deseasonalize(da)
    return anom.rolling(time=window, center=True, min_periods=window // 2).mean()


def amplitude(da: xr.DataArray) -> xr.DataArray:
    """Seasonal amplitude: half the range of the mean seasonal cycle."""
    clim = seasonal_cycle(da)
    return 0.5 * (clim.max("month") - clim.min("month"))


def empirical_cdf(values: xr.DataArray | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted finite values and their cumulative probabilities (for CDF plots of maps)."""
    v = np.asarray(values, dtype=float).ravel()
    v = np.sort(v[np.isfinite(v)])
    p = np.arange(1, v.size + 1) / max(v.size, 1)
    return v, p
