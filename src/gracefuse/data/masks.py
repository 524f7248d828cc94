"""Region masks as boolean DataArrays on a grid: from a box, a vector file or a raster."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import regionmask
import xarray as xr

from gracefuse.data.grid import Box, standardize_coords
from gracefuse.errors import InputError


def mask_from_box(grid: xr.Dataset | xr.DataArray, box: Box) -> xr.DataArray:
    """True where the cell centre lies inside ``box``."""
    lat, lon = grid["lat"], grid["lon"]
    inside = (lat >= box.south) & (lat <= box.north) & (lon >= box.west) & (lon <= box.east)
    return inside.transpose("lat", "lon").rename("mask")


def mask_from_vector(
    grid: xr.Dataset | xr.DataArray,
    path: str | os.PathLike,
    name: str | None = None,
    column: str | None = None,
) -> xr.DataArray:
    """True inside the polygons of a shapefile or GeoJSON (regionmask, cell centres).

    Parameters
    ----------
    path
        Any vector format geopandas reads (``.shp``, ``.geojson``, ``.gpkg``).
    name, column
        Keep only the features whose ``column`` equals ``name``; by default all features.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "region file not found")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise InputError(p, f"cannot read as a vector file ({exc})") from exc
    if gdf.crs is not None and not gdf.crs.is_geographic:
        gdf = gdf.to_crs(4326)
    if name is not None:
        if column is None or column not in gdf.columns:
            raise InputError(p, f"column {column!r} not found; columns are {list(gdf.columns)}")
        gdf = gdf[gdf[column] == name]
        if gdf.empty:
            raise InputError(p, f"no feature has {column} == {name!r}")
    regions = regionmask.from_geopandas(gdf.reset_index(drop=True))
    mask = regions.mask(grid["lon"], grid["lat"])
    return mask.notnull().rename("mask").transpose("lat", "lon")


def mask_from_raster(
    grid: xr.Dataset | xr.DataArray, path: str | os.PathLike, variable: str | None = None
) -> xr.DataArray:
    """A 0/1 (or boolean) raster in a netCDF file, nearest-neighbour onto ``grid``."""
    p = Path(path)
    try:
        ds = xr.open_dataset(p)
    except Exception as exc:  # noqa: BLE001
        raise InputError(p, f"cannot open as netCDF ({exc})") from exc
    var = variable or next((v for v in ds.data_vars if {"lat", "lon"} & set(ds[v].dims)), None)
    if var is None:
        var = next(iter(ds.data_vars), None)
    if var is None or var not in ds:
        raise InputError(p, "no raster variable found", variable=variable)
    da = standardize_coords(ds[var].squeeze(drop=True))
    out = da.reindex(lat=grid["lat"], lon=grid["lon"], method="nearest")
    return (out.fillna(0) > 0.5).rename("mask")


def apply_mask(obj: xr.Dataset | xr.DataArray, mask: xr.DataArray) -> xr.Dataset | xr.DataArray:
    """Set cells outside ``mask`` to NaN (floating variables only)."""
    if isinstance(obj, xr.DataArray):
        return obj.where(mask)
    out = obj.copy()
    for name, var in obj.data_vars.items():
        if {"lat", "lon"} <= set(var.dims) and np.issubdtype(var.dtype, np.floating):
            out[name] = var.where(mask)
    return out
