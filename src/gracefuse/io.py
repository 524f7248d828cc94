"""Atomic, CF-compliant output: a crash never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

CF_CONVENTIONS = "CF-1.8"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same folder so that :func:`os.replace` is atomic.
    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    enc: dict[str, dict] = {}
    for name, var in ds.data_vars.items():
        if np.issubdtype(var.dtype, np.floating):
            enc[name] = {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan)}
            if var.dtype == np.float64:
                enc[name]["dtype"] = "float32"
        elif var.dtype == bool:
            enc[name] = {"dtype": "i1"}
    for name in ds.coords:
        if np.issubdtype(ds[name].dtype, np.datetime64):
            enc[str(name)] = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian"}
    return enc


def to_cf(ds: xr.Dataset) -> xr.Dataset:
    """Return a copy of ``ds`` with CF coordinate attributes and ``Conventions`` set."""
    out = ds.copy()
    out.attrs = {**ds.attrs, "Conventions": CF_CONVENTIONS}
    if "lat" in out.coords:
        out["lat"].attrs.update(
            standard_name="latitude", units="degrees_north", long_name="latitude", axis="Y"
        )
    if "lon" in out.coords:
        out["lon"].attrs.update(
            standard_name="longitude", units="degrees_east", long_name="longitude", axis="X"
        )
    if "time" in out.coords:
        out["time"].attrs.update(standard_name="time", long_name="time", axis="T")
    for name, var in out.data_vars.items():
        if var.dtype == bool:
            out[name] = var.astype("i1")
            out[name].attrs = {**var.attrs, "flag_values": [0, 1], "flag_meanings": "false true"}
    # netCDF attributes cannot hold None or nested structures
    out.attrs = {k: _attr(v) for k, v in out.attrs.items() if v is not None}
    for name in out.variables:
        out[name].attrs = {k: _attr(v) for k, v in out[name].attrs.items() if v is not None}
    return out


def _attr(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return ", ".join(value)
        return list(value)
    if isinstance(value, dict):
        return str(value)
    return value


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as CF-1.8 netCDF4 atomically (temporary file, then rename).

    Floating variables are stored as compressed float32 with NaN as fill value.
    """
    cf = to_cf(ds)
    with atomic_path(path) as tmp:
        cf.to_netcdf(tmp, engine="netcdf4", encoding=_encoding(cf))
    return Path(path)
