"""Skill metrics over one dim (default ``time``), NaN-aware and vectorised.

Each metric takes ``sim`` and ``obs`` (xarray objects or NumPy arrays) and reduces over
``dim``: a 1-D series gives a scalar, a ``(time, lat, lon)`` grid gives a ``(lat, lon)``
map. Pairs where either side is NaN are left out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

ArrayLike = xr.DataArray | np.ndarray


def _prep(sim: ArrayLike, obs: ArrayLike, dim: str) -> tuple[xr.DataArray, xr.DataArray, str]:
    if not isinstance(sim, xr.DataArray):
        sim = xr.DataArray(
            np.asarray(sim, dtype=float), dims=[dim] + [f"d{i}" for i in range(1, np.ndim(sim))]
        )
    if not isinstance(obs, xr.DataArray):
        obs = xr.DataArray(np.asarray(obs, dtype=float), dims=sim.dims)
    sim, obs = xr.align(sim.astype(float), obs.astype(float), join="inner")
    valid = sim.notnull() & obs.notnull()
    return sim.where(valid), obs.where(valid), dim


def _n(x: xr.DataArray, dim: str) -> xr.DataArray:
    return x.notnull().sum(dim)


def pearson_r(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Pearson correlation coefficient.

    Examples
    --------
    >>> round(float(pearson_r(np.array([1.0, 2, 3, 5]), np.array([1.0, 2, 4, 4]))), 4)
    0.8783
    """
    s, o, d = _prep(sim, obs, dim)
    sa, oa = s - s.mean(d), o - o.mean(d)
    cov = (sa * oa).sum(d)
    den = np.sqrt((sa**2).sum(d) * (oa**2).sum(d))
    return (cov / den).where((_n(s, d) > 1) & (den > 0)).rename("r")


def nse(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Nash–Sutcliffe efficiency: 1 − Σ(s−o)² / Σ(o−ō)²."""
    s, o, d = _prep(sim, obs, dim)
    den = ((o - o.mean(d)) ** 2).sum(d)
    return (1.0 - ((s - o) ** 2).sum(d) / den).where(den > 0).rename("nse")


def rmse(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Root-mean-square error (units of the data)."""
    s, o, d = _prep(sim, obs, dim)
    return np.sqrt(((s - o) ** 2).mean(d)).rename("rmse")


def mae(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Mean absolute error (units of the data)."""
    s, o, d = _prep(sim, obs, dim)
    return np.abs(s - o).mean(d).rename("mae")


def bias(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Mean error, mean(sim − obs) (units of the data)."""
    s, o, d = _prep(sim, obs, dim)
    return (s - o).mean(d).rename("bias")


def r_squared(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Coefficient of determination of a linear fit: the square of Pearson's r."""
    return (pearson_r(sim, obs, dim) ** 2).rename("r2")


def _kge_parts(sim: ArrayLike, obs: ArrayLike, dim: str):
    s, o, d = _prep(sim, obs, dim)
    r = pearson_r(s, o, d)
    ms, mo = s.mean(d), o.mean(d)
    ss, so = s.std(d), o.std(d)
    return r, ms, mo, ss, so


def kge(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Kling–Gupta efficiency (Gupta et al. 2009): 1 − √((r−1)² + (α−1)² + (β−1)²).

    α = σ_s/σ_o, β = μ_s/μ_o. For anomalies with a mean near zero β is ill-conditioned;
    use :func:`kge_2012` or compare absolute values in that case.
    """
    r, ms, mo, ss, so = _kge_parts(sim, obs, dim)
    alpha, beta = ss / so, ms / mo
    return (1 - np.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2)).rename("kge")


def kge_2012(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """Modified KGE (Kling et al. 2012): variability as the ratio of coefficients of variation."""
    r, ms, mo, ss, so = _kge_parts(sim, obs, dim)
    gamma, beta = (ss / ms) / (so / mo), ms / mo
    return (1 - np.sqrt((r - 1) ** 2 + (gamma - 1) ** 2 + (beta - 1) ** 2)).rename("kge_2012")


def kge_anomaly(sim: ArrayLike, obs: ArrayLike, dim: str = "time") -> xr.DataArray:
    """KGE for anomalies: the bias term is the mean error scaled by σ_o (well-defined at μ≈0).

    ``1 − √((r−1)² + (α−1)² + ((μ_s−μ_o)/σ_o)²)``. Not the published KGE: storage
    anomalies have means near zero, where the ratio β = μ_s/μ_o of :func:`kge` and
    :func:`kge_2012` is ill-conditioned. Reported as ``kge_anomaly``, beside ``kge``.
    """
    r, ms, mo, ss, so = _kge_parts(sim, obs, dim)
    out = 1 - np.sqrt((r - 1) ** 2 + (ss / so - 1) ** 2 + ((ms - mo) / so) ** 2)
    return out.rename("kge_anomaly")


#: the metrics by the names they carry in metrics.csv: ``kge`` is the published form of
#: Kling et al. (2012); ``kge_anomaly`` the anomaly-safe variant
METRICS: dict[str, Callable[..., xr.DataArray]] = {
    "r": pearson_r,
    "nse": nse,
    "rmse": rmse,
    "mae": mae,
    "bias": bias,
    "r2": r_squared,
    "kge": kge_2012,
    "kge_anomaly": kge_anomaly,
}


def skill_table(
    sim: ArrayLike,
    obs: ArrayLike,
    metrics: tuple[str, ...] = ("r", "nse", "rmse", "kge", "kge_anomaly"),
    dim: str = "time",
) -> dict[str, xr.DataArray]:
    """Several metrics at once: ``{name: value}`` (scalars for series, maps for grids)."""
    return {m: METRICS[m](sim, obs, dim) for m in metrics}
