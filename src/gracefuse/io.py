"""Atomic, CF-compliant output: a crash never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from gracefuse.errors import InputError

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


@contextlib.contextmanager
def netcdf_chunk_cache(nbytes: int) -> Iterator[None]:
    """netCDF's chunk cache for each variable of the files opened inside the block
    (``nbytes``; netCDF's default is 64 MB a variable), restored on leaving it.

    A pass that reads or writes each chunk once gains nothing from a large cache, and with
    many variables open it holds ``64 MB × variables`` until the grid is that large.
    """
    import netCDF4

    before = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(nbytes, before[1], before[2])
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*before)


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
            chunks = tuple(c[0] for c in var.chunks) if var.chunks else None
            if chunks and 0 < np.prod(chunks) < 2**28:  # dask-backed: stored as computed
                enc[name]["chunksizes"] = chunks
        elif var.dtype == bool:
            enc[name] = {"dtype": "i1"}
    for name in ds.coords:
        if np.issubdtype(ds[name].dtype, np.datetime64):
            enc[str(name)] = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian"}
            if ds[name].chunks:  # xarray needs both units and dtype for chunked times
                enc[str(name)]["dtype"] = "float64"
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

    Floating variables are stored as compressed float32 with NaN as fill value, in the
    chunks of their dask blocks when dask-backed.
    """
    cf = to_cf(ds)
    with atomic_path(path) as tmp:
        cf.to_netcdf(tmp, engine="netcdf4", encoding=_encoding(cf))
    return Path(path)


def write_file_set(
    folder: str | os.PathLike, writers: dict[str, Callable[[Path], object]]
) -> list[Path]:
    """Write several files as one set: all of them land in ``folder``, or none does.

    Each ``writers[name](path)`` writes file ``name`` into a temporary folder beside
    ``folder``; only when every writer has succeeded does that folder replace ``folder``
    (two renames; the old set is kept until the new one is in place). A ``folder`` that
    holds files other than the set's own is refused rather than replaced. Leftovers of a
    killed earlier call (temporary folders, ``.part`` files) are cleaned first.

    Raises
    ------
    InputError
        When ``folder`` is a file or holds files that are not part of the set.
    """
    target = Path(folder).resolve()
    parent, name = target.parent, target.name
    if target.exists() and not target.is_dir():
        raise InputError(target, "is a file; give a folder for the file set")
    for old in sorted(parent.glob(f".{name}.old-*")):
        if not target.exists():
            os.replace(old, target)  # a kill between the two renames: restore the old set
        else:
            shutil.rmtree(old, ignore_errors=True)
    for stale in parent.glob(f".{name}.set-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.is_dir():
        foreign = sorted(
            p.name
            for p in target.iterdir()
            if p.name not in writers and not p.name.endswith(".part")
        )
        if foreign:
            raise InputError(
                target,
                f"holds other files ({', '.join(foreign[:4])}); choose a new or empty folder",
            )
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.set-", dir=parent))
    try:
        for file_name, write in writers.items():
            write(tmp / file_name)
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if target.exists():
            old = parent / f".{name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [target / n for n in writers]
