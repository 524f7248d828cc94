"""Trends and seasons of storage series: Sen's slope with its confidence interval and the
Mann–Kendall test (with the Hamed–Rao, Yue–Wang or pre-whitened forms for autocorrelated
series), STL decomposition, seasonal amplitude and phase, hotspots, and lagged driver
correlations.

Slopes are per year against the real dates, so missing months (GRACE's gaps) neither
shift nor stretch the time axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymannkendall as mk
import xarray as xr
from scipy.stats import norm
from statsmodels.tsa.seasonal import STL

from gracefuse.data.anomalies import month_start
from gracefuse.errors import InputError
from gracefuse.evaluate.significance import lag1_autocorrelation

#: the Mann–Kendall forms of pymannkendall: ``original`` assumes independent months;
#: ``hamed_rao`` corrects the variance of S by the significant rank autocorrelations
#: (Hamed and Rao 1998); ``prewhiten`` removes a lag-1 autocorrelation first (Yue and Wang
#: 2002). Ours, ``ar1`` (the default), is below (:func:`ar1_variance_factor`).
MK_TESTS = {
    "original": mk.original_test,
    "hamed_rao": mk.hamed_rao_modification_test,
    "prewhiten": mk.pre_whitening_modification_test,
}
TESTS = (*MK_TESTS, "ar1")
#: fewest valid months for a trend
MIN_MONTHS = 12


@dataclass(frozen=True)
class Trend:
    """Sen's slope (units per year) with its ``1 − alpha`` interval and the MK p-value."""

    slope: float
    lower: float
    upper: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        return bool(self.p_value < 0.05)

    def __str__(self) -> str:  # the paper's "a ± b mm/yr"
        half = 0.5 * (self.upper - self.lower)
        return f"{self.slope:.2f} ± {half:.2f} per yr (p = {self.p_value:.3g})"


def decimal_years(times) -> np.ndarray:
    """Dates as decimal years (``2004-07-01`` → about ``2004.5``)."""
    t = pd.DatetimeIndex(times)
    start = pd.DatetimeIndex(t.year.astype(str) + "-01-01")
    length = np.where(t.is_leap_year, 366.0, 365.0)
    return np.asarray(t.year + (t - start).days.values / length, dtype=float)


def ar1_variance_factor(resid: np.ndarray, times) -> float:
    """``n/n*``, the inflation of ``Var(S)`` by a lag-1 autocorrelation (Yue and Wang
    2004): ``1 + 2·Σ_k (1 − k/n)·ρ^k`` with ``ρ`` the lag-1 autocorrelation
    (:func:`~gracefuse.evaluate.significance.lag1_autocorrelation`) of the detrended series
    placed on every calendar month (gaps as NaN, skipped pairwise), clipped to
    ``[0, 0.95]``."""
    months = month_start(times)
    k = np.asarray(months.year * 12 + months.month)
    grid = np.full(k.max() - k.min() + 1, np.nan)
    grid[k - k.min()] = resid
    rho = min(max(lag1_autocorrelation(grid), 0.0), 0.95)
    n = len(resid)
    lags = np.arange(1, n)
    return float(1 + 2 * np.sum((1 - lags / n) * rho**lags))


def _mk(x: np.ndarray, t: np.ndarray, times, slope: float, test: str) -> tuple[float, float]:
    """``(p, Var(S))`` of the MK form ``test`` (``t`` decimal years of ``times``)."""
    if test != "ar1":
        res = MK_TESTS[test](x)
        return float(res.p), float(res.var_s)
    res = mk.original_test(x)
    var_s = float(res.var_s) * ar1_variance_factor(x - slope * t, times)
    z = (res.s - np.sign(res.s)) / np.sqrt(var_s) if var_s > 0 else 0.0
    return float(2 * norm.sf(abs(z))), var_s


def sen_trend(values, times, alpha: float = 0.05, test: str = "ar1") -> Trend:
    """Sen's slope of ``values`` over ``times`` with its interval and the MK p-value.

    The interval is Sen's (Gilbert 1987): the ranks ``(N' ∓ z·√Var(S))/2`` of the ``N'``
    pairwise slopes, with ``Var(S)`` from the chosen MK form, so an autocorrelation
    correction widens the interval as well as the p-value.

    Examples
    --------
    >>> t = pd.date_range("2004-01-01", periods=120, freq="MS")
    >>> rng = np.random.default_rng(0)
    >>> tr = sen_trend(3.0 * decimal_years(t) + rng.normal(0, 1, 120), t)
    >>> round(tr.slope, 1), tr.lower < 3.0 < tr.upper, tr.significant
    (3.0, True, True)
    """
    if test not in TESTS:
        raise InputError("trend", f"unknown test {test!r}; choose {', '.join(TESTS)}", "test")
    x = np.asarray(values, float)
    t = decimal_years(times)
    ok = np.isfinite(x)
    x, t, times = x[ok], t[ok], pd.DatetimeIndex(times)[ok]
    if len(x) < MIN_MONTHS:
        return Trend(np.nan, np.nan, np.nan, np.nan, len(x))
    i, j = np.triu_indices(len(x), 1)
    slopes = np.sort((x[j] - x[i]) / (t[j] - t[i]))
    p, var_s = _mk(x, t, times, float(np.median(slopes)), test)
    c = norm.ppf(1 - alpha / 2) * np.sqrt(max(var_s, 0.0))
    n_pairs = len(slopes)
    ranks = np.clip([(n_pairs - c) / 2, (n_pairs + c) / 2], 1, n_pairs) - 1  # 0-based
    lower, upper = np.interp(ranks, np.arange(n_pairs), slopes)
    return Trend(float(np.median(slopes)), float(lower), float(upper), p, len(x))


def trend_dataset(da: xr.DataArray, alpha: float = 0.05, test: str = "ar1") -> xr.Dataset:
    """:func:`sen_trend` of every series of ``da`` ``(time, …)``: ``slope``,
    ``slope_lower``, ``slope_upper`` (units of ``da`` per year) and ``p_value``."""
    space = [d for d in da.dims if d != "time"]
    flat = da.transpose("time", *space).values.reshape(da.sizes["time"], -1)
    res = [sen_trend(flat[:, k], da["time"].values, alpha, test) for k in range(flat.shape[1])]
    shape = [da.sizes[d] for d in space]
    coords = {d: da[d] for d in space if d in da.coords}
    units = f"{da.attrs.get('units', 'mm')}/yr"

    def field(name: str, long_name: str, unit: str) -> xr.DataArray:
        v = np.array([getattr(r, name) for r in res]).reshape(shape)
        return xr.DataArray(v, dims=space, coords=coords,
                            attrs={"units": unit, "long_name": long_name})  # fmt: skip

    pct = round(100 * (1 - alpha))
    return xr.Dataset({
        "slope": field("slope", "Sen's slope", units),
        "slope_lower": field("lower", f"lower bound of the {pct} % interval", units),
        "slope_upper": field("upper", f"upper bound of the {pct} % interval", units),
        "p_value": field("p_value", f"Mann-Kendall p-value ({test})", "1"),
    }, attrs={"mann_kendall": test, "alpha": alpha})  # fmt: skip


def hotspots(trends: xr.Dataset, threshold: float, alpha: float = 0.05) -> xr.DataArray:
    """Where the trend is significant (``p < alpha``) and its slope below ``threshold``
    (units per year; negative: depletion)."""
    hot = (trends["p_value"] < alpha) & (trends["slope"] < threshold)
    return hot.rename("hotspot").assign_attrs(threshold=threshold, alpha=alpha)


def _on_month_starts(da: xr.DataArray) -> xr.DataArray:
    return da.assign_coords(time=month_start(da["time"].values))


def gap_filled(da: xr.DataArray) -> xr.DataArray:
    """``da`` ``(time,)`` on every calendar month, gaps linearly interpolated in time (STL
    needs an even series); the ends are not extrapolated."""
    monthly = _on_month_starts(da)
    months = pd.date_range(monthly["time"].values[0], monthly["time"].values[-1], freq="MS")
    return monthly.reindex(time=months).interpolate_na("time", method="linear")


def stl_columns(values: np.ndarray, period: int = 12, robust: bool = True) -> dict:
    """STL of every column of ``values`` ``(time, n)`` on calendar months (interior gaps
    already filled), each over its span of valid months: ``trend``, ``seasonal`` and
    ``resid`` ``(time, n)``, NaN outside that span and for columns with fewer than
    ``2·period + 1`` months."""
    out = {k: np.full(values.shape, np.nan) for k in ("trend", "seasonal", "resid")}
    for k in range(values.shape[1]):
        ok = np.flatnonzero(np.isfinite(values[:, k]))
        if len(ok) < 2 * period + 1:
            continue
        span = slice(ok[0], ok[-1] + 1)
        fit = STL(values[span, k], period=period, robust=robust).fit()
        for name in out:
            out[name][span, k] = getattr(fit, name)
    return out


def stl_components(da: xr.DataArray, period: int = 12, robust: bool = True) -> xr.Dataset:
    """STL (Cleveland et al. 1990, statsmodels) of a monthly series ``(time,)`` into
    ``trend``, ``seasonal`` and ``resid``; gaps are interpolated first and marked by
    ``filled``."""
    full = gap_filled(da)
    ok = np.isfinite(full.values)
    if ok.sum() < 2 * period + 1:
        raise InputError(str(da.name or "series"), f"STL needs at least {2 * period + 1} "
                         f"months, got {int(ok.sum())}", "time")  # fmt: skip
    span = np.flatnonzero(ok)[0] + np.arange(int(ok.sum()))
    parts = stl_columns(full.values[:, None], period, robust)
    sub = full.isel(time=span)
    out = xr.Dataset({k: ("time", v[span, 0]) for k, v in parts.items()},
                     coords={"time": sub["time"]})  # fmt: skip
    observed = _on_month_starts(da).reindex(time=sub["time"].values)
    out["filled"] = ("time", ~np.isfinite(observed.values))
    return out


def amplitude_phase(da: xr.DataArray) -> tuple[float, float]:
    """Annual amplitude (half the peak-to-trough, units of ``da``) and the month of the
    peak (1–12, fractional) of a series ``(time,)``, by least squares on a mean, a linear
    trend and an annual harmonic."""
    t = decimal_years(da["time"].values)
    x = da.values.astype(float)
    ok = np.isfinite(x)
    t, x = t[ok], x[ok]
    a = np.column_stack([np.ones_like(t), t - t.mean(), np.cos(2 * np.pi * t),
                         np.sin(2 * np.pi * t)])  # fmt: skip
    coef = np.linalg.lstsq(a, x, rcond=None)[0]
    amp = float(np.hypot(coef[2], coef[3]))
    peak = (np.arctan2(coef[3], coef[2]) / (2 * np.pi)) % 1.0  # fraction of the year
    return amp, float(peak * 12 + 1 - 0.5)  # month centres at fraction (m − 0.5)/12


def lagged_correlation_values(target: np.ndarray, driver: np.ndarray,
                               max_lag: int = 6) -> tuple[int, float]:  # fmt: skip
    """:func:`lagged_correlation` on two arrays of the same months ``(time,)``."""
    best = (0, np.nan)
    for lag in range(max_lag + 1):
        a = target[lag:]
        b = driver[: len(driver) - lag]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
            continue
        r = float(np.corrcoef(a[ok], b[ok])[0, 1])
        if not np.isfinite(best[1]) or abs(r) > abs(best[1]):
            best = (lag, r)
    return best


def lagged_correlation(target: xr.DataArray, driver: xr.DataArray,
                       max_lag: int = 6) -> tuple[int, float]:  # fmt: skip
    """``(lag, r)`` of the strongest Pearson correlation of ``target`` with ``driver``
    shifted by ``0 … max_lag`` months (the driver leading), over their common months
    (both on calendar months; a constant series has no correlation)."""
    a, b = xr.align(_on_month_starts(target), _on_month_starts(driver), join="outer")
    months = pd.date_range(a["time"].values[0], a["time"].values[-1], freq="MS")
    a, b = a.reindex(time=months), b.reindex(time=months)
    return lagged_correlation_values(a.values, b.values, max_lag)
