"""Well tables: monthly depth to groundwater at wells with covariates sampled at each well
(the Illinois table of ``illinois_wells_grace_dgwl``), read, checked and cleaned.

The table is long: one row per well and month with ``Month``, ``Year``, the well's name
(``wellme``), ``Lat``/``Long`` (degrees), the depth to groundwater ``DGWL_m`` (m below the
surface, NaN where unmeasured) and covariates. Quirks of the real file, handled here:

- ``LST`` (land-surface temperature, °C) has impossible values (down to −171): values
  outside −60..60 °C become the median of the other wells that month;
- ``Conductivity`` (hydraulic conductivity; one value per well) is missing for whole
  wells: such a well takes the value of its nearest well that has one;
- ``DGWL_m`` is missing for 752 rows: those rows are predicted but never scored or fitted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gracefuse.data.tables import _locations, _read_csv, numeric_column
from gracefuse.errors import InputError

#: columns every well table needs
REQUIRED = ("Month", "Year", "wellme", "Lat", "Long", "DGWL_m", "GRACE_TWSA")
#: the covariates sampled at the wells (units): dynamic first, then per-well constants
COVARIATES = {
    "GRACE_TWSA": "mm", "TRMM": "mm/month", "SoilMoisture": "mm", "LST": "degC",
    "Vegetation": "%", "Canopy": "1", "SWE": "mm", "Discharge": "m3/s",
    "Thickness": "m", "Conductivity": "m/day",
}  # fmt: skip
STATIC = ("Thickness", "Conductivity")
LST_RANGE = (-60.0, 60.0)


def read_well_table(path: str | Path, covariates: list[str] | None = None):
    """The well table as a DataFrame sorted by well and month, and notes on what was fixed.

    Columns: ``well``, ``time`` (month start), ``lat``, ``lon``, ``dgwl`` (m) and the
    covariates (:data:`COVARIATES`, or those asked).

    Raises
    ------
    InputError
        The file is missing or unreadable (:mod:`gracefuse.data.tables`' checks: text in a
        number column, fill values, locations off the globe), a column is missing, a
        covariate is empty throughout, a well has two rows for one month, or months are out
        of range.
    """
    path = Path(path)
    covariates = list(COVARIATES) if covariates is None else covariates
    raw = _read_csv(path)
    missing = [c for c in (*REQUIRED, *covariates) if c not in raw.columns]
    if missing:
        raise InputError(path, f"columns missing: {', '.join(missing)}")
    if not raw["Month"].between(1, 12).all():
        raise InputError(path, "months outside 1..12", "Month")
    for c in covariates:
        if raw[c].isna().all():
            raise InputError(path, "no value at all (NaN everywhere)", c)
    lat, lon = _locations(raw, "Lat", "Long", path)
    df = pd.DataFrame({"well": raw["wellme"].astype(str),
                       "time": pd.to_datetime(dict(year=raw["Year"], month=raw["Month"], day=1)),
                       "lat": lat, "lon": lon,
                       "dgwl": numeric_column(raw["DGWL_m"], path, "DGWL_m")})  # fmt: skip
    for c in covariates:
        df[c] = numeric_column(raw[c], path, c)
    twice = df.duplicated(["well", "time"])
    if twice.any():
        first = df[twice].iloc[0]
        raise InputError(path, f"well {first.well!r} has two rows for {first.time:%Y-%m}")
    notes = _clean(df, covariates)
    return df.sort_values(["well", "time"]).reset_index(drop=True), notes


def _clean(df: pd.DataFrame, covariates: list[str]) -> list[str]:
    """Fix the known quirks in place; a note per fix."""
    notes = []
    if "LST" in covariates:
        bad = ~df["LST"].between(*LST_RANGE)
        if bad.any():
            month_median = df["LST"].where(~bad).groupby(df["time"]).transform("median")
            df.loc[bad, "LST"] = month_median[bad]
            notes.append(f"LST: {int(bad.sum())} values outside {LST_RANGE} °C replaced by the "
                         "month's median over the other wells")  # fmt: skip
    for c in (c for c in STATIC if c in covariates):
        per_well = df.groupby("well")[c].transform("median")
        empty = per_well.isna()
        if empty.any():
            site = df.groupby("well")[["lat", "lon", c]].median()
            have = site[site[c].notna()]
            for well in df.loc[empty, "well"].unique():
                d = np.hypot(have.lat - site.lat[well], have.lon - site.lon[well])
                per_well[df["well"] == well] = have[c].iloc[int(np.argmin(d.values))]
            notes.append(f"{c}: missing at wells {sorted(df.loc[empty, 'well'].unique())}; "
                         "each takes its nearest well's value")  # fmt: skip
        df[c] = per_well
    for c in covariates:
        if df[c].isna().any():
            n = int(df[c].isna().sum())
            df[c] = df[c].fillna(df.groupby("time")[c].transform("median"))
            notes.append(f"{c}: {n} missing values filled with the month's median over wells")
    return notes


def grid_cells(lat, lon, grid_lat: np.ndarray,
               grid_lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Row and column of the cell (regular centres) nearest each point, and whether the
    point lies in that cell (within half a cell of its centre: inside the grid)."""

    def index(v, axis):
        step = abs(axis[1] - axis[0]) if len(axis) > 1 else 1.0
        k = np.abs(np.asarray(v, float)[:, None] - axis[None, :]).argmin(1)
        return k, np.abs(np.asarray(v, float) - axis[k]) <= step / 2 + 1e-9

    i, in_i = index(lat, np.asarray(grid_lat))
    j, in_j = index(lon, np.asarray(grid_lon))
    return i, j, in_i & in_j


def locate_wells(lat: np.ndarray, lon: np.ndarray, names, grid_lat: np.ndarray,
                 grid_lon: np.ndarray, where: str | Path) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Row and column of the grid cell holding each well.

    Raises
    ------
    InputError
        Naming the wells that fall outside the grid (beyond half a cell from its edge).
    """
    i, j, inside = grid_cells(lat, lon, grid_lat, grid_lon)
    outside = [str(n) for n, ok in zip(names, inside, strict=True) if not ok]
    if outside:
        raise InputError(where, f"wells outside the grid ({grid_lat.min():.2f}..{grid_lat.max():.2f}"
                         f"°N, {grid_lon.min():.2f}..{grid_lon.max():.2f}°E): {', '.join(outside)}")  # fmt: skip
    return i, j
