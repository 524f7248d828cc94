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

import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import GRACE_BASELINE, anomalies, month_start, seconds_in_month
from gracefuse.data.grid import crop, standardize_coords
from gracefuse.data.units import as_mm
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


def _open_many(files: list[Path], chunks: dict | None) -> xr.Dataset:
    for f in files:  # check each file before handing them to the lazy combiner
        try:
            with xr.open_dataset(f, decode_times=False) as probe:
                probe.attrs  # noqa: B018
        except Exception as exc:  # noqa: BLE001
            raise InputError(f, f"not a readable netCDF/HDF5 file ({type(exc).__name__})") from exc
    try:
        ds = xr.open_mfdataset(
            [str(f) for f in files],
            combine="by_coords",
            chunks=chunks if chunks is not None else {},
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="exact",
        )
    except Exception as exc:  # noqa: BLE001
        raise InputError(files[0], f"files cannot be combined along time ({exc})") from exc
    return ds


def _require(ds: xr.Dataset, names: Sequence[str], path: Path) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise InputError(
            path,
            f"missing {', '.join(missing)} (has {', '.join(map(str, ds.data_vars))})",
        )


def _finish(
    ds: xr.Dataset, model: str, files: list[Path], baseline: tuple[str, str] | None, box
) -> xr.Dataset:
    ds = standardize_coords(ds)
    t = month_start(ds["time"].values)
    if t.has_duplicates:
        dup = t[t.duplicated()][0]
        raise InputError(files[0], f"two files/steps fall in the same month {dup:%Y-%m}", "time")
    ds = ds.assign_coords(time=t).sortby("time")
    if box is not None:
        ds = crop(ds, box)
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
    }
    return ds


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
    raw = _open_many(files, chunks)
    _require(raw, [*GLDAS_SOIL_LAYERS, "SWE_inst", "CanopInt_inst"], files[0])
    ds = xr.Dataset(coords={k: raw[k] for k in raw.coords if k in ("time", "lat", "lon")})
    layers = [as_mm(raw[n], files[0], n) for n in GLDAS_SOIL_LAYERS]
    ds["soil_moisture"] = sum(layers).assign_attrs(units="mm", long_name="soil moisture 0-200 cm")
    ds["swe"] = as_mm(raw["SWE_inst"], files[0], "snow water equivalent")
    ds["canopy"] = as_mm(raw["CanopInt_inst"], files[0], "canopy interception storage")
    if "Rainf_f_tavg" in raw:
        rate = raw["Rainf_f_tavg"]
        if rate.attrs.get("units", "kg m-2 s-1").replace(" ", "") not in {"kgm-2s-1", "kg/m2/s"}:
            raise InputError(files[0], f"unexpected units {rate.attrs.get('units')!r}", rate.name)
        time = xr.DataArray(month_start(raw["time"].values), dims="time")
        secs = xr.DataArray(seconds_in_month(time).values, dims="time", coords={"time": raw.time})
        ds["precip"] = (rate * secs).assign_attrs(units="mm/month", long_name="precipitation")
    if "Tair_f_inst" in raw:
        ds["tair"] = raw["Tair_f_inst"].assign_attrs(units="K", long_name="air temperature")
    return _finish(ds, "gldas_noah", files, baseline, box)


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
    raw = _open_many(files, chunks)
    if "valid_time" in raw.dims or "valid_time" in raw.coords:
        raw = raw.rename({"valid_time": "time"})
    raw = raw.drop_vars([v for v in ("expver", "number") if v in raw.variables])
    _require(raw, [*ERA5_LAYERS_MM, "sd"], files[0])
    ds = xr.Dataset(
        coords={k: raw[k] for k in raw.coords if k in ("time", "latitude", "longitude")}
    )
    sm = sum(raw[n] * depth for n, depth in ERA5_LAYERS_MM.items())
    ds["soil_moisture"] = sm.assign_attrs(units="mm", long_name="soil moisture 0-289 cm")
    ds["swe"] = as_mm(raw["sd"], files[0], "snow water equivalent")
    if "src" in raw:
        ds["canopy"] = as_mm(raw["src"], files[0], "skin reservoir content")
    if "tp" in raw:
        days = raw["time"].dt.days_in_month
        ds["precip"] = (raw["tp"] * 1000.0 * days).assign_attrs(
            units="mm/month", long_name="total precipitation"
        )
    if "t2m" in raw:
        ds["tair"] = raw["t2m"].assign_attrs(units="K", long_name="2 m temperature")
    return _finish(ds, "era5_land", files, baseline, box)


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
