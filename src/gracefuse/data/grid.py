"""Regular lat/lon grids: longitudes, cropping, cell areas, region means, regridding.

Every function keeps the package conventions: dims ``(time, lat, lon)``, degrees,
longitudes in [-180, 180) and both axes ascending.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
import xarray_regrid  # noqa: F401  (registers the .regrid accessor)
from scipy.ndimage import gaussian_filter

from gracefuse.errors import InputError

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Box:
    """A lat/lon box in degrees (south, north, west, east), west/east in [-180, 180]."""

    south: float
    north: float
    west: float
    east: float

    def __post_init__(self) -> None:
        if not (-90 <= self.south < self.north <= 90):
            raise ValueError(f"box latitudes must satisfy -90 <= south < north <= 90: {self}")
        if not (-180 <= self.west < self.east <= 360):
            raise ValueError(f"box longitudes must satisfy west < east: {self}")


#: The India box of Sun et al. (2019): 40° × 40°.
SUN2019_INDIA = Box(south=7.75, north=47.75, west=60.0, east=100.0)


def normalize_lon(obj: xr.Dataset | xr.DataArray, lon: str = "lon") -> xr.Dataset | xr.DataArray:
    """Map longitudes to [-180, 180) and sort them ascending.

    Examples
    --------
    >>> da = xr.DataArray([1, 2, 3], coords={"lon": [0.25, 180.25, 359.75]}, dims="lon")
    >>> normalize_lon(da).lon.values.tolist()
    [-179.75, -0.25, 0.25]
    """
    new = ((obj[lon] + 180.0) % 360.0) - 180.0
    out = obj.assign_coords({lon: new})
    out[lon].attrs = obj[lon].attrs
    return out.sortby(lon)


def standardize_coords(obj: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
    """Rename latitude/longitude to lat/lon, normalise longitudes, sort both ascending."""
    renames = {}
    for src, dst in (("latitude", "lat"), ("longitude", "lon"), ("Latitude", "lat")):
        if src in obj.dims or src in obj.coords:
            renames[src] = dst
    if "Longitude" in obj.dims or "Longitude" in obj.coords:
        renames["Longitude"] = "lon"
    if renames:
        obj = obj.rename(renames)
    if "lon" in obj.dims:
        obj = normalize_lon(obj)
    if "lat" in obj.dims:
        obj = obj.sortby("lat")
    return obj


def crop(obj: xr.Dataset | xr.DataArray, box: Box) -> xr.Dataset | xr.DataArray:
    """Cells whose centres lie inside ``box`` (inclusive)."""
    return obj.sel(lat=slice(box.south, box.north), lon=slice(box.west, box.east))


def _edges(centres: np.ndarray) -> np.ndarray:
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        raise ValueError("need at least two coordinate values to infer cell edges")
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def cell_area(lat: xr.DataArray | np.ndarray, lon: xr.DataArray | np.ndarray) -> xr.DataArray:
    """Area of each cell of a regular (or rectilinear) grid on the sphere, in km².

    ``A = R² Δλ (sin φ_north − sin φ_south)``; edges are midway between centres.

    Returns
    -------
    xr.DataArray
        dims ``(lat, lon)``, units ``km2``.

    Examples
    --------
    >>> lat = np.arange(-89.5, 90, 1.0); lon = np.arange(-179.5, 180, 1.0)
    >>> round(float(cell_area(lat, lon).sum()) / (4 * np.pi * EARTH_RADIUS_KM**2), 6)
    1.0
    """
    lat_v = np.asarray(lat, dtype=float)
    lon_v = np.asarray(lon, dtype=float)
    lat_e = np.clip(_edges(lat_v), -90.0, 90.0)
    lon_e = _edges(lon_v)
    band = np.abs(np.diff(np.sin(np.deg2rad(lat_e))))
    width = np.abs(np.diff(np.deg2rad(lon_e)))
    area = EARTH_RADIUS_KM**2 * np.outer(band, width)
    return xr.DataArray(
        area,
        coords={"lat": lat_v, "lon": lon_v},
        dims=("lat", "lon"),
        name="cell_area",
        attrs={"units": "km2", "long_name": "cell area on the sphere"},
    )


def area_weights(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Cell areas (km²) of the grid of ``obj``."""
    return cell_area(obj["lat"].values, obj["lon"].values)


def region_mean(
    da: xr.DataArray, mask: xr.DataArray | None = None, skipna: bool = True
) -> xr.DataArray:
    """Area-weighted mean over ``lat`` and ``lon`` of the cells in ``mask``.

    NaN cells are left out of both numerator and denominator, so the result is the mean
    over the valid area of each time step.

    Examples
    --------
    >>> lat = [0.0, 60.0]; lon = [0.0, 1.0]
    >>> da = xr.DataArray([[1.0, 1.0], [3.0, 3.0]], coords={"lat": lat, "lon": lon},
    ...                   dims=("lat", "lon"))
    >>> round(float(region_mean(da)), 3)  # cos(60°) = 0.5: equator cells weigh twice
    1.667
    """
    w = area_weights(da)
    if mask is not None:
        w = w.where(mask.reindex_like(w, method="nearest", tolerance=1e-6).fillna(False))
    valid = da.notnull() if skipna else xr.ones_like(da, dtype=bool)
    wv = w.where(valid)
    num = (da.fillna(0.0) * wv.fillna(0.0)).sum(("lat", "lon"))
    den = wv.fillna(0.0).sum(("lat", "lon"))
    out = (num / den).where(den > 0)
    out.attrs = {**da.attrs, "cell_methods": "area: mean (area-weighted)"}
    out.name = da.name
    return out


def coarsen_mean(obj: xr.Dataset | xr.DataArray, factor: int) -> xr.Dataset | xr.DataArray:
    """Area-weighted block means over ``factor × factor`` cells (NaN-aware).

    The grid must divide exactly. Mass is conserved: the area integral over each block
    is the same before and after.
    """
    if obj.sizes["lat"] % factor or obj.sizes["lon"] % factor:
        raise ValueError(
            f"grid {obj.sizes['lat']}x{obj.sizes['lon']} does not divide by factor {factor}"
        )
    w = area_weights(obj).values

    def _one(da: xr.DataArray) -> xr.DataArray:
        if "lat" not in da.dims or "lon" not in da.dims:
            return da
        if da.dtype == bool:
            return da.coarsen(lat=factor, lon=factor).max()
        last = da.transpose(..., "lat", "lon")
        keep = {k: c for k, c in last.coords.items() if not {"lat", "lon"} & set(c.dims)}
        res = xr.DataArray(block_mean(last.values, w, factor), dims=last.dims, coords=keep,
                           attrs=da.attrs, name=da.name)  # fmt: skip
        return res.transpose(*da.dims)

    if isinstance(obj, xr.DataArray):
        out = _one(obj)
    else:
        out = obj.map(_one, keep_attrs=True)
    # block centres: mean of the member centres
    return out.assign_coords(
        lat=obj["lat"].coarsen(lat=factor).mean().values,
        lon=obj["lon"].coarsen(lon=factor).mean().values,
    )


def block_mean(fine: np.ndarray, weights: np.ndarray, factor: int) -> np.ndarray:
    """Weighted means over ``factor × factor`` blocks of the last two axes (NaN-aware): the
    NumPy core of :func:`coarsen_mean`; ``weights`` ``(Y, X)`` (cell areas, 0 off land).

    Examples
    --------
    >>> block_mean(np.arange(16.0).reshape(4, 4), np.ones((4, 4)), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    *lead, ny, nx = fine.shape
    w = np.where(np.isfinite(fine), weights, 0.0)
    v = np.where(w > 0, fine, 0.0)
    shape = (*lead, ny // factor, factor, nx // factor, factor)
    num = (v * w).reshape(shape).sum((-1, -3))
    den = w.reshape(shape).sum((-1, -3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def regular_grid(box: Box, n_lat: int, n_lon: int | None = None) -> xr.Dataset:
    """An empty Dataset with the cell centres of an ``n_lat × n_lon`` grid spanning ``box``.

    Sun et al. (2019) resample the 40° × 40° India box to 128 × 128 (0.3125° cells).
    """
    n_lon = n_lat if n_lon is None else n_lon
    dlat = (box.north - box.south) / n_lat
    dlon = (box.east - box.west) / n_lon
    lat = box.south + dlat * (np.arange(n_lat) + 0.5)
    lon = box.west + dlon * (np.arange(n_lon) + 0.5)
    ds = xr.Dataset(coords={"lat": lat, "lon": lon})
    ds["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    ds["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    return ds


def _padded(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with one cell more at each end of lat and lon, repeating the edge cells.

    xarray-regrid takes a grid's extent from its outermost centres, so the outer half of
    each edge cell would be lost (finer targets got NaN there, shifted means); the padding
    gives those half cells back, and :func:`_inside_edges` cuts what lies beyond."""
    for c in ("lat", "lon"):
        v = ds[c].values
        if len(v) < 2:
            continue
        step = v[1] - v[0]
        chunks = ds.chunksizes.get(c)
        ds = ds.pad({c: 1}, mode="edge").assign_coords({c: np.r_[v[0] - step, v, v[-1] + step]})
        if chunks:  # dask: the pad cells join the edge chunks rather than add 1-cell chunks
            ds = ds.chunk({c: (chunks[0] + 1, *chunks[1:-1], chunks[-1] + 1) if len(chunks) > 1
                           else (chunks[0] + 2,)})  # fmt: skip
    return ds


def _inside_edges(src: xr.Dataset, tgt: xr.Dataset) -> xr.DataArray:
    """Target cells whose centre lies within the source grid's outer cell edges."""
    ok = []
    for c in ("lat", "lon"):
        e = _edges(src[c].values)
        lo, hi = min(e[0], e[-1]), max(e[0], e[-1])
        ok.append(xr.DataArray((tgt[c].values >= lo) & (tgt[c].values <= hi), dims=c,
                               coords={c: tgt[c].values}))  # fmt: skip
    return ok[0] & ok[1]


def regrid_conservative(
    obj: xr.Dataset | xr.DataArray, target: xr.Dataset | xr.DataArray, nan_threshold: float = 0.5
) -> xr.Dataset | xr.DataArray:
    """First-order conservative regridding onto the grid of ``target`` (xarray-regrid).

    Cells whose overlap is more than ``1 − nan_threshold`` NaN become NaN, so coasts are not
    smeared into the ocean. Boolean variables (masks) are regridded as fractions and
    thresholded at 0.5.
    """
    tgt = xr.Dataset(coords={"lat": target["lat"].values, "lon": target["lon"].values})
    is_ds = isinstance(obj, xr.Dataset)
    ds = obj if is_ds else obj.to_dataset(name=obj.name or "__var__")
    if ds.chunks:  # dask: band by band (the same numbers), unless a grid is descending
        from gracefuse.data.regrid_blocks import regrid_blocks

        out = regrid_blocks(ds, tgt, nan_threshold)
        if out is not None:
            return out if is_ds else out[next(iter(out.data_vars))].rename(obj.name)
    bools = [k for k, v in ds.data_vars.items() if v.dtype == bool]
    floats = _padded(ds.drop_vars(bools))
    time_dim = "time" if "time" in ds.dims else None
    # dask: onto a target of up to 2**20 cells (0.5° global is 259 200), each output block
    # spans the whole target (one contraction per input block, not one per input block and
    # target block: 10× fewer tasks at 1°); finer targets keep xarray-regrid's chunking
    small = tgt.sizes["lat"] * tgt.sizes["lon"] <= 2**20
    whole = {"lat": tgt.sizes["lat"], "lon": tgt.sizes["lon"]} if floats.chunks and small else None
    out = floats.regrid.conservative(
        tgt, time_dim=time_dim, skipna=True, nan_threshold=nan_threshold, output_chunks=whole
    )
    for name in bools:
        frac = _padded(ds[name].astype(float).to_dataset(name=name)).regrid.conservative(
            tgt, time_dim=None, skipna=False
        )[name]
        out[name] = frac >= 0.5
    inside = _inside_edges(ds, tgt)
    out = out.where(inside)
    for name in bools:
        out[name] = out[name].fillna(False).astype(bool)
    for name in out.data_vars:
        out[name].attrs = ds[name].attrs
    out.attrs = ds.attrs
    if is_ds:
        return out
    res = out[obj.name or "__var__"]
    return res.rename(obj.name) if obj.name else res


def refine_bilinear(obj: xr.Dataset | xr.DataArray, factor: int) -> xr.Dataset | xr.DataArray:
    """Bilinear refinement by an integer factor; the fine cells tile the coarse ones exactly."""
    lat, lon = obj["lat"].values, obj["lon"].values
    dlat, dlon = np.diff(lat).mean(), np.diff(lon).mean()
    off = (np.arange(factor) + 0.5) / factor - 0.5
    fine_lat = (lat[:, None] + off[None, :] * dlat).ravel()
    fine_lon = (lon[:, None] + off[None, :] * dlon).ravel()
    # the outer half-cells lie beyond the coarse centres: hold the edge values there
    at_lat = np.clip(fine_lat, lat.min(), lat.max())
    at_lon = np.clip(fine_lon, lon.min(), lon.max())
    out = obj.interp(lat=at_lat, lon=at_lon, method="linear")
    return out.assign_coords(lat=fine_lat, lon=fine_lon)


def to_image_grid(
    obj: xr.Dataset | xr.DataArray, box: Box, size: int = 128
) -> xr.Dataset | xr.DataArray:
    """Resample ``box`` to a ``size × size`` image grid, conservatively.

    Sun et al. (2019) map the 40° × 40° India box to 128 × 128 pixels.
    """
    return regrid_conservative(obj, regular_grid(box, size))


def pad_to_multiple(obj: xr.Dataset | xr.DataArray, multiple: int) -> xr.Dataset | xr.DataArray:
    """Extend a regular grid with NaN cells (north and east) so both sizes divide ``multiple``.

    Crop back with ``padded.sel(lat=obj.lat, lon=obj.lon)``.
    """
    coords = {}
    for c in ("lat", "lon"):
        v = obj[c].values
        extra = (-len(v)) % multiple
        step = float(np.diff(v).mean()) if len(v) > 1 else 1.0
        coords[c] = np.concatenate([v, v[-1] + step * np.arange(1, extra + 1)])
    return obj.reindex(lat=coords["lat"], lon=coords["lon"])


def check_same_grid(a: xr.Dataset | xr.DataArray, b: xr.Dataset | xr.DataArray, what: str) -> None:
    """Raise :class:`InputError` if ``a`` and ``b`` are not on the same lat/lon grid."""
    for c in ("lat", "lon"):
        if a.sizes.get(c) != b.sizes.get(c) or not np.allclose(a[c].values, b[c].values):
            raise InputError(
                None,
                f"{what}: grids differ along {c} "
                f"({a.sizes.get(c)} vs {b.sizes.get(c)} cells); regrid one onto the other first",
            )


def smooth_over_land(field: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing restricted to land (normalised convolution), per time step.

    ``field`` ``(time, lat, lon)`` (NaN-free), ``mask`` ``(lat, lon)`` bool, ``sigma_px``
    the Gaussian's σ in cells (a FWHM of ``f`` degrees on cells of ``d`` degrees is
    ``f / 2.3548 / d``). Sea cells come back NaN; land keeps its mean near coasts."""
    w = gaussian_filter(mask.astype(float), sigma_px, mode="nearest")
    out = np.empty_like(field)
    for t in range(field.shape[0]):
        num = gaussian_filter(np.where(mask, field[t], 0.0), sigma_px, mode="nearest")
        out[t] = np.where(mask, num / np.maximum(w, 1e-9), np.nan)
    return out
