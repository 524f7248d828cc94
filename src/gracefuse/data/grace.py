"""Readers for GRACE/GRACE-FO mascon products and GRACE-like CF grids.

Handled: JPL RL06.x CRI mascons (cm, 0–360° longitudes, ``days since 2002-01-01``,
``uncertainty``, gain factors in the file or in ``CLM4.SCALE_FACTOR...nc``, land mask in
``LAND_MASK...nc``), CSR RL06 mascons (0.25°, separate ``LO_val`` land mask), GSFC mascons,
and any CF grid of water-storage anomalies (e.g. the India reconstruction of Moudgil & Rao).

The output follows the package conventions: ``twsa`` in mm on ``(time, lat, lon)``,
``time`` at month starts over the full monthly range with missing months as NaN, the
solution's own epoch kept as the ``grace_epoch`` coordinate.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import GRACE_BASELINE
from gracefuse.data.checks import (
    backend_message,
    check_complete,
    check_overlap,
    check_range,
    check_raw,
    check_values,
    empty_months,
    to_time_lat_lon,
)
from gracefuse.data.units import as_mm
from gracefuse.errors import InputError

TWS_NAMES = ("lwe_thickness", "twsa", "tws", "TWS", "lwe", "tws_anomaly", "TWSA")
UNCERTAINTY_NAMES = ("uncertainty", "twsa_uncertainty", "lwe_thickness_uncertainty")
SCALE_FACTOR_NAMES = ("scale_factor", "scale_factors", "gain_factor")
LAND_MASK_NAMES = ("land_mask", "LO_val", "GLDAS_mask", "mask", "landmask")

#: Calendar months with no GRACE/GRACE-FO solution (JPL/CSR/GSFC RL06), 2002-04..2019-12.
#: The GRACE/GRACE-FO gap is 2017-07..2018-05.
GRACE_MISSING_MONTHS: tuple[str, ...] = (
    "2002-06", "2002-07", "2003-06", "2011-01", "2011-06", "2012-05", "2012-10",
    "2013-03", "2013-08", "2013-09", "2014-02", "2014-07", "2014-12", "2015-06",
    "2015-10", "2015-11", "2016-04", "2016-09", "2016-10", "2017-02",
    "2017-07", "2017-08", "2017-09", "2017-10", "2017-11", "2017-12",
    "2018-01", "2018-02", "2018-03", "2018-04", "2018-05",
    "2018-08", "2018-09",
)  # fmt: skip
GRACE_FO_GAP: tuple[str, str] = ("2017-07", "2018-05")


def open_netcdf(path: str | os.PathLike, **kwargs) -> xr.Dataset:
    """Open a netCDF/HDF5 file, turning any failure into an :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.is_dir():
        raise InputError(p, "is a folder, not a netCDF file")
    check_complete(p)
    try:
        return xr.open_dataset(p, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any backend failure means "not readable netCDF"
        raise InputError(p, f"not a readable netCDF/HDF5 file ({type(exc).__name__})") from exc


def find_variable(
    ds: xr.Dataset, names: tuple[str, ...], path: str | os.PathLike, what: str
) -> str:
    """First of ``names`` present in ``ds``; an :class:`InputError` listing what is there."""
    for name in names:
        if name in ds.variables:
            return name
    lower = {str(v).lower(): str(v) for v in ds.variables}
    for name in names:
        if name.lower() in lower:
            return lower[name.lower()]
    raise InputError(
        path,
        f"no {what} variable (looked for {', '.join(names)}); "
        f"the file has {', '.join(map(str, ds.data_vars)) or 'no data variables'}",
    )


def detect_product(ds: xr.Dataset) -> str:
    """Name of the GRACE product of ``ds``: jpl_mascon, csr_mascon, gsfc_mascon or grace_like."""
    centres = {
        "jpl_mascon": ("JPL", "JET PROPULSION"),
        "csr_mascon": ("CSR", "CENTER FOR SPACE RESEARCH"),
        "gsfc_mascon": ("GSFC", "GODDARD"),
    }
    # the title names the solution; institution/source only break ties
    for keys in (("title", "filename"), ("title", "filename", "institution", "source", "summary")):
        text = " ".join(str(ds.attrs.get(k, "")) for k in keys).upper()
        if "MASCON" not in text and "MSCN" not in text:
            continue
        for product, words in centres.items():
            if any(w in text for w in words):
                return product
    return "grace_like"


def _decode_times(ds: xr.Dataset, path: Path) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex | None]:
    """Epochs of the solutions, and the midpoints of their time bounds when given."""
    if "time" not in ds.variables:
        raise InputError(path, "has no 'time' variable; cannot place the solutions in time")
    units = ds["time"].attrs.get("units")
    if not isinstance(units, str) or " since " not in units:
        raise InputError(
            path,
            f"time has units {units!r}, not 'UNIT since DATE' (e.g. 'days since 2002-01-01'); "
            "cannot place the solutions in time",
            "time",
        )
    names = ["time", *[b for b in ("time_bounds", "time_bnds") if b in ds.variables]]
    raw = ds[names].copy()
    for b in names[1:]:
        raw[b].attrs.setdefault("units", ds["time"].attrs.get("units"))
        raw[b].attrs.setdefault("calendar", ds["time"].attrs.get("calendar", "standard"))
    try:
        dec = xr.decode_cf(raw, decode_times=xr.coders.CFDatetimeCoder(use_cftime=False))
    except Exception as exc:  # noqa: BLE001
        calendar = ds["time"].attrs.get("calendar", "standard")
        raise InputError(
            path,
            f"time values cannot be read as dates with units {units!r} and calendar "
            f"{calendar!r} ({backend_message(exc)})",
            "time",
        ) from exc
    epochs = pd.DatetimeIndex(np.asarray(dec["time"].values, dtype="datetime64[ns]"))
    if epochs.isna().any():
        first = int(np.flatnonzero(epochs.isna())[0])
        raise InputError(
            path,
            f"{int(epochs.isna().sum())} time value(s) are missing (first at index {first})",
            "time",
        )
    mids = None
    if len(names) > 1:
        bnd = np.asarray(dec[names[1]].values, dtype="datetime64[ns]")
        if bnd.ndim == 2 and bnd.shape[1] == 2:
            mids = pd.DatetimeIndex(bnd[:, 0] + (bnd[:, 1] - bnd[:, 0]) / 2)
    return epochs, mids


def assign_calendar_months(
    epochs: pd.DatetimeIndex, midpoints: pd.DatetimeIndex | None = None
) -> tuple[pd.DatetimeIndex, list[str]]:
    """Map each GRACE solution to one calendar month (stamped at its first day).

    A solution belongs to the month holding the midpoint of its time span (its epoch when no
    bounds are given). When two solutions fall in the same month, the earlier one moves to
    the previous month if that month is empty, else the later one moves to the next empty
    month; if neither neighbour is free both stay (and are averaged by the caller).

    Returns
    -------
    months, notes
        One month start per solution, and human-readable notes of every move.
    """
    ref = midpoints if midpoints is not None else epochs
    months = list(ref.to_period("M"))
    notes: list[str] = []
    taken: dict[pd.Period, list[int]] = {}
    for i, m in enumerate(months):
        taken.setdefault(m, []).append(i)
    for m in sorted(taken):
        idx = taken[m]
        if len(idx) < 2:
            continue
        first, last = idx[0], idx[-1]
        if (m - 1) not in taken:
            months[first] = m - 1
            taken[m - 1] = [first]
            idx.remove(first)
            notes.append(f"solution at {epochs[first]:%Y-%m-%d} moved from {m} to {m - 1}")
        elif (m + 1) not in taken:
            months[last] = m + 1
            taken[m + 1] = [last]
            idx.remove(last)
            notes.append(f"solution at {epochs[last]:%Y-%m-%d} moved from {m} to {m + 1}")
        else:
            notes.append(f"{m}: {len(idx)} solutions averaged")
    return pd.PeriodIndex(months).to_timestamp(), notes


def _aux_field(
    source: str | os.PathLike | xr.DataArray,
    names: tuple[str, ...],
    what: str,
    like: xr.Dataset,
    path: Path | None = None,
) -> xr.DataArray:
    """Load a 2-D auxiliary field (gain factors, land mask) onto the grid of ``like``;
    ``path`` names the file a DataArray ``source`` came from."""
    if isinstance(source, xr.DataArray):
        da = source
    else:
        path = Path(source)
        aux = open_netcdf(path)
        da = aux[find_variable(aux, names, path, what)]
    name = str(da.name)
    da = to_time_lat_lon(da.squeeze(drop=True), path, name)
    if da.dtype == bool:
        da = da.astype(float)
    if set(da.dims) != {"lat", "lon"}:
        raise InputError(path, f"{what} must be a (lat, lon) field, got dims {da.dims}", name)
    check_raw(da, path, name)
    if da.isnull().all():
        raise InputError(path, f"{what} holds no valid value (all NaN)", name)
    check_range(da, "gain_factor" if "gain" in what else "land_fraction", path, name)
    step = float(np.abs(np.diff(like["lat"].values)).min()) / 2 if like.sizes["lat"] > 1 else 0.5
    try:
        out = da.reindex(lat=like["lat"], lon=like["lon"], method="nearest", tolerance=step)
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            path, f"{what} cannot be aligned with the GRACE grid ({exc})", name
        ) from exc
    if out.isnull().all():
        raise InputError(
            path,
            f"{what} does not overlap the GRACE grid (field lat {float(da.lat.min()):g}.."
            f"{float(da.lat.max()):g}, GRACE lat {float(like.lat.min()):g}..{float(like.lat.max()):g})",
            name,
        )
    return out


def open_grace(
    path: str | os.PathLike,
    scale_factors: str | os.PathLike | xr.DataArray | None = None,
    land_mask: str | os.PathLike | xr.DataArray | None = None,
    *,
    variable: str | None = None,
    box=None,
    apply_scale_factors: bool = True,
    chunks: dict | None = None,
) -> xr.Dataset:
    """Open a GRACE/GRACE-FO TWSA product as a gracefuse Dataset.

    Parameters
    ----------
    path
        A JPL/CSR/GSFC mascon netCDF or any CF grid of water-storage anomalies.
    scale_factors
        JPL gain factors: a ``CLM4.SCALE_FACTOR...nc`` path or a DataArray. When ``None``,
        a ``scale_factor`` variable inside the file is used if present.
    land_mask
        ``LAND_MASK...nc`` (JPL), ``..._LandMask.nc`` (CSR, ``LO_val``), or a DataArray;
        cells outside it become NaN. A ``land_mask`` variable in the file is used if present.
    variable
        Name of the storage variable when it is not one of the usual ones.
    box
        Optional :class:`~gracefuse.data.grid.Box` to crop to (after longitudes are
        normalised to [-180, 180)).
    apply_scale_factors
        Multiply by the gain factors when available (JPL recommends it for land hydrology).
    chunks
        Passed to :func:`xarray.open_dataset` for lazy (dask) reading of global files.

    Returns
    -------
    xr.Dataset
        ``twsa`` (time, lat, lon) in mm; ``twsa_uncertainty`` (mm) when present;
        ``land_mask`` (lat, lon) bool when known; coordinate ``grace_epoch`` (time).
        attrs: ``source_product``, ``source_file``, ``anomaly_baseline``,
        ``missing_months``, ``month_notes``.
    """
    p = Path(path)
    raw = open_netcdf(p, decode_times=False, chunks=chunks)
    product = detect_product(raw)
    ds, epochs, months, notes = _read_storage(raw, p, variable, box)
    ds, applied = _apply_scale_factors(ds, raw, scale_factors, apply_scale_factors, p)
    ds = _apply_land_mask(ds, raw, land_mask, p)
    ds = _on_calendar_months(ds, epochs, months)
    missing = empty_months(ds["twsa"])  # months without a solution or with no valid cell

    baseline = raw.attrs.get("anomaly_baseline") or raw["time"].attrs.get("anomaly_baseline")
    if baseline is None and product != "grace_like":
        baseline = f"{GRACE_BASELINE[0]}..{GRACE_BASELINE[1]}"
    ds.attrs = {
        "title": f"TWSA from {product.replace('_', ' ')}",
        "source_product": product,
        "source_file": str(p),
        "anomaly_baseline": baseline or "as distributed (not stated in the file)",
        "gain_factors_applied": int(applied),
        "missing_months": ", ".join(missing),
        "month_notes": "; ".join(notes),
    }
    if "twsa" in ds:
        ds["twsa"].attrs["anomaly_baseline"] = ds.attrs["anomaly_baseline"]
    ds["grace_epoch"].attrs = {"long_name": "epoch of the GRACE solution"}
    return ds


def _read_storage(raw: xr.Dataset, p: Path, variable: str | None, box=None):
    """The storage (and uncertainty) in mm on ``(time, lat, lon)``, cropped to ``box`` and
    then checked (only the cells used are read), with each solution's epoch and calendar
    month, and notes on how months were assigned."""
    name = variable or find_variable(raw, TWS_NAMES, p, "water-storage")
    if name not in raw.variables:
        raise InputError(p, "variable not found in file", name)
    da = _on_box(to_time_lat_lon(raw[name], p, name), box, p)
    if da.dims != ("time", "lat", "lon"):
        raise InputError(p, f"expected dims (time, lat, lon), got {da.dims}", name)
    epochs, mids = _decode_times(raw, p)
    if len(epochs) == 0:
        raise InputError(p, "has no time step", "time")
    if not epochs.is_monotonic_increasing:
        raise InputError(p, "time values are not increasing", "time")
    if epochs.has_duplicates:
        raise InputError(
            p, f"duplicated time value {epochs[epochs.duplicated()][0]:%Y-%m-%d}", "time"
        )
    months, notes = assign_calendar_months(epochs, mids)

    da = da.assign_coords(time=epochs.values)  # errors then name the month
    ds = xr.Dataset(coords={"time": epochs.values})
    twsa = as_mm(da, p, "terrestrial water storage anomaly")
    ds["twsa"] = check_values(da, twsa, "twsa", p, name)
    unc = next((u for u in UNCERTAINTY_NAMES if u in raw.variables), None)
    if unc is not None:
        u = _on_box(to_time_lat_lon(raw[unc], p, unc), box, p).assign_coords(time=epochs.values)
        converted = as_mm(u, p, "TWSA uncertainty (1 sigma)")
        ds["twsa_uncertainty"] = check_values(u, converted, "twsa_uncertainty", p, unc)
    return ds, epochs, months, notes


def _on_box(da: xr.DataArray, box, p: Path) -> xr.DataArray:
    return da if box is None else check_overlap(da, box, p)


def _apply_scale_factors(
    ds: xr.Dataset, raw: xr.Dataset, scale_factors, apply: bool, path: Path
) -> tuple[xr.Dataset, bool]:
    """Multiply by the gain factors (given, or a variable in the file) when ``apply``;
    returns whether they were applied."""
    if not apply:
        return ds, False
    sf_source = scale_factors
    if sf_source is None:
        sf_name = next((s for s in SCALE_FACTOR_NAMES if s in raw.data_vars), None)
        sf_source = raw[sf_name] if sf_name is not None else None
    if sf_source is None:
        return ds, False
    sf = _aux_field(sf_source, SCALE_FACTOR_NAMES, "gain factors", ds, path)
    ds["twsa"] = (ds["twsa"] * sf).assign_attrs(ds["twsa"].attrs)
    if "twsa_uncertainty" in ds:
        ds["twsa_uncertainty"] = (ds["twsa_uncertainty"] * np.abs(sf)).assign_attrs(
            ds["twsa_uncertainty"].attrs
        )
    return ds, True


def _apply_land_mask(ds: xr.Dataset, raw: xr.Dataset, land_mask, path: Path) -> xr.Dataset:
    """Add ``land_mask`` (given, or a variable in the file) and blank cells off it."""
    lm_source = land_mask
    if lm_source is None:
        lm_name = next((m for m in LAND_MASK_NAMES if m in raw.data_vars), None)
        lm_source = raw[lm_name] if lm_name is not None else None
    if lm_source is not None:
        lm = _aux_field(lm_source, LAND_MASK_NAMES, "land mask", ds, path).fillna(0) > 0.5
        ds["land_mask"] = lm.assign_attrs(long_name="land mask (true on land)")
        for v in ("twsa", "twsa_uncertainty"):
            if v in ds:
                ds[v] = ds[v].where(lm)
    return ds


def _on_calendar_months(ds: xr.Dataset, epochs, months) -> xr.Dataset:
    """Stamp each solution with its calendar month (averaging true duplicates) on the full
    monthly axis (months without a solution are NaN)."""
    ds = ds.assign_coords(time=months, grace_epoch=("time", epochs.values))
    if pd.Index(months).has_duplicates:
        epoch_first = ds["grace_epoch"].groupby("time").first()
        ds = ds.drop_vars("grace_epoch").groupby("time").mean(keep_attrs=True)
        ds = ds.assign_coords(grace_epoch=epoch_first)
    full = pd.date_range(months.min(), months.max(), freq="MS")
    return ds.reindex(time=full)


def missing_months(ds: xr.Dataset, variable: str = "twsa") -> list[str]:
    """Months (``YYYY-MM``) in which ``variable`` has no valid cell."""
    return empty_months(ds[variable])
