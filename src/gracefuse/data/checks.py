"""Checks every reader applies: a value, axis or file that cannot be read correctly is
refused with a message naming the file, the variable and the problem.

- :data:`PHYSICAL_RANGES`: the one table of plausible values per quantity (after unit
  conversion), so that a wrong unit, a fill value or garbage never reaches a model;
- :func:`check_raw`: no ±inf and no undeclared fill value (−9999, 1e30, …);
- :func:`check_complete`: a netCDF-3 file as long as its header declares (a truncated one
  otherwise reads as zeros);
- :func:`to_time_lat_lon`: ``(time, lat, lon)`` with 1-D coordinates, in that order,
  longitudes in [-180, 180) without a repeated meridian;
- :func:`check_overlap`: a crop that leaves cells.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.io import netcdf_file

from gracefuse.data.grid import Box, crop, normalize_lon
from gracefuse.errors import InputError

#: plausible values per quantity, in gracefuse's units (lower, upper, units). Wide enough
#: for every real cell (Greenland mascons, monsoon months, glaciers), narrow enough that a
#: unit read wrongly (cm as mm ×10 is still caught by the sentinel and unit checks, m as mm
#: ×1000 is not plausible) or garbage is refused.
PHYSICAL_RANGES: dict[str, tuple[float, float, str]] = {
    "twsa": (-20_000.0, 20_000.0, "mm"),
    "twsa_uncertainty": (0.0, 5_000.0, "mm"),
    "storage": (-20_000.0, 20_000.0, "mm"),
    "soil_moisture": (-1.0, 5_000.0, "mm"),
    "volumetric_soil_water": (-0.01, 1.0, "m3 m-3"),
    "swe": (-1.0, 50_000.0, "mm"),
    "canopy": (-1.0, 200.0, "mm"),
    "precip": (-1.0, 20_000.0, "mm/month"),
    "flux": (-2_000.0, 20_000.0, "mm/month"),
    "tair": (150.0, 350.0, "K"),
    "gain_factor": (-100.0, 100.0, "1"),
    "land_fraction": (0.0, 1.0, "1"),
    "well_level": (-20_000.0, 20_000.0, "m or mm"),
}

#: fill values that products use without always declaring them (``_FillValue`` and
#: ``missing_value`` are masked by xarray; these would pass as data)
SENTINELS: tuple[float, ...] = (
    -9999.0, -99999.0, -999999.0, -9999.9, 9.969209968386869e36, -9.969209968386869e36,
    1e20, -1e20, 1e30, -1e30, 3.4028234663852886e38, -3.4028234663852886e38,
)  # fmt: skip


def backend_message(exc: BaseException, limit: int = 160) -> str:
    """The first line of a library's error, without advice about its own options (such as
    xarray's "Try opening your dataset with decode_times=False")."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    keep = [s for s in text.split(". ") if "decode_times" not in s and "Try opening" not in s]
    return ". ".join(keep).strip()[:limit] or type(exc).__name__


def _where(da: xr.DataArray, flat_index: int) -> str:
    """``time=2003-04, lat=12.5, lon=77.5`` for the element at ``flat_index`` of ``da``."""
    pos = np.unravel_index(flat_index, da.shape)
    parts = []
    for dim, i in zip(da.dims, pos, strict=True):
        if dim in da.coords:
            v = da[dim].values[i]
            v = (
                f"{pd.Timestamp(v):%Y-%m}"
                if np.issubdtype(np.asarray(v).dtype, np.datetime64)
                else v
            )
            parts.append(f"{dim}={v:g}" if isinstance(v, float | np.floating) else f"{dim}={v}")
        else:
            parts.append(f"{dim}#{i}")
    return ", ".join(parts)


def check_raw(
    da: xr.DataArray, path: str | os.PathLike | None, variable: str | None = None
) -> None:
    """Refuse ±inf and undeclared fill values in ``da`` (as stored, before unit conversion).

    Examples
    --------
    >>> check_raw(xr.DataArray([1.0, -9999.0], dims="x", name="tws"), "f.nc")
    Traceback (most recent call last):
    ...
    gracefuse.errors.InputError: f.nc: variable 'tws': 1 value(s) equal -9999, an undeclared fill value (first at x#1); declare it as _FillValue or missing_value
    """
    if not np.issubdtype(da.dtype, np.number):
        raise InputError(path, f"values are not numbers (dtype {da.dtype})", variable or da.name)
    v = read_values(da, path, variable)
    bad = np.isinf(v)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            path,
            f"{int(bad.sum())} value(s) are infinite (first at {_where(da, first)})",
            variable or da.name,
        )
    hit = np.isin(v, np.asarray(SENTINELS))
    if hit.any():
        first = int(np.flatnonzero(hit)[0])
        raise InputError(
            path,
            f"{int(hit.sum())} value(s) equal {v.flat[first]:g}, an undeclared fill value "
            f"(first at {_where(da, first)}); declare it as _FillValue or missing_value",
            variable or da.name,
        )


def read_values(
    da: xr.DataArray, path: str | os.PathLike | None, variable: str | None = None
) -> np.ndarray:
    """The values of ``da`` as floats, reading them from disk (or dask) now: a damaged or
    truncated file fails here, with its name, rather than later inside training."""
    try:
        return np.asarray(da.values, dtype=float)
    except Exception as exc:  # noqa: BLE001 - any backend failure: the data cannot be read
        raise InputError(
            path,
            f"values cannot be read (damaged or truncated file? {type(exc).__name__})",
            variable or da.name,
        ) from exc


def check_range(
    da: xr.DataArray, quantity: str, path: str | os.PathLike | None, variable: str | None = None
) -> None:
    """Refuse values of ``da`` (in gracefuse's units) outside ``PHYSICAL_RANGES[quantity]``.

    Examples
    --------
    >>> da = xr.DataArray([10.0, 1.5e6], dims="time", name="tp")
    >>> check_range(da, "precip", "era5.nc")
    Traceback (most recent call last):
    ...
    gracefuse.errors.InputError: era5.nc: variable 'tp': 1 value(s) outside the plausible range of precip, -1 to 20000 mm/month (1.5e+06 at time#1); check the units attribute
    """
    lo, hi, units = PHYSICAL_RANGES[quantity]
    v = np.asarray(da.values, dtype=float)
    with np.errstate(invalid="ignore"):
        out = (v < lo) | (v > hi)
    if out.any():
        first = int(np.flatnonzero(out)[0])
        raise InputError(
            path,
            f"{int(out.sum())} value(s) outside the plausible range of {quantity}, {lo:g} to "
            f"{hi:g} {units} ({v.flat[first]:.3g} at {_where(da, first)}); check the units "
            "attribute",
            variable or da.name,
        )


def check_values(
    raw: xr.DataArray,
    converted: xr.DataArray,
    quantity: str,
    path: str | os.PathLike | None,
    variable: str | None = None,
) -> xr.DataArray:
    """:func:`check_raw` on ``raw`` and :func:`check_range` on ``converted``; returns it."""
    check_raw(raw, path, variable)
    check_range(converted, quantity, path, variable)
    return converted


def check_complete(path: str | os.PathLike) -> None:
    """Refuse a netCDF-3 file shorter than its header declares (netCDF-C reads the missing
    records as zeros). netCDF-4/HDF5 files fail to open when truncated."""
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic not in (b"CDF\x01", b"CDF\x02"):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            netcdf_file(p, mmap=True).close()
    except Exception as exc:  # noqa: BLE001 - any failure here means the data are incomplete
        raise InputError(
            p,
            f"truncated or damaged netCDF-3 file: {os.path.getsize(p)} bytes, shorter than "
            f"its header declares ({type(exc).__name__})",
        ) from exc


_LAT = ("lat", "latitude", "Latitude", "LAT", "nav_lat")
_LON = ("lon", "longitude", "Longitude", "LON", "nav_lon")


def _coordinate(obj, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in obj.coords or n in obj.dims), None)


def _lat_lon_dims(obj, path, variable) -> xr.Dataset | xr.DataArray:
    """Rename/swap so that ``lat`` and ``lon`` are dimensions with 1-D coordinates."""
    for names, std in ((_LAT, "lat"), (_LON, "lon")):
        name = _coordinate(obj, names)
        if name is None:
            raise InputError(
                path,
                f"dims {tuple(map(str, obj.dims))} have no {std}itude coordinate "
                f"(looked for {', '.join(names)})",
                variable,
            )
        if name not in obj.coords:
            raise InputError(path, f"dimension {name!r} has no coordinate values", variable)
        coord = obj[name]
        if coord.ndim != 1:
            raise InputError(
                path, f"{name} is {coord.ndim}-D (a curvilinear grid); regrid it first", variable
            )
        if coord.dims[0] != name:
            obj = obj.swap_dims({coord.dims[0]: name})
        if name != std:
            obj = obj.rename({name: std})
    return obj


def _drop_repeated_lon(obj, path, variable):
    """Drop a meridian repeated after wrapping (0 and 360) when it repeats the same values."""
    lon = pd.Index(obj["lon"].values)
    if not lon.has_duplicates:
        return obj
    keep = ~lon.duplicated()
    for i in np.flatnonzero(~keep):
        first = int(np.flatnonzero(lon == lon[i])[0])
        a, b = obj.isel(lon=first), obj.isel(lon=int(i))
        if not a.equals(b):
            raise InputError(
                path,
                f"longitude {lon[i]:g} appears twice after wrapping to [-180, 180) with "
                "different values (e.g. both 0 and 360); the grid is not a plain lat/lon grid",
                variable,
            )
    return obj.isel(lon=np.flatnonzero(keep))


def to_time_lat_lon(obj, path: str | os.PathLike | None, variable: str | None = None):
    """``obj`` on ``lat``/``lon`` (and ``time``) dims with 1-D coordinates, lat ascending,
    longitudes in [-180, 180) ascending, dims ordered ``(time, lat, lon)``.

    Raises
    ------
    InputError
        Dims without lat/lon coordinates (e.g. bare ``y``/``x``), 2-D coordinates,
        latitudes outside [-90, 90], non-finite or repeated coordinates.
    """
    obj = _lat_lon_dims(obj, path, variable)
    lat, lon = obj["lat"].values.astype(float), obj["lon"].values.astype(float)
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise InputError(path, "latitude or longitude values are missing (NaN)", variable)
    if lat.size and (lat.min() < -90 or lat.max() > 90):
        raise InputError(
            path, f"latitudes {lat.min():g}..{lat.max():g} outside [-90, 90]", variable
        )
    if lon.size and (lon.min() < -180 or lon.max() > 360):
        raise InputError(
            path, f"longitudes {lon.min():g}..{lon.max():g} outside [-180, 360]", variable
        )
    if pd.Index(lat).has_duplicates:
        raise InputError(path, "repeated latitude values", variable)
    obj = _drop_repeated_lon(normalize_lon(obj).sortby("lat"), path, variable)
    return obj.transpose(*[d for d in ("time", "lat", "lon") if d in obj.dims], ...)


def check_overlap(obj, box: Box, path: str | os.PathLike | None):
    """``obj`` cropped to ``box``; an error naming both extents when nothing is left."""
    out = crop(obj, box)
    if out.sizes.get("lat", 0) == 0 or out.sizes.get("lon", 0) == 0:
        lat, lon = obj["lat"].values, obj["lon"].values
        raise InputError(
            path,
            f"the box (south {box.south:g}, north {box.north:g}, west {box.west:g}, east "
            f"{box.east:g}) holds no cell of the data (lat {lat.min():g}..{lat.max():g}, "
            f"lon {lon.min():g}..{lon.max():g})",
        )
    return out


def empty_months(da: xr.DataArray) -> list[str]:
    """Months (``YYYY-MM``) in which ``da`` has no valid value at all."""
    other = [d for d in da.dims if d != "time"]
    empty = da.isnull().all(other).values
    return [f"{pd.Timestamp(t):%Y-%m}" for t in da["time"].values[empty]]
