"""A fine world for downscaling: groundwater made by processes at the fine scale, seen by
a user only through covariates and a noisy coarse average.

Each fine cell runs its own monthly balance (mm):

- precipitation: a seasonal climate × a large-scale anomaly (AR(1) in time, 2–6° wide) ×
  storms 0.1–0.5° wide × orographic enhancement;
- soil: a bucket of capacity ``W`` (from soil texture, partly hidden); ET = PET·θ^0.7;
  what exceeds the capacity and slow percolation (∝ θ², faster in sand) drain down;
- vadose zone: drainage reaches the aquifer through a linear store with a lag of 1–8
  months that grows with depth to water (elevation) and a hidden field;
- irrigation: irrigated cells pump over the crop season, more each year (the trend), and put
  70 % of it back on the soil (more ET, wetter soil, greener vegetation);
- aquifer: ``S += recharge − pumping − S/τ_g`` with ``τ_g = 150·Sy`` months, the specific
  yield ``Sy`` from texture and a hidden field.

``gwsa_true`` is ``S`` about its 2004–2009 mean. The user has: precipitation, ET, soil
moisture (each with product errors), temperature, an NDVI-like index, elevation, sand
fraction and a land-use map of irrigation (misclassified in places) on the fine grid, and
the coarse GWSA: the area-weighted mean of fine truth over land plus GRACE-like noise
(correlated over ~1.5°). The hidden fields (``specific_yield``, ``recharge_lag``, the
true irrigated share) are kept for diagnosis, never given to a downscaler.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grid import Box, coarsen_mean, regular_grid
from gracefuse.data.twin.geography import bumps, month_rng
from gracefuse.data.twin.grace import baseline_anomaly

#: share of the year's precipitation per calendar month (a spring-summer wet season)
SEASON = np.array([0.03, 0.04, 0.07, 0.10, 0.13, 0.14, 0.13, 0.11, 0.09, 0.07, 0.05, 0.04])
#: irrigation water a fully irrigated cell pumps per calendar month (mm): the crop calendar
CROP_DEMAND = np.array([0, 0, 5, 20, 35, 40, 40, 35, 20, 5, 0, 0], dtype=float)
#: months run before the first month kept, so that every store is spun up
SPINUP_MONTHS = 60
#: the covariates a user has, by name: (long name, units)
COVARIATES = {
    "precip": ("precipitation (product)", "mm/month"),
    "et": ("evapotranspiration (product)", "mm/month"),
    "soil_moisture": ("soil moisture (product)", "1"),
    "tair": ("air temperature", "degC"),
    "ndvi": ("vegetation index (NDVI-like)", "1"),
    "elevation": ("elevation", "m"),
    "sand": ("sand fraction of the soil", "1"),
    "irrigated": ("irrigated share (land-use map)", "1"),
}
STATIC = ("elevation", "sand", "irrigated")


def _statics(rng: np.random.Generator, lat, lon, box: Box) -> dict[str, np.ndarray]:
    """Fine static fields: what a user sees and what stays hidden."""
    relief = bumps(rng, lat, lon, box, 120, (0.4, 2.5))
    elevation = 600.0 + 450.0 * np.tanh(0.8 * relief) + 60.0 * bumps(rng, lat, lon, box, 400,
                                                                       (0.05, 0.3))  # fmt: skip
    sand = 1 / (1 + np.exp(-(0.9 * bumps(rng, lat, lon, box, 300, (0.1, 0.8))
                              + 0.5 * (elevation - 600) / 450)))  # fmt: skip
    lowland = np.clip((800.0 - elevation) / 500.0, 0, 1)
    irr_true = np.clip(lowland * (0.5 + 0.8 * bumps(rng, lat, lon, box, 300, (0.08, 0.4))), 0, 1)
    irr_true = np.where(irr_true > 0.15, irr_true, 0.0)
    misclass = rng.uniform(size=irr_true.shape) < 0.04
    irrigated = np.clip(np.where(misclass, rng.uniform(0, 0.3, irr_true.shape), irr_true)
                        + rng.normal(0, 0.03, irr_true.shape), 0, 1)  # fmt: skip
    hidden_sy = bumps(rng, lat, lon, box, 300, (0.05, 0.5))
    sy = np.clip(0.08 + 0.08 * sand + 0.015 * hidden_sy, 0.05, 0.2)
    hidden_lag = bumps(rng, lat, lon, box, 300, (0.05, 0.5))
    lag = np.clip(1.0 + 5.0 * (elevation - 150) / 1000 + 1.5 * hidden_lag, 1.0, 8.0)
    capacity = np.clip(250 - 150 * sand + 30 * bumps(rng, lat, lon, box, 200, (0.1, 0.6)), 60, 300)
    sea = bumps(rng, lat, lon, box, 40, (1.0, 3.0))
    return {"elevation": elevation, "sand": sand, "irrigated": irrigated,
            "irrigated_true": irr_true, "specific_yield": sy, "recharge_lag": lag,
            "capacity": capacity, "land": sea < np.quantile(sea, 0.92)}  # fmt: skip


def _climate(seed: int, months: pd.DatetimeIndex, lat, lon, box: Box, st: dict):
    """Precipitation (mm/month) and temperature (°C), ``(time, lat, lon)``."""
    n = len(months)
    annual = 450.0 * (1 + 0.5 * (st["elevation"] - 600) / 450).clip(0.4)
    precip = np.empty((n, lat.size, lon.size))
    tair = np.empty_like(precip)
    large = np.zeros((lat.size, lon.size))
    for k, m in enumerate(months):
        rng = month_rng(seed, 31, m)
        large = 0.6 * large + 0.8 * bumps(rng, lat, lon, box, 30, (2.0, 6.0))
        storms = bumps(rng, lat, lon, box, 200, (0.1, 0.5))
        precip[k] = annual * SEASON[m.month - 1] * np.exp(0.35 * large + 0.3 * storms - 0.1)
        season = -np.cos(2 * np.pi * (m.month - 0.5) / 12)
        tair[k] = 12 + 14 * season - 6.5 * st["elevation"] / 1000 + 1.5 * large
    return precip, tair


def _simulate(months: pd.DatetimeIndex, precip, tair, st: dict) -> dict[str, np.ndarray]:
    """Run the cells' balance; every store and flux ``(time, lat, lon)``."""
    theta = np.full(st["elevation"].shape, 0.5)
    vadose, storage = np.zeros_like(theta), np.zeros_like(theta)
    tau_g = 150.0 * st["specific_yield"]
    perc = 0.05 + 0.25 * st["sand"]
    first = months[0].year
    out = {k: np.empty_like(precip) for k in ("gw", "theta", "et", "pump")}
    for k, m in enumerate(months):
        pet = np.clip(25 + 5.5 * tair[k], 5, None)
        growth = 1.0 + 0.12 * max(m.year - first - SPINUP_MONTHS // 12, 0)
        pump = st["irrigated_true"] * CROP_DEMAND[m.month - 1] * growth
        water = theta * st["capacity"] + precip[k] + 0.7 * pump
        et = np.minimum(pet * theta**0.7, water)
        water = water - et
        drain = perc * (water / st["capacity"]).clip(0, 1) ** 2 * water
        water = water - drain
        over = np.clip(water - st["capacity"], 0, None)
        theta = (water - over) / st["capacity"]
        vadose = vadose + drain + 0.5 * over
        recharge = vadose / st["recharge_lag"]
        vadose = vadose - recharge
        storage = storage + recharge - pump - storage / tau_g
        for name, v in (("gw", storage), ("theta", theta), ("et", et), ("pump", pump)):
            out[name][k] = v
    return out


def _observed(seed: int, months, sim: dict, precip, tair, st: dict) -> dict[str, np.ndarray]:
    """The covariates a user has: products with their errors."""
    rng = np.random.default_rng([seed, 32])
    shape = precip.shape
    ndvi_base = 0.15 + 0.45 * sim["theta"] + 0.2 * st["irrigated_true"]
    ndvi = np.concatenate([ndvi_base[:1], 0.5 * ndvi_base[1:] + 0.5 * ndvi_base[:-1]])
    return {
        "precip": precip * np.exp(rng.normal(0, 0.1, shape)),
        "et": sim["et"] * np.exp(rng.normal(0, 0.15, shape)),
        "soil_moisture": np.clip(sim["theta"] + rng.normal(0, 0.05, shape), 0, 1),
        "tair": tair,
        "ndvi": np.clip(ndvi + rng.normal(0, 0.03, shape), 0, 1),
    }


def _ar1_field(seed: int, stream: int, months, lat, lon, box: Box, n: int,
               width: tuple[float, float], rho: float) -> np.ndarray:  # fmt: skip
    """``(time, lat, lon)`` unit-variance fields: ``n`` bumps of ``width`` (degrees) drawn
    anew each month (stream ``stream``), AR(1) in time with coefficient ``rho``."""
    out = np.empty((len(months), lat.size, lon.size))
    prev = np.zeros((lat.size, lon.size))
    for k, m in enumerate(months):
        f = bumps(month_rng(seed, stream, m), lat, lon, box, n, width)
        prev = rho * prev + np.sqrt(1 - rho**2) * f
        out[k] = prev
    return out


def _grace_noise(seed: int, months, lat, lon, box: Box, sigma: float) -> np.ndarray:
    """GRACE-like noise of the coarse field: ~1.5° wide, AR(1) in time, 1σ = ``sigma``."""
    return sigma * _ar1_field(seed, 33, months, lat, lon, box, 60, (1.0, 2.0), 0.5)


def make_fine_world(
    size: int = 16, factor: int = 4, seed: int = 0, start: str = "2002-01",
    end: str = "2016-12", south: float = 36.0, west: float = 76.0, cell_deg: float = 0.5,
    noise_mm: float = 10.0, reference_mm: float = 8.0,
) -> xr.Dataset:  # fmt: skip
    """A fine world of ``(size·factor)²`` cells and its coarse ``size²`` view.

    Parameters
    ----------
    size, factor, cell_deg
        Coarse cells per side, fine cells per coarse cell, coarse cell size (degrees).
    start, end
        Months kept (``SPINUP_MONTHS`` more are run before).
    noise_mm
        1σ of the coarse field's GRACE-like noise.
    reference_mm
        1σ of the errors of ``gwsa_fine_reference``: a fine product (a high-resolution
        model, or an interpolation of a dense well network) that a downscaler trained on fine
        patches learns from, over the months its recipe allows.

    Returns
    -------
    xarray.Dataset
        Fine ``(time, lat, lon)``: the covariates (:data:`COVARIATES`), ``gwsa_true`` (mm)
        and the hidden fields; coarse ``(time, lat_coarse, lon_coarse)``: ``gwsa``
        (observed), ``gwsa_true_coarse``, ``land_mask_coarse``; attrs ``factor``.

    Examples
    --------
    >>> w = make_fine_world(size=4, factor=2, start="2005-01", end="2005-12")
    >>> w.gwsa_true.shape, w.gwsa.shape
    ((12, 8, 8), (12, 4, 4))
    """
    box = Box(south, south + size * cell_deg, west, west + size * cell_deg)
    grid = regular_grid(box, size * factor)
    lat, lon = grid["lat"].values, grid["lon"].values
    kept = pd.date_range(start, end, freq="MS")
    months = pd.date_range(kept[0] - pd.DateOffset(months=SPINUP_MONTHS), kept[-1], freq="MS")
    st = _statics(np.random.default_rng([seed, 30]), lat, lon, box)
    precip, tair = _climate(seed, months, lat, lon, box, st)
    sim = _simulate(months, precip, tair, st)
    obs = _observed(seed, months, sim, precip, tair, st)
    keep = slice(SPINUP_MONTHS, None)
    gw = sim["gw"][keep]
    gwsa = baseline_anomaly(gw, kept)
    if not np.isfinite(gwsa).any():  # no baseline month kept: about the record's mean
        gwsa = gw - gw.mean(0)
    ds = _assemble(kept, lat, lon, box, size, factor, seed, noise_mm, st, obs, gwsa,
                   sim["pump"][keep])  # fmt: skip
    error = _reference_error(seed, kept, lat, lon, box, reference_mm)
    ds["gwsa_fine_reference"] = (("time", "lat", "lon"), ds["gwsa_true"].values + error,
                                 {"long_name": "fine GWSA product (truth + errors)",
                                  "units": "mm"})  # fmt: skip
    return ds


def _reference_error(seed: int, months, lat, lon, box: Box, sigma: float) -> np.ndarray:
    """Errors of the fine reference: half their variance 0.1–0.4° wide and AR(1) in time,
    half white, 1σ = ``sigma`` (mm)."""
    smooth = _ar1_field(seed, 35, months, lat, lon, box, 200, (0.1, 0.4), 0.7)
    white = np.random.default_rng([seed, 34]).normal(0, 1, smooth.shape)
    return sigma * np.sqrt(0.5) * (smooth + white)


def _assemble(months, lat, lon, box, size, factor, seed, noise_mm, st, obs, gwsa, pump):
    land = st["land"]
    dims, sdims = ("time", "lat", "lon"), ("lat", "lon")
    data = {}
    for name, (long_name, units) in COVARIATES.items():
        v = st[name] if name in STATIC else obs[name][SPINUP_MONTHS:]
        d = sdims if name in STATIC else dims
        data[name] = (d, np.where(land, v, np.nan), {"long_name": long_name, "units": units})
    data["gwsa_true"] = (dims, np.where(land, gwsa, np.nan),
                         {"long_name": "true groundwater storage anomaly (fine)", "units": "mm"})  # fmt: skip
    data["pumping_true"] = (dims, np.where(land, pump, np.nan), {"units": "mm/month"})
    for name in ("specific_yield", "recharge_lag", "irrigated_true"):
        data[name] = (sdims, np.where(land, st[name], np.nan), {"hidden": "not a covariate"})
    data["land_mask"] = (sdims, land)
    ds = xr.Dataset(data, coords={"time": months, "lat": lat, "lon": lon})
    coarse = coarsen_mean(ds["gwsa_true"], factor)
    c_lat, c_lon = coarse["lat"].values, coarse["lon"].values
    noise = _grace_noise(seed, months, c_lat, c_lon, box, noise_mm)
    c_land = coarsen_mean(ds["land_mask"].astype(float), factor).values > 0
    cdims = ("time", "lat_coarse", "lon_coarse")
    ds["gwsa_true_coarse"] = (cdims, coarse.values, {"units": "mm"})
    ds["gwsa"] = (cdims, np.where(c_land, coarse.values + noise, np.nan),
                  {"long_name": "coarse GWSA (GRACE-like)", "units": "mm"})  # fmt: skip
    ds["gwsa_sigma"] = ((), float(noise_mm), {"units": "mm", "long_name": "coarse GWSA 1σ"})
    ds["land_mask_coarse"] = (("lat_coarse", "lon_coarse"), c_land)
    ds = ds.assign_coords(lat_coarse=c_lat, lon_coarse=c_lon)
    ds.attrs = {"title": "gracefuse fine world (downscaling twin)", "factor": factor,
                "seed": seed, "coarse_size": size}  # fmt: skip
    return ds
