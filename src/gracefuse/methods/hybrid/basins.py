"""Lumped basins for the hybrid family: basin-mean tables (``lehmannfa_basin_timeseries``)
→ :class:`HybridData`.

The tables' TWS was gap-filled by its authors (every month 2002-04..2020-09 has a value);
the months GRACE did not measure (:data:`GRACE_MISSING_MONTHS`, the GRACE/GRACE-FO gap
among them) are set missing again, so that they are neither trained on nor scored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grace import GRACE_MISSING_MONTHS
from gracefuse.data.tables import open_basin_table, read_basin_info
from gracefuse.errors import InputError
from gracefuse.methods.hybrid.config import BasinTables
from gracefuse.methods.hybrid.series import HybridData, aridity_groups, climate_statics


def _name_key(name: str) -> str:
    """A basin name without river words and punctuation, for matching the workbook."""
    s = re.sub(r"\(.*?\)", "", str(name).upper())
    s = re.sub(r"\b(RIVER|RIVIERE|RIO|FLEUVE)\b", "", s)
    return re.sub(r"[^A-Z]", "", s)


def _table(folder: Path, file: str) -> xr.DataArray:
    ds = open_basin_table(folder / file)
    return ds[next(iter(ds.data_vars))]


def _forcing(src: BasinTables, folder: Path) -> tuple[xr.DataArray, dict[str, xr.DataArray]]:
    """Precipitation and the other forcing on precipitation's basins and months."""
    ds = open_basin_table(folder / src.precip)
    precip = ds[next(iter(ds.data_vars))]
    if ds.attrs.get("missing_months"):
        raise InputError(
            folder / src.precip, f"no column for month(s) {ds.attrs['missing_months']}"
        )
    if (precip < 0).any():
        bad = precip.where(precip < 0, drop=True)
        raise InputError(
            folder / src.precip,
            f"negative precipitation ({float(bad.min()):g} mm/month in basin "
            f"'{bad['basin'].values[0]}')",
            str(precip.name),
        )
    others = {}
    for file in src.forcing:
        a = _table(folder, file).reindex_like(precip)
        if a.isnull().all():
            raise InputError(folder / file, "no value on precipitation's basins and months")
        others[str(a.name)] = a
    return precip, others


def _target(folder: Path, file: str | None, basins, months, what: str) -> np.ndarray | None:
    if file is None:
        return None
    a = _table(folder, file)
    if a.isnull().all():
        raise InputError(folder / file, "every value is missing", what)
    return a.reindex(basin=basins, time=months).values.astype(float)


def _statics(src: BasinTables, folder: Path, basins, precip, others, steps):
    """Climate indices from the forcing, plus log area and latitude from the workbook where
    a basin's name matches (the median elsewhere, with a flag)."""
    stat = climate_statics(precip, others, steps)
    lat = np.full(len(basins), np.nan)
    area = np.full(len(basins), np.nan)
    if src.info is not None and (folder / src.info).exists():
        info = read_basin_info(folder / src.info)
        keys = {_name_key(n): n for n in info.index}
        for i, b in enumerate(basins):
            row = keys.get(_name_key(b))
            if row is not None:
                lat[i] = info.loc[row].get("basin_latitude", np.nan)
                area[i] = info.loc[row].get("basin_rastarea", np.nan)
    known = np.isfinite(lat) & np.isfinite(area)
    if known.any():
        stat["abs_latitude"] = np.where(known, np.abs(lat), np.nanmedian(np.abs(lat[known])))
        stat["log_area"] = np.where(known, np.log(area), np.nanmedian(np.log(area[known])))
        stat["has_info"] = known.astype(float)
    return stat, lat, area


def load_basins(src: BasinTables) -> HybridData:
    """The basins of ``src``: those with precipitation and TWS, over precipitation's months.

    Raises
    ------
    InputError
        A file or month column is malformed, precipitation is negative, a target is
        missing everywhere, or the tables share no basin.
    """
    folder = Path(src.folder)
    if not folder.is_dir():
        raise InputError(folder, "basin table folder not found", "data.folder")
    precip, others = _forcing(src, folder)
    tws = _table(folder, src.twsa)
    basins = [b for b in precip["basin"].values if b in set(tws["basin"].values)]
    basins = [b for b in basins if bool(precip.sel(basin=b).notnull().all())]
    if len(basins) < 2:
        raise InputError(folder / src.twsa, "fewer than two basins share TWS and precipitation")
    basins = basins[: src.max_basins] if src.max_basins else basins
    months = pd.DatetimeIndex(precip["time"].values)
    p = precip.sel(basin=basins).values.astype(float)
    forc = {k: np.nan_to_num(v.sel(basin=basins).values.astype(float)) for k, v in others.items()}
    twsa = tws.reindex(basin=basins, time=months).values.astype(float)
    if src.mask_gap_filled:
        gap = months.strftime("%Y-%m").isin(GRACE_MISSING_MONTHS)
        twsa[:, gap] = np.nan
    targets = {"twsa": twsa}
    for name, file in (("et", src.et), ("q", src.q)):
        t = _target(folder, file, basins, months, name)
        if t is not None:
            targets[name] = t
    stat, lat, area = _statics(src, folder, basins, p, forc, months)
    ratio = next((v for k, v in stat.items() if k.startswith("ET_") and k.endswith("_ratio")),
                 None)  # fmt: skip
    region = aridity_groups(ratio) if ratio is not None else np.full(len(basins), "all")
    return HybridData(
        ids=np.asarray(basins), steps=months, months=months,
        step_month=np.arange(len(months)),
        forcing=np.stack([p, *forc.values()], axis=2), forcing_names=["P", *forc],
        precip=p, statics=np.column_stack(list(stat.values())), static_names=list(stat),
        targets=targets, lat=lat, lon=np.full(len(basins), np.nan), region=region,
        area=np.where(np.isfinite(area), area, 1.0), source=str(folder),
    )  # fmt: skip
