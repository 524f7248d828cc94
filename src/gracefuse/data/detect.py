"""Recognise a file's product and summarise it (``gracefuse info``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grace import (
    LAND_MASK_NAMES,
    SCALE_FACTOR_NAMES,
    TWS_NAMES,
    detect_product,
    open_grace,
    open_netcdf,
)
from gracefuse.data.lsm import GLDAS_SOIL_LAYERS, open_era5_land, open_gldas
from gracefuse.data.tables import BASIN_COLUMN, open_basin_table, open_epoch_series, open_wells
from gracefuse.errors import InputError


def identify(path: str | os.PathLike) -> str:
    """The kind of file: a GRACE product, an LSM, an auxiliary field, a table or the twin."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.is_dir():
        raise InputError(p, "is a folder; give a netCDF or CSV file")
    if p.suffix.lower() == ".csv":
        return _identify_table(p)
    raw = open_netcdf(p, decode_times=False)
    names = set(map(str, raw.variables))
    if raw.attrs.get("source_product", "").startswith("gracefuse"):
        return "gracefuse_twin" if "twsa_grace" in names else "gracefuse_output"
    if set(GLDAS_SOIL_LAYERS) <= names:
        return "gldas_noah"
    if {"swvl1", "sd"} <= names:
        return "era5_land"
    if any(n in names for n in TWS_NAMES):
        if "time" not in raw.variables:
            raise InputError(
                p, "holds water storage but no 'time' variable; cannot place it in time"
            )
        return detect_product(raw)
    if any(n in raw.data_vars for n in SCALE_FACTOR_NAMES):
        return "gain_factors"
    if any(n in raw.data_vars for n in LAND_MASK_NAMES):
        return "land_mask"
    raise InputError(
        p,
        "not a recognised product (GRACE mascon/grid, GLDAS, ERA5-Land, mask, gain factors); "
        f"variables: {', '.join(map(str, raw.data_vars)) or 'none'}",
    )


def _identify_table(p: Path) -> str:
    """``basin_table`` (columns ``NAME YYYY-MM-DD``), ``epoch_series`` (headerless
    ``date,value`` rows) or ``well_table``."""
    with open(p, encoding="utf-8", errors="replace") as fh:
        head = fh.readline().strip()
    if not head:
        raise InputError(p, "is empty")
    if head.startswith("#"):
        raise InputError(
            p,
            "starts with '#' comment lines: not a table gracefuse reads (well table, basin "
            "table or date,value series)",
        )
    cells = [c.strip() for c in head.split(",")]
    if len(cells) > 1 and BASIN_COLUMN.match(cells[1]):
        return "basin_table"
    if len(cells) == 2 and not pd.isna(pd.to_datetime(cells[0], errors="coerce")):
        return "epoch_series"
    return "well_table"


def _grid(ds: xr.Dataset) -> dict:
    out: dict = {}
    for c in ("lat", "lon", "latitude", "longitude"):
        if c in ds.coords and ds[c].size > 1:
            v = ds[c].values.astype(float)
            out[c] = f"{v.min():.4g}..{v.max():.4g} ({v.size} cells, step {np.diff(v).mean():.4g}°)"
    return out


def describe(path: str | os.PathLike) -> dict:
    """A summary of ``path``: product, variables with units, grid, time range, missing months.

    Raises
    ------
    InputError
        For unreadable files, unknown products, missing variables, unknown units or
        duplicated times.
    """
    p = Path(path)
    kind = identify(p)
    info: dict = {"file": str(p), "product": kind}
    if kind in {"jpl_mascon", "csr_mascon", "gsfc_mascon", "grace_like"}:
        ds = open_grace(p)
    elif kind == "gldas_noah":
        ds = open_gldas(p)
    elif kind == "era5_land":
        ds = open_era5_land(p)
    elif kind == "basin_table":
        ds = open_basin_table(p)
    elif kind == "well_table":
        ds = open_wells(p)
    elif kind == "epoch_series":
        ds = open_epoch_series(p)
    else:
        ds = open_netcdf(p)
        if "time" in ds.indexes and ds.indexes["time"].has_duplicates:
            raise InputError(p, "duplicated time values", "time")
    info["variables"] = {
        str(k): f"{v.attrs.get('units', '-')}  {tuple(map(str, v.dims))}"
        for k, v in ds.data_vars.items()
    }
    info["grid"] = _grid(ds)
    if "time" in ds.dims and ds.sizes["time"]:
        t = pd.DatetimeIndex(ds["time"].values)
        info["time"] = f"{t[0]:%Y-%m}..{t[-1]:%Y-%m} ({t.size} steps)"
    info["missing_months"] = ds.attrs.get("missing_months", "") or "none"
    info["anomaly_baseline"] = ds.attrs.get("anomaly_baseline", "n/a")
    if ds.attrs.get("month_notes"):
        info["month_notes"] = ds.attrs["month_notes"]
    return info
