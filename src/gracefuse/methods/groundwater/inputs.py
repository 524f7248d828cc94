"""What a groundwater analysis starts from, whatever the source: TWSA (or several GRACE
products), the stores to take off it with their errors, drivers, and what to check against.

Loaders: :func:`load_california` (NASA's km³ series), :func:`load_basin_products` (basin
tables), :func:`load_grids` (CF grids, regridded conservatively onto TWSA's grid). The twin
has its own module (:mod:`~gracefuse.methods.groundwater.twin`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.analysis.separation import volume_to_mm
from gracefuse.data.grace import GRACE_MISSING_MONTHS, open_grace, open_netcdf
from gracefuse.data.grid import Box, regrid_conservative
from gracefuse.data.nasa_california import read_nasa_california
from gracefuse.data.tables import open_basin_table
from gracefuse.data.units import as_mm
from gracefuse.errors import InputError
from gracefuse.methods.groundwater.config import (
    BasinProductsSource,
    GridFilesSource,
    NasaCaliforniaSource,
)

log = logging.getLogger(__name__)


@dataclass
class GroundwaterInputs:
    """The inputs of one analysis, in mm (storage) and mm/month (drivers).

    ``twsa`` ``(time, *space)``, or ``None`` when ``products`` ``(product, time, *space)``
    are given for the three-cornered hat (their combination becomes TWSA). ``space`` is
    ``"series"``, ``"basin"`` or ``"grid"``.
    """

    source: str
    space: str
    twsa: xr.DataArray | None = None
    twsa_error: object = None
    products: xr.DataArray | None = None
    own_uncertainty: dict[str, xr.DataArray] = field(default_factory=dict)
    components: dict[str, xr.DataArray] = field(default_factory=dict)
    component_errors: dict[str, object] = field(default_factory=dict)
    #: 1σ ``(time,)`` of each store's area mean, where known (the spread of several LSMs)
    area_errors: dict[str, xr.DataArray] = field(default_factory=dict)
    drivers: dict[str, xr.DataArray] = field(default_factory=dict)
    truth: dict[str, xr.DataArray] = field(default_factory=dict)
    reference: dict[str, xr.DataArray] = field(default_factory=dict)
    mask: xr.DataArray | None = None
    area_km2: float | None = None
    notes: list[str] = field(default_factory=list)


def load_california(src: NasaCaliforniaSource) -> GroundwaterInputs:
    """NASA's series (km³): TWSA and the chosen stores with their errors, NASA's
    groundwater as the reference (converted to mm over the file's area)."""
    ds = read_nasa_california(src.file)
    area = float(ds.attrs["area_km2"])
    missing = [f"{c} (or {c}_error)" for c in src.components
               if c not in ds or f"{c}_error" not in ds]  # fmt: skip
    if missing or "twsa_error" not in ds:
        raise InputError(src.file, f"lacks the columns {missing or ['twsa error']}")
    ref = {}
    if "gwsa_nasa" in ds:
        ref["gwsa"] = volume_to_mm(ds["gwsa_nasa"], area)
        if "gwsa_nasa_error" in ds:
            ref["gwsa_uncertainty"] = volume_to_mm(ds["gwsa_nasa_error"], area)
    note = (f"NASA JPL California decomposition: {Path(src.file).name}; area {area:.3f} km² "
            f"(1 km³ = {1e6 / area:.4f} mm); GRACE missing months in the file are "
            f"interpolated: {', '.join(ds.attrs['missing_months'][:6])}…")  # fmt: skip
    return GroundwaterInputs(
        source=f"NASA California ({Path(src.file).name})", space="series",
        twsa=ds["twsa"], twsa_error=ds["twsa_error"],
        components={c: ds[c] for c in src.components},
        component_errors={c: ds[f"{c}_error"] for c in src.components},
        reference=ref, area_km2=area, notes=[note],
    )  # fmt: skip


def product_name(file: str) -> str:
    """``TWS_GRACE_JPL_mascons_monthly.csv`` → ``JPL_mascons``."""
    stem = Path(file).name.removesuffix(".csv").removesuffix("_monthly")
    return stem.split("GRACE_", 1)[-1]


def _table(folder: Path, file: str) -> xr.DataArray:
    path = folder / file
    if not path.is_file():
        raise InputError(path, "table not found")
    ds = open_basin_table(path)
    return ds[next(iter(ds.data_vars))]


def _mask_missing(da: xr.DataArray) -> xr.DataArray:
    """GRACE's missing months (filled by the tables' authors) as NaN."""
    bad = pd.DatetimeIndex([f"{m}-01" for m in GRACE_MISSING_MONTHS])
    keep = ~pd.DatetimeIndex(da["time"].values).isin(bad)
    return da.where(xr.DataArray(keep, coords={"time": da["time"]}, dims="time"))


def load_basin_products(src: BasinProductsSource) -> GroundwaterInputs:
    """≥ 3 GRACE products per basin, on the basins all of them hold (exact names), with
    each product's own uncertainty where given and the drivers."""
    folder = Path(src.folder)
    tables = {product_name(f): _table(folder, f) for f in src.products}
    if len(tables) < 3:
        raise InputError(folder, f"the three-cornered hat needs ≥ 3 distinct products, got "
                         f"{list(tables)}", "data.products")  # fmt: skip
    names = sorted(set.intersection(*(set(t["basin"].values) for t in tables.values())))
    notes = [f"{k}: {t.sizes['basin']} basins, {pd.Timestamp(t.time.values[0]):%Y-%m}.."
             f"{pd.Timestamp(t.time.values[-1]):%Y-%m}" for k, t in tables.items()]  # fmt: skip
    notes.append(f"{len(names)} basins carry the same name in every product (basins of "
                 "another name are other polygons and are left out)")  # fmt: skip
    if src.max_basins:
        names = names[: src.max_basins]
    if len(names) < 1:
        raise InputError(folder, "the products share no basin name", "data.products")
    stacked = xr.concat([t.sel(basin=names) for t in tables.values()], "product", join="outer")
    stacked = stacked.assign_coords(product=list(tables)).transpose("product", "time", "basin")
    if src.mask_gap_filled:
        stacked = _mask_missing(stacked)
    stacked.attrs = {"units": "mm"}
    own = {k: _table(folder, f).reindex(basin=names) for k, f in src.own_uncertainty.items()}
    drivers = {k: _table(folder, f).reindex(basin=names) for k, f in src.drivers.items()}
    return GroundwaterInputs(source=f"basin tables in {folder}", space="basin",
                             products=stacked.rename("twsa"), own_uncertainty=own,
                             drivers=drivers, notes=notes)  # fmt: skip


def _component(name: str, comp, grid: xr.DataArray, box) -> tuple[xr.DataArray, object]:
    """One gridded component in mm on TWSA's grid (regridded when its grid differs)."""
    ds = open_netcdf(comp.file)
    if comp.variable not in ds:
        raise InputError(comp.file, f"has no variable (found {list(ds.data_vars)})",
                         comp.variable)  # fmt: skip
    da = as_mm(ds[comp.variable], comp.file, comp.variable)
    if ds[comp.variable].attrs.get("units") != "mm":
        log.info("%s: %s → mm", name, ds[comp.variable].attrs.get("units"))
    err = comp.error
    if isinstance(err, str):
        if err not in ds:
            raise InputError(comp.file, "error variable not found", err)
        err = as_mm(ds[err], comp.file, err)
    same = all(da.sizes.get(c) == grid.sizes[c] and np.allclose(da[c], grid[c])
               for c in ("lat", "lon"))  # fmt: skip
    if not same:
        log.warning("%s: on a %dx%d grid, TWSA on %dx%d: regridded conservatively onto "
                    "TWSA's grid", name, da.sizes.get("lat", 0), da.sizes.get("lon", 0),
                    grid.sizes["lat"], grid.sizes["lon"])  # fmt: skip
        da = regrid_conservative(da, grid)
        if isinstance(err, xr.DataArray):
            err = regrid_conservative(err, grid)
    return da.reindex(time=grid["time"]), err


def load_grids(src: GridFilesSource) -> GroundwaterInputs:
    """TWSA from a CF grid (any GRACE-like product) and its components, land-masked."""
    box = Box(*src.box) if src.box else None
    grace = open_grace(src.twsa, variable=src.twsa_variable, box=box)
    twsa = grace["twsa"]
    mask = grace["land_mask"] if "land_mask" in grace else np.isfinite(twsa).any("time")
    twsa = twsa.where(mask)
    err = grace["twsa_uncertainty"] if "twsa_uncertainty" in grace else src.twsa_error
    comps, errs = {}, {}
    for name, comp in src.components.items():
        comps[name], errs[name] = _component(name, comp, twsa, box)
        comps[name] = comps[name].where(mask)
    note = (f"{Path(src.twsa).name}: {grace.attrs['source_product']}, baseline "
            f"{grace.attrs['anomaly_baseline']}")  # fmt: skip
    return GroundwaterInputs(source=str(src.twsa), space="grid", twsa=twsa, twsa_error=err,
                             components=comps, component_errors=errs, mask=mask,
                             notes=[note])  # fmt: skip
