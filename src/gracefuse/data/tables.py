"""Readers for tabular data: basin-mean series (one row per basin) and well tables."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import month_start
from gracefuse.data.checks import check_range, check_raw, empty_months
from gracefuse.data.grace import assign_calendar_months
from gracefuse.data.units import to_mm_factor
from gracefuse.errors import InputError

BASIN_COLUMN = re.compile(r"^(?P<var>.+?)\s+(?P<date>\d{4}-\d{2}(?:-\d{2})?)$")

#: units of the basin products in ``lehmannfa_basin_timeseries``
BASIN_UNITS = {"TWS": "mm", "P": "mm/month", "ET": "mm/month", "R": "mm/month"}


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        return pd.read_csv(path, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot be read as CSV ({exc})") from exc


def numeric_column(
    values: pd.Series, path: Path, column: str, quantity: str | None = None
) -> np.ndarray:
    """``values`` as floats (empty cells NaN); text, ±inf, undeclared fill values or values
    outside ``PHYSICAL_RANGES[quantity]`` raise an :class:`InputError` naming the row.

    Examples
    --------
    >>> numeric_column(pd.Series(["1.5", "", "2"]), Path("w.csv"), "level").tolist()
    [1.5, nan, 2.0]
    """
    num = pd.to_numeric(values, errors="coerce")
    text = num.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if text.any():
        row = text.idxmax()
        raise InputError(
            path,
            f"row {row}: {values[row]!r} is not a number ({int(text.sum())} such cells)",
            column,
        )
    arr = num.to_numpy(dtype=float)
    da = xr.DataArray(arr, dims="row", name=column)
    check_raw(da, path, column)
    if quantity is not None:
        check_range(da, quantity, path, column)
    return arr


def open_basin_table(path: str | os.PathLike) -> xr.Dataset:
    """One basin-series CSV (rows: basins, columns: ``NAME YYYY-MM-15``) → ``(basin, time)``.

    The variable is named after the column prefix (e.g. ``TWS_GRACE_JPL_mascons``); units
    follow its first token (``TWS`` mm, ``P``/``ET``/``R`` mm/month). Times are month starts.

    Examples
    --------
    A file with header ``,P_GLDAS21 2002-04-15,P_GLDAS21 2002-05-15`` and a row
    ``GANGES,10,20`` gives ``ds["P_GLDAS21"].sel(basin="GANGES")`` = [10, 20].
    """
    p = Path(path)
    df = _read_csv(p, index_col=0)
    names, times = set(), []
    for col in df.columns:
        m = BASIN_COLUMN.match(str(col).strip())
        if m is None:
            raise InputError(p, f"column {col!r} is not of the form 'NAME YYYY-MM-DD'")
        names.add(m["var"])
        times.append(pd.Timestamp(m["date"]))
    if len(names) != 1:
        raise InputError(p, f"expected one variable per file, found {sorted(names)}")
    name = names.pop()
    t = month_start(pd.DatetimeIndex(times))
    if t.has_duplicates:
        raise InputError(p, f"duplicated month {t[t.duplicated()][0]:%Y-%m}")
    quantity = {"TWS": "storage", "P": "flux", "ET": "flux", "R": "flux"}.get(name.split("_")[0])
    values = (
        np.column_stack([numeric_column(df[c], p, str(c), quantity) for c in df.columns])
        if len(df.columns)
        else np.empty((len(df), 0))
    )
    da = xr.DataArray(
        values,
        coords={"basin": [str(b).strip() for b in df.index], "time": t},
        dims=("basin", "time"),
        name=name,
        attrs={
            "units": BASIN_UNITS.get(name.split("_")[0], "unknown"),
            "long_name": name.replace("_", " "),
            "source_file": str(p),
        },
    )
    ds = da.sortby("time").to_dataset()
    ds = ds.reindex(time=pd.date_range(t.min(), t.max(), freq="MS"))  # absent months -> NaN
    ds.attrs["missing_months"] = ", ".join(empty_months(ds[name]))
    return ds


def open_epoch_series(path: str | os.PathLike, units: str = "cm", name: str = "twsa") -> xr.Dataset:
    """A headerless ``date,value`` CSV of GRACE solutions (real epochs, e.g. MM/DD/YYYY).

    Each epoch is mapped to its calendar month (see
    :func:`gracefuse.data.grace.assign_calendar_months`); months without a solution are NaN
    and listed in ``attrs["missing_months"]``. Values are converted to mm.
    """
    p = Path(path)
    df = _read_csv(p, header=None, names=["epoch", "value"])
    epochs = pd.to_datetime(df["epoch"], errors="coerce")
    if epochs.isna().any():
        raise InputError(p, f"{int(epochs.isna().sum())} dates cannot be parsed")
    epochs = pd.DatetimeIndex(epochs)
    if not epochs.is_monotonic_increasing or epochs.has_duplicates:
        raise InputError(p, "epochs are not strictly increasing")
    months, notes = assign_calendar_months(epochs)
    factor = to_mm_factor(units, p, name)
    values = numeric_column(df["value"], p, "value") * factor
    check_range(xr.DataArray(values, dims="time", name=name), "twsa", p, "value")
    full = pd.date_range(months.min(), months.max(), freq="MS")
    ds = xr.Dataset(
        {name: ("time", values)},
        coords={"time": months, "grace_epoch": ("time", epochs.values)},
    )
    ds = ds.groupby("time").mean() if months.has_duplicates else ds
    ds = ds.reindex(time=full)
    ds[name].attrs = {"units": "mm", "long_name": "terrestrial water storage anomaly"}
    ds.attrs = {
        "source_file": str(p),
        "missing_months": ", ".join(f"{t:%Y-%m}" for t in full.difference(months)),
        "month_notes": "; ".join(notes),
    }
    return ds


def open_basin_tables(
    folder: str | os.PathLike, pattern: str = "*_monthly.csv", info: str | None = "basins.xlsx"
) -> xr.Dataset:
    """All basin-series CSVs of a folder merged into one ``(basin, time)`` Dataset.

    Basin attributes from ``basins.xlsx`` (id, area km², latitude) become coordinates when
    the workbook is there. Variables keep their own time spans (outer join, NaN elsewhere).
    """
    d = Path(folder)
    files = sorted(d.glob(pattern))
    if not files:
        raise InputError(d, f"no file matches {pattern!r}")
    ds = xr.merge([open_basin_table(f) for f in files], join="outer", compat="no_conflicts")
    if info is not None and (d / info).exists():
        meta = read_basin_info(d / info)
        meta = meta.reindex(ds["basin"].values)
        for col in meta.columns:
            ds = ds.assign_coords({col: ("basin", meta[col].to_numpy())})
    ds.attrs = {"title": "basin-mean water balance series", "source_file": str(d)}
    return ds


def read_basin_info(path: str | os.PathLike) -> pd.DataFrame:
    """The basin workbook (``basins.xlsx``) indexed by basin name, columns in snake case."""
    p = Path(path)
    try:
        df = pd.read_excel(p)
    except Exception as exc:  # noqa: BLE001
        raise InputError(p, f"cannot be read as a spreadsheet ({exc})") from exc
    df.columns = [re.sub(r"[^0-9a-z]+", "_", str(c).strip().lower()).strip("_") for c in df]
    name_col = next((c for c in df.columns if "name" in c), None)
    if name_col is None:
        raise InputError(p, f"no basin name column among {list(df.columns)}")
    df[name_col] = df[name_col].astype(str).str.strip()
    out = df.set_index(name_col)
    out.index.name = "basin"
    return out.rename(columns=lambda c: f"basin_{c}" if not c.startswith("basin") else c)


_ID = ("well_id", "well", "wellme", "site", "site_id", "station", "id", "name")
_LAT = ("lat", "latitude", "y")
_LON = ("lon", "long", "longitude", "x")
_TIME = ("time", "date", "datetime")


def _pick(columns: Sequence[str], options: Sequence[str], given: str | None) -> str | None:
    if given is not None:
        return given
    low = {c.lower(): c for c in columns}
    return next((low[o] for o in options if o in low), None)


def _locations(df: pd.DataFrame, latc: str, lonc: str, p: Path) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes of every row: numbers, present, on the globe."""
    lat = numeric_column(df[latc], p, latc)
    lon = numeric_column(df[lonc], p, lonc)
    if np.isnan(lat).any() or np.isnan(lon).any():
        raise InputError(
            p, f"{int(np.isnan(lat).sum() + np.isnan(lon).sum())} rows lack a location"
        )
    outside = (np.abs(lat) > 90) | (lon < -180) | (lon > 360)
    if outside.any():
        bad = int(np.flatnonzero(outside)[0])
        raise InputError(
            p,
            f"row {bad}: location ({lat[bad]:g}, {lon[bad]:g}) is outside lat [-90, 90], "
            "lon [-180, 360]",
        )
    return lat, lon


def open_wells(
    path: str | os.PathLike,
    value: str | None = None,
    *,
    id_column: str | None = None,
    lat_column: str | None = None,
    lon_column: str | None = None,
    time_column: str | None = None,
    units: str = "m",
    monthly: bool = True,
) -> xr.Dataset:
    """A well table (id, lat, lon, time, value) → ``(well, time)`` Dataset with coordinates.

    Column names are detected (``well_id``/``wellme``/``site``, ``lat``/``Lat``,
    ``lon``/``Long``, ``time``/``date`` or ``Year`` + ``Month``) unless given. ``value`` is
    the measured column (default: ``value`` or the last numeric column). Several readings
    of one well in one month are averaged when ``monthly`` is true.

    Returns
    -------
    xr.Dataset
        ``value`` variable named after the column, dims ``(well, time)``; coordinates
        ``lat(well)``, ``lon(well)``; other numeric columns as further variables.
    """
    p = Path(path)
    df = _read_csv(p)
    cols = list(df.columns)
    idc = _pick(cols, _ID, id_column)
    latc = _pick(cols, _LAT, lat_column)
    lonc = _pick(cols, _LON, lon_column)
    tc = _pick(cols, _TIME, time_column)
    for what, c in (("well id", idc), ("latitude", latc), ("longitude", lonc)):
        if c is None or c not in df:
            raise InputError(p, f"no {what} column (columns: {', '.join(cols)})")
    low = {c.lower(): c for c in cols}
    if tc is not None and tc in df:
        times = pd.to_datetime(df[tc], errors="coerce", format="mixed")
    elif "year" in low and "month" in low:
        times = pd.to_datetime(
            {"year": df[low["year"]], "month": df[low["month"]], "day": 1}, errors="coerce"
        )
    else:
        raise InputError(p, "no time column (time/date, or Year and Month)")
    if times.isna().any():
        bad = int(times.isna().sum())
        raise InputError(p, f"{bad} rows have a time that cannot be parsed")
    df[latc], df[lonc] = _locations(df, latc, lonc, p)
    skip = {idc, latc, lonc, tc, low.get("year"), low.get("month")}
    numeric = [c for c in cols if c not in skip and pd.api.types.is_numeric_dtype(df[c])]
    if value is None:
        value = "value" if "value" in df else (numeric[-1] if numeric else None)
    if value is None or value not in df:
        raise InputError(p, f"no value column {value!r} (numeric columns: {numeric})")
    df[value] = numeric_column(df[value], p, value, "well_level")
    df = df.assign(
        _time=month_start(times) if monthly else pd.DatetimeIndex(times),
        _well=df[idc].astype(str),
    )
    coords = df.groupby("_well")[[latc, lonc]].first()
    spread = df.groupby("_well")[[latc, lonc]].agg(lambda s: float(np.ptp(s.to_numpy())))
    moved = spread[(spread > 1e-6).any(axis=1)]
    if len(moved):
        raise InputError(p, f"well {moved.index[0]!r} has more than one location")
    keep = [value, *[c for c in numeric if c != value]]
    table = df.groupby(["_well", "_time"])[keep].mean()
    ds = xr.Dataset.from_dataframe(table).rename({"_well": "well", "_time": "time"})
    ds = ds.assign_coords(
        lat=("well", coords.loc[ds["well"].values, latc].to_numpy(dtype=float)),
        lon=("well", coords.loc[ds["well"].values, lonc].to_numpy(dtype=float)),
    )
    ds[value].attrs = {"units": units, "long_name": f"well {value}"}
    ds.attrs = {"title": "well observations", "source_file": str(p), "value_variable": value}
    return ds
