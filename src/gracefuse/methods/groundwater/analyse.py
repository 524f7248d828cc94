"""The steps of a groundwater analysis, each on what the inputs hold: the three-cornered
hat (≥ 3 products), the separation (components given), then trends, hotspots, STL,
seasons and drivers of the analysed storage (GWSA when separated, else TWSA)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.analysis.separation import separate
from gracefuse.analysis.tch import tch_dataset
from gracefuse.analysis.trends import (
    Trend,
    amplitude_phase,
    gap_filled,
    hotspots,
    lagged_correlation_values,
    sen_trend,
    stl_columns,
    stl_components,
    trend_dataset,
)
from gracefuse.data.anomalies import month_start
from gracefuse.data.grid import region_mean, smooth_over_land
from gracefuse.errors import InputError
from gracefuse.methods.groundwater.config import GroundwaterConfig, Region
from gracefuse.methods.groundwater.inputs import GroundwaterInputs

log = logging.getLogger(__name__)


@dataclass
class GroundwaterResult:
    """Everything a groundwater run computed (``None`` where a step did not apply)."""

    inputs: GroundwaterInputs
    analysed: str  # "gwsa" or "twsa"
    storage: xr.DataArray  # the analysed storage (time, *space), mm
    uncertainty: xr.DataArray | None  # its 1σ (time, *space), mm
    separation: xr.Dataset | None
    tch: xr.Dataset | None
    trends: xr.Dataset
    area_mean: xr.Dataset  # the analysed storage averaged over the area, and its 1σ
    area_trend: Trend  # of ``area_mean`` over the trend window
    stl: xr.Dataset | None
    seasons: xr.Dataset
    drivers: pd.DataFrame
    regions: pd.DataFrame
    timings: dict = field(default_factory=dict)
    table: pd.DataFrame | None = None  # the metrics, once scored


def smooth_components(inputs: GroundwaterInputs, fwhm_deg: float) -> None:
    """Grids: smooth every component and its error to GRACE's resolution (a Gaussian of
    ``fwhm_deg`` over land), in place, so that TWSA and the stores taken off it resolve
    the same scales."""
    mask = inputs.mask.values
    res = float(abs(np.diff(inputs.mask["lat"].values).mean()))
    sigma = fwhm_deg / 2.3548 / res

    def smooth(da: xr.DataArray) -> xr.DataArray:
        return da.copy(data=smooth_over_land(np.nan_to_num(da.values), mask, sigma))

    for name, comp in inputs.components.items():
        inputs.components[name] = smooth(comp)
        if isinstance(inputs.component_errors.get(name), xr.DataArray):
            inputs.component_errors[name] = smooth(inputs.component_errors[name])
    log.info("components smoothed to GRACE's %.2f° (Gaussian FWHM)", fwhm_deg)


def run_tch(inputs: GroundwaterInputs) -> xr.Dataset:
    """TCH over the products; their combination becomes TWSA, its TCH noise TWSA's 1σ."""
    products = inputs.products
    if products.sizes["product"] < 3:
        raise InputError(None, f"the three-cornered hat needs ≥ 3 products, got "
                         f"{products.sizes['product']}", "products")  # fmt: skip
    tch = tch_dataset(products)
    inputs.twsa = tch["combined"].assign_attrs(units="mm").transpose("time", ...)
    inputs.twsa_error = tch["noise_std"].sel(product="combined").drop_vars("product")
    inputs.twsa_error = inputs.twsa_error.broadcast_like(inputs.twsa).where(
        np.isfinite(inputs.twsa)
    )
    return tch


def run_separation(inputs: GroundwaterInputs, cfg: GroundwaterConfig) -> xr.Dataset:
    """``gwsa = twsa − Σ components`` with the errors propagated (:func:`separate`);
    a component without a stated error gets the recipe's fraction of its std."""
    errors = {k: inputs.component_errors.get(k, cfg.component_error) for k in inputs.components}
    if inputs.twsa_error is not None:
        errors["twsa"] = inputs.twsa_error
    ds = separate(inputs.twsa, inputs.components, errors, tuple(cfg.baseline),
                  cfg.correlation, inputs.area_km2)  # fmt: skip
    ds.attrs["component_errors"] = "; ".join(
        f"{k}: {'stated/spread' if isinstance(v, xr.DataArray) else f'{v} of its std'}"
        for k, v in errors.items())  # fmt: skip
    return ds


def area_mean(storage: xr.DataArray, sigma: xr.DataArray | None, inputs) -> xr.Dataset:
    """The storage averaged over the area (grids: area-weighted over land; basins: the
    mean over basins) and its 1σ: the mean of the cells' σ (their errors taken as fully
    correlated in space, an upper bound), or, for a separated grid, :func:`area_sigma`."""

    def mean(da):
        if inputs.space == "grid":
            return region_mean(da, inputs.mask)
        return da.mean("basin") if inputs.space == "basin" else da

    out = xr.Dataset({"storage": mean(storage)})
    if sigma is not None:
        out["uncertainty"] = mean(sigma).assign_attrs(method="mean of the cells' 1σ")
    if sigma is not None and inputs.space == "grid" and inputs.area_errors:
        out["uncertainty"] = area_sigma(mean(inputs.twsa), inputs, mean)
    return out


def area_sigma(twsa_mean: xr.DataArray, inputs, mean) -> xr.DataArray:
    """1σ of an area-mean GWSA: TWSA's as the spread of the area mean's STL residual
    (what trend and seasons leave; Wahr et al. 2006's upper bound of GRACE's error), each
    store's as its area-mean error (the LSMs' spread of their area means), in quadrature."""
    stl = stl_components(twsa_mean)
    resid = stl["resid"].where(~stl["filled"])
    var = float(resid.std()) ** 2
    for name in inputs.components:
        err = inputs.area_errors.get(name)
        if err is None:  # no area-mean error: the cells' σ taken as fully correlated
            cell = inputs.component_errors.get(name)
            err = mean(cell) if isinstance(cell, xr.DataArray) else 0.0
        var = var + err**2
    sig = np.sqrt(xr.zeros_like(twsa_mean) + var)
    return sig.where(np.isfinite(twsa_mean)).assign_attrs(
        units="mm", method="TWSA: spread of the area mean's STL residual; stores: the "
        "LSMs' spread of their area means; in quadrature")  # fmt: skip


def _window(da: xr.DataArray, cfg: GroundwaterConfig) -> xr.DataArray:
    start = pd.Timestamp(cfg.trend_start) if cfg.trend_start else None
    end = pd.Timestamp(cfg.trend_end) if cfg.trend_end else None
    return da.sel(time=slice(start, end))


def run_trends(storage: xr.DataArray, cfg: GroundwaterConfig) -> xr.Dataset:
    """Sen slopes with intervals and MK p-values per location, with significance and
    (grids, basins) hotspots below the recipe's threshold."""
    tr = trend_dataset(_window(storage, cfg), cfg.alpha, cfg.trend_test)
    tr["significant"] = (tr["p_value"] < cfg.alpha).assign_attrs(alpha=cfg.alpha)
    if storage.ndim > 1:
        tr["hotspot"] = hotspots(tr, cfg.hotspot_threshold, cfg.alpha)
    t = _window(storage, cfg)["time"].values
    tr.attrs["period"] = f"{pd.Timestamp(t[0]):%Y-%m}..{pd.Timestamp(t[-1]):%Y-%m}"
    return tr


def locations(da: xr.DataArray) -> list[dict]:
    """The selectors of every location of ``da`` with data (none for a series)."""
    space = [d for d in da.dims if d != "time"]
    if not space:
        return [{}]
    valid = np.isfinite(da).any("time").stack(loc=space)
    keys = [k if isinstance(k, tuple) else (k,) for k in valid["loc"].values]
    return [dict(zip(space, k, strict=True))
            for k, ok in zip(keys, valid.values, strict=True) if ok]  # fmt: skip


def run_seasons(storage: xr.DataArray) -> xr.Dataset:
    """Annual amplitude (mm) and peak month of every location."""
    space = [d for d in storage.dims if d != "time"]
    amp = xr.full_like(storage.isel(time=0, drop=True), np.nan).rename("amplitude")
    peak = amp.copy().rename("peak_month")
    for sel in locations(storage):
        a, p = amplitude_phase(storage.sel(sel))
        amp.loc[sel], peak.loc[sel] = a, p
    ds = xr.Dataset({"amplitude": amp.assign_attrs(units="mm"),
                     "peak_month": peak.assign_attrs(units="month (1-12)")})  # fmt: skip
    return ds if space else ds.squeeze()


def _stl_or_none(da: xr.DataArray) -> xr.Dataset | None:
    try:
        return stl_components(da)
    except InputError:
        return None


def stl_parts(da: xr.DataArray, months: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Robust STL (:func:`stl_columns`) of every location of ``da`` on ``months``:
    ``trend`` and ``seasonal`` ``(time, locations)``, gaps interpolated first, NaN where a
    location has fewer than 25 months or does not vary."""
    full = gap_filled(da).reindex(time=months)
    flat = full.transpose("time", ...).values.reshape(len(months), -1)
    with np.errstate(invalid="ignore"):
        constant = ~(np.nanmax(flat, 0, initial=-np.inf) > np.nanmin(flat, 0, initial=np.inf))
    return stl_columns(np.where(constant[None], np.nan, flat))


def _labels(da: xr.DataArray) -> list[str]:
    space = [d for d in da.dims if d != "time"]
    if not space:
        return ["series"]
    idx = da.isel(time=0, drop=True).stack(loc=space).indexes["loc"]
    return [",".join(f"{v:g}" if isinstance(v, float) else str(v)
                     for v in (k if isinstance(k, tuple) else (k,))) for k in idx]  # fmt: skip


def driver_table(storage: xr.DataArray, drivers: dict, max_lag: int) -> pd.DataFrame:
    """Per location, the lagged correlation of the storage's STL trend and seasonal parts
    with each driver's same part: rows ``location, driver, component, lag, r``."""
    columns = ["location", "driver", "component", "lag", "r"]
    if not drivers:
        return pd.DataFrame(columns=columns)
    t = month_start(storage["time"].values)
    months = pd.date_range(t[0], t[-1], freq="MS")
    target = stl_parts(storage, months)
    labels, rows = _labels(storage), []
    for name, drv in drivers.items():
        parts = stl_parts(drv.transpose("time", *[d for d in storage.dims if d != "time"]),
                          months)  # fmt: skip
        for comp in ("trend", "seasonal"):
            a, b = target[comp], parts[comp]
            for k, where in enumerate(labels):
                if np.isfinite(a[:, k]).any() and np.isfinite(b[:, k]).any():
                    lag, r = lagged_correlation_values(a[:, k], b[:, k], max_lag)
                    rows.append((where, name, comp, lag, r))
    return pd.DataFrame(rows, columns=columns)


def region_rows(storage: xr.DataArray, trends: xr.Dataset, regions: list[Region],
                cfg: GroundwaterConfig, mask) -> pd.DataFrame:  # fmt: skip
    """For each named box: its area-mean trend (Sen, interval, p) and the share of its
    cells that are hotspots."""
    rows = []
    for reg in regions:
        s, n, w, e = reg.box
        sub = storage.sel(lat=slice(s, n), lon=slice(w, e))
        if sub.sizes["lat"] == 0 or sub.sizes["lon"] == 0:
            raise InputError(None, f"region {reg.name!r}: box {reg.box} holds no cell",
                             "groundwater.regions")  # fmt: skip
        series = _window(region_mean(sub, mask), cfg)
        tr = sen_trend(series.values, series["time"].values, cfg.alpha, cfg.trend_test)
        hot = trends["hotspot"].sel(lat=slice(s, n), lon=slice(w, e))
        land = np.isfinite(trends["slope"].sel(lat=slice(s, n), lon=slice(w, e)))
        rows.append({"region": reg.name, "box": reg.box, "slope": tr.slope, "slope_lower": tr.lower,
                     "slope_upper": tr.upper, "p_value": tr.p_value,
                     "hotspot_share": float(hot.where(land).mean()),
                     "hotspot_found": float(tr.p_value < cfg.alpha
                                            and tr.slope < cfg.hotspot_threshold),
                     "expect_hotspot": reg.expect_hotspot, "text": str(tr)})  # fmt: skip
    return pd.DataFrame(rows)


def analyse(inputs: GroundwaterInputs, cfg: GroundwaterConfig) -> GroundwaterResult:
    """Every step that the inputs allow, in order, timed."""
    timings, t0 = {}, time.perf_counter()
    tch = run_tch(inputs) if inputs.products is not None else None
    timings["tch"] = time.perf_counter() - t0
    separation = None
    if inputs.components:
        if cfg.smooth_fwhm_deg > 0 and inputs.space == "grid":
            smooth_components(inputs, cfg.smooth_fwhm_deg)
        separation = run_separation(inputs, cfg)
        storage, sigma, analysed = separation["gwsa"], separation["gwsa_uncertainty"], "gwsa"
    else:
        storage, analysed = inputs.twsa.assign_attrs(units="mm"), "twsa"
        sigma = inputs.twsa_error if isinstance(inputs.twsa_error, xr.DataArray) else None
    timings["separation"] = time.perf_counter() - t0 - timings["tch"]
    t1 = time.perf_counter()
    trends = run_trends(storage, cfg)
    seasons = run_seasons(storage)
    timings["trends"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    mean = area_mean(storage, sigma, inputs)
    stl = _stl_or_none(mean["storage"])
    window = _window(mean["storage"], cfg)
    area_trend = sen_trend(window.values, window["time"].values, cfg.alpha, cfg.trend_test)
    drivers = driver_table(storage, inputs.drivers, cfg.max_lag)
    if inputs.drivers and inputs.space != "series":
        mean_drivers = {k: area_mean(v, None, inputs)["storage"] for k, v in inputs.drivers.items()}
        area = driver_table(mean["storage"], mean_drivers, cfg.max_lag)
        drivers = pd.concat([drivers, area.assign(location="area_mean")], ignore_index=True)
    timings["drivers"] = time.perf_counter() - t1
    regions = (region_rows(storage, trends, cfg.regions, cfg, inputs.mask)
               if cfg.regions else pd.DataFrame())  # fmt: skip
    return GroundwaterResult(inputs, analysed, storage, sigma, separation, tch, trends, mean,
                             area_trend, stl, seasons, drivers, regions, timings)  # fmt: skip
