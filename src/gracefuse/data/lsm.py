"""Readers for land-surface model output: GLDAS-2.x Noah monthly files and ERA5-Land.

Both return ``(time, lat, lon)`` Datasets in mm with the storage components kept:
``soil_moisture``, ``swe``, ``canopy``, their sum ``tws`` and its anomaly ``twsa``,
plus ``precip`` (mm/month) and ``tair`` (K). Multi-file opening is lazy (dask).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import GRACE_BASELINE, anomalies, month_start, seconds_in_month
from gracefuse.data.checks import (
    backend_message,
    check_complete,
    check_overlap,
    check_values,
    empty_months,
    to_time_lat_lon,
)
from gracefuse.data.units import (
    as_mm,
    daily_depth_factor,
    fraction_factor,
    kelvin_offset,
    rate_factor,
)
from gracefuse.errors import InputError

GLDAS_SOIL_LAYERS = (
    "SoilMoi0_10cm_inst",
    "SoilMoi10_40cm_inst",
    "SoilMoi40_100cm_inst",
    "SoilMoi100_200cm_inst",
)
#: ERA5-Land volumetric soil water layers and their thickness in mm
ERA5_LAYERS_MM = {"swvl1": 70.0, "swvl2": 210.0, "swvl3": 720.0, "swvl4": 1890.0}


def _expand(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        s = str(p)
        hits = sorted(glob.glob(s)) if any(c in s for c in "*?[") else [s]
        if not hits:
            raise InputError(s, "no file matches this pattern")
        out.extend(Path(h) for h in hits)
    for p in out:
        if not p.exists():
            raise InputError(p, "file not found")
    return out


def _probe(f: Path) -> None:
    """One file before the lazy combiner sees it: complete, readable, with a time axis
    that has CF units."""
    if f.is_dir():
        raise InputError(f, "is a folder, not a netCDF file")
    check_complete(f)
    try:
        with xr.open_dataset(f, decode_times=False) as probe:
            name = next((t for t in ("time", "valid_time") if t in probe.variables), None)
            units = probe[name].attrs.get("units") if name else None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f, f"not a readable netCDF/HDF5 file ({type(exc).__name__})") from exc
    if name is None:
        raise InputError(f, "has no 'time' (or 'valid_time') variable; cannot place it in time")
    if not isinstance(units, str) or " since " not in units:
        raise InputError(
            f, f"time has units {units!r}, not 'UNIT since DATE'; cannot place it in time", name
        )


def _open_many(files: list[Path], chunks: dict | None, box=None) -> xr.Dataset:
    """The files combined along time on ``(time, lat, lon)``, cropped to ``box`` (lazy)."""
    for f in files:
        _probe(f)
    try:
        ds = xr.open_mfdataset(
            [str(f) for f in files],
            combine="by_coords",
            chunks=chunks if chunks is not None else {},
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="exact",
            decode_times=xr.coders.CFDatetimeCoder(use_cftime=False),
        )
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            files[0], f"files cannot be read and combined along time ({backend_message(exc)})"
        ) from exc
    if "valid_time" in ds.variables and "time" not in ds.dims:
        ds = ds.drop_vars("time", errors="ignore").rename({"valid_time": "time"})
    if not np.issubdtype(ds["time"].dtype, np.datetime64) or ds["time"].isnull().any():
        raise InputError(files[0], "time values cannot be read as dates", "time")
    ds = to_time_lat_lon(ds, files[0])
    return ds if box is None else check_overlap(ds, box, files[0])


def _require(ds: xr.Dataset, names: Sequence[str], path: Path) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise InputError(
            path,
            f"missing {', '.join(missing)} (has {', '.join(map(str, ds.data_vars))})",
        )


def _finish(
    ds: xr.Dataset, model: str, files: list[Path], baseline: tuple[str, str] | None
) -> xr.Dataset:
    t = month_start(ds["time"].values)
    if t.has_duplicates:
        dup = t[t.duplicated()][0]
        raise InputError(files[0], f"two files/steps fall in the same month {dup:%Y-%m}", "time")
    ds = ds.assign_coords(time=t).sortby("time")
    comps = [c for c in ("soil_moisture", "swe", "canopy") if c in ds]
    ds["tws"] = sum(ds[c] for c in comps).assign_attrs(
        units="mm", long_name=f"terrestrial water storage ({' + '.join(comps)})"
    )
    use = baseline
    if baseline is not None:
        t0, t1 = pd.Timestamp(baseline[0]), pd.Timestamp(baseline[1])
        if ds["time"].values.min() > t0.to_datetime64() or ds["time"].values.max() < t1:
            use = None  # the record does not span the baseline: use its own mean, and say so
    ds["twsa"] = anomalies(ds["tws"], use).assign_attrs(
        units="mm", long_name="terrestrial water storage anomaly"
    )
    ds.attrs = {
        "title": f"{model} land-surface model storage",
        "source_product": model,
        "source_file": ", ".join(str(f) for f in files[:3]) + (" …" if len(files) > 3 else ""),
        "anomaly_baseline": ds["twsa"].attrs["anomaly_baseline"],
        "missing_months": ", ".join(empty_months(ds["tws"])),
    }
    return ds


def _checked(raw: xr.Dataset, name: str, converted, quantity: str, path: Path, **attrs):
    """``converted`` (from ``raw[name]``) after the raw and range checks, with ``attrs``."""
    return check_values(raw[name], converted, quantity, path, name).assign_attrs(attrs)


def open_gldas(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    baseline: tuple[str, str] | None = GRACE_BASELINE,
    box=None,
    chunks: dict | None = None,
) -> xr.Dataset:
    """GLDAS-2.x Noah monthly files (``GLDAS_NOAH025_M.A200201.021.nc4``, one per month).

    TWS = the four ``SoilMoi*_inst`` layers + ``SWE_inst`` + ``CanopInt_inst`` (kg m-2 = mm);
    ``precip`` from ``Rainf_f_tavg`` (kg m-2 s-1 × seconds in month = mm/month);
    ``tair`` from ``Tair_f_inst`` (K). GLDAS fill values (-9999) become NaN.
    """
    files = _expand(paths)
    raw = _open_many(files, chunks, box)
    f0 = files[0]
    _require(raw, [*GLDAS_SOIL_LAYERS, "SWE_inst", "CanopInt_inst"], f0)
    ds = xr.Dataset(coords={k: raw[k] for k in ("time", "lat", "lon")})
    layers = sum(
        _checked(raw, n, as_mm(raw[n], f0, n), "soil_moisture", f0) for n in GLDAS_SOIL_LAYERS
    )
    ds["soil_moisture"] = layers.assign_attrs(units="mm", long_name="soil moisture 0-200 cm")
    swe = as_mm(raw["SWE_inst"], f0, "snow water equivalent")
    ds["swe"] = _checked(raw, "SWE_inst", swe, "swe", f0)
    canopy = as_mm(raw["CanopInt_inst"], f0, "canopy interception storage")
    ds["canopy"] = _checked(raw, "CanopInt_inst", canopy, "canopy", f0)
    if "Rainf_f_tavg" in raw:
        rate = raw["Rainf_f_tavg"] * rate_factor(
            raw["Rainf_f_tavg"].attrs.get("units"), f0, "Rainf_f_tavg"
        )
        precip = rate * seconds_in_month(raw["time"])
        ds["precip"] = _checked(raw, "Rainf_f_tavg", precip, "precip", f0, units="mm/month",
                                long_name="precipitation")  # fmt: skip
    if "Tair_f_inst" in raw:
        tair = raw["Tair_f_inst"] + kelvin_offset(
            raw["Tair_f_inst"].attrs.get("units"), f0, "Tair_f_inst"
        )
        ds["tair"] = _checked(
            raw, "Tair_f_inst", tair, "tair", f0, units="K", long_name="air temperature"
        )
    return _finish(ds, "gldas_noah", files, baseline)


def open_era5_land(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    baseline: tuple[str, str] | None = GRACE_BASELINE,
    box=None,
    chunks: dict | None = None,
) -> xr.Dataset:
    """ERA5-Land monthly means (``reanalysis-era5-land-monthly-means``).

    Soil moisture = Σ ``swvl1..4`` (m³ m⁻³) × layer thickness (70, 210, 720, 1890 mm);
    ``sd`` (m of water equivalent) → ``swe`` in mm; ``src`` (skin reservoir, m) → canopy;
    ``tp`` (m per day, monthly mean of daily totals) → mm/month; ``t2m`` in K.
    Handles both ``time`` and the newer ``valid_time`` axis, and drops ``expver``/``number``.
    """
    files = _expand(paths)
    raw = _open_many(files, chunks, box)
    f0 = files[0]
    raw = raw.drop_vars([v for v in ("expver", "number") if v in raw.variables])
    _require(raw, [*ERA5_LAYERS_MM, "sd"], f0)
    ds = xr.Dataset(coords={k: raw[k] for k in ("time", "lat", "lon")})
    sm = 0
    for n, depth in ERA5_LAYERS_MM.items():
        theta = raw[n] * fraction_factor(raw[n].attrs.get("units"), f0, n)
        sm = sm + _checked(raw, n, theta, "volumetric_soil_water", f0) * depth
    ds["soil_moisture"] = sm.assign_attrs(units="mm", long_name="soil moisture 0-289 cm")
    ds["swe"] = _checked(raw, "sd", as_mm(raw["sd"], f0, "snow water equivalent"), "swe", f0)
    if "src" in raw:
        src = as_mm(raw["src"], f0, "skin reservoir content")
        ds["canopy"] = _checked(raw, "src", src, "canopy", f0)
    if "tp" in raw:
        per_day = raw["tp"] * daily_depth_factor(raw["tp"].attrs.get("units"), f0, "tp")
        precip = per_day * raw["time"].dt.days_in_month
        ds["precip"] = _checked(raw, "tp", precip, "precip", f0, units="mm/month",
                                long_name="total precipitation")  # fmt: skip
    if "t2m" in raw:
        t2m = raw["t2m"] + kelvin_offset(raw["t2m"].attrs.get("units"), f0, "t2m")
        ds["tair"] = _checked(raw, "t2m", t2m, "tair", f0, units="K", long_name="2 m temperature")
    return _finish(ds, "era5_land", files, baseline)


def open_lsm(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    model: str = "gldas_noah",
    **kwargs,
) -> xr.Dataset:
    """Open land-surface model files; ``model`` is ``"gldas_noah"`` or ``"era5_land"``."""
    readers = {"gldas_noah": open_gldas, "era5_land": open_era5_land}
    if model not in readers:
        raise InputError(None, f"unknown LSM {model!r}; choose one of {sorted(readers)}")
    return readers[model](paths, **kwargs)


def daily_precip_to_monthly(rate: xr.DataArray) -> xr.DataArray:
    """kg m-2 s-1 rates at daily steps → mm per month totals (mean rate × seconds)."""
    monthly = rate.resample(time="MS").mean()
    return (monthly * seconds_in_month(monthly["time"])).assign_attrs(units="mm/month")


__all__ = [
    "open_lsm",
    "open_gldas",
    "open_era5_land",
    "daily_precip_to_monthly",
    "GLDAS_SOIL_LAYERS",
    "ERA5_LAYERS_MM",
]
