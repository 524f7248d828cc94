"""Significance and trends: Williams' test, Sen's slope and Mann–Kendall per cell."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pymannkendall as mk
import xarray as xr
from scipy import stats


def williams_test(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Williams' t test for two dependent correlations sharing one variable.

    Tests H0: ρ12 = ρ13, where variable 1 (e.g. GRACE) is correlated with variables 2 and 3
    (e.g. corrected TWSA and the LSM), and r23 is the correlation of 2 and 3 (Steiger 1980,
    eq. 7).

    Returns
    -------
    t, p
        The statistic (df = n − 3) and its two-sided p-value.

    Examples
    --------
    >>> t, p = williams_test(0.9, 0.8, 0.85, 100)
    >>> round(t, 3), p < 0.01
    (4.126, True)
    """
    if n <= 3:
        return float("nan"), float("nan")
    det = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
    rbar = 0.5 * (r12 + r13)
    den = 2 * (n - 1) / (n - 3) * det + rbar**2 * (1 - r23) ** 3
    if den <= 0:
        return float("nan"), float("nan")
    t = (r12 - r13) * np.sqrt((n - 1) * (1 + r23) / den)
    p = 2 * stats.t.sf(abs(t), n - 3)
    return float(t), float(p)


def _mk_block(block: np.ndarray, alpha: float) -> np.ndarray:
    out = np.full((block.shape[0], 3), np.nan)
    for i, series in enumerate(block):
        s = series[np.isfinite(series)]
        if s.size < 8 or np.ptp(s) == 0:
            continue
        res = mk.original_test(s, alpha=alpha)
        out[i] = (res.slope, res.p, res.z)
    return out


def sen_mann_kendall(
    da: xr.DataArray, alpha: float = 0.05, per: str = "year", n_jobs: int | None = None
) -> xr.Dataset:
    """Sen's slope and the Mann–Kendall test for every cell, in parallel processes.

    Parameters
    ----------
    da
        ``(time, ...)`` monthly data; NaN months are dropped per cell (no interpolation).
    per
        ``"year"`` scales the slope from per month to per year; ``"month"`` keeps it.
    n_jobs
        Worker processes (default: all cores, at most 8; 1 runs in this process).

    Returns
    -------
    xr.Dataset
        ``slope`` (units of ``da`` per year), ``p_value``, ``z``, ``significant`` over the
        non-time dims.
    """
    other = [d for d in da.dims if d != "time"]
    stacked = da.transpose("time", *other).values.reshape(da.sizes["time"], -1).T
    n_jobs = n_jobs or min(os.cpu_count() or 1, 8)
    if n_jobs <= 1 or stacked.shape[0] < 64:
        res = _mk_block(stacked, alpha)
    else:
        blocks = np.array_split(stacked, n_jobs * 4)
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            res = np.concatenate(list(pool.map(_mk_block, blocks, [alpha] * len(blocks))))
    shape = [da.sizes[d] for d in other]
    coords = {d: da[d] for d in other}
    scale = 12.0 if per == "year" else 1.0
    units = da.attrs.get("units", "")
    ds = xr.Dataset(
        {
            "slope": (other, res[:, 0].reshape(shape) * scale, {"units": f"{units}/{per}"}),
            "p_value": (other, res[:, 1].reshape(shape), {"units": "1"}),
            "z": (other, res[:, 2].reshape(shape), {"units": "1"}),
        },
        coords=coords,
    )
    ds["significant"] = ds["p_value"] < alpha
    ds["slope"].attrs["long_name"] = "Sen's slope"
    return ds
