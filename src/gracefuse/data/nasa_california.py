"""Reader of NASA JPL's California groundwater CSVs (``nasa_grace_california``): GRACE
total water storage, NLDAS VIC soil moisture, SNODAS snow, reservoirs and NASA's own
groundwater estimate, each with its error, as volumes (km³) over the state.

The header is kept: the area (km²) that turns km³ into mm, the anomaly baseline of each
component, and GRACE's missing months (in the file they are interpolated).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import month_start
from gracefuse.errors import InputError

#: the file's columns → gracefuse names
COLUMNS = {
    "total water storage": "twsa",
    "snow water equivalent": "swe",
    "soil moisture": "sm",
    "reservoirs": "reservoirs",
    "groundwater estimate": "gwsa_nasa",
    "groundwater": "gwsa_nasa",
}


def _header(lines: list[str]) -> dict:
    text = "\n".join(lines)
    area = re.search(r"Average area of .*?:\s*([\d.]+)\s*km", text)
    base = re.findall(r"mean_removal_baseline_start: \[\"([\d-]+)\"\]", text)
    end = re.findall(r"mean_removal_baseline_end: \[\"([\d-]+)\"\]", text)
    missing = re.search(r"months_missing: \[\"([\d;-]+)\"\]", text)
    units = re.search(r"units of water volume \((\S+)\)", text)
    return {
        "area_km2": float(area.group(1)) if area else None,
        "baseline": (base[0][:7], end[0][:7]) if base and end else None,
        "missing_months": missing.group(1).split(";") if missing else [],
        "units": units.group(1).replace("^", "") if units else None,
    }


def read_nasa_california(path: str | os.PathLike) -> xr.Dataset:
    """One of NASA's California CSVs as a monthly Dataset (km³, ``time`` at month start).

    Variables: each component and ``<name>_error`` (1σ), named by :data:`COLUMNS`. Attrs:
    ``area_km2``, ``baseline`` (start, end months), ``missing_months`` of GRACE.

    Raises
    ------
    InputError
        When the file is missing, has no area in its header, or lacks the TWS column.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found")
    with p.open(encoding="utf-8") as f:
        head = [ln.rstrip("\n") for ln in f if ln.startswith("#")]
    info = _header(head)
    if info["area_km2"] is None:
        raise InputError(p, "the header states no area ('Average area of ... km^2'), "
                         "needed to turn km³ into mm")  # fmt: skip
    table = pd.read_csv(p, comment="#")
    if "date" not in table or "total water storage" not in table:
        raise InputError(p, "needs the columns 'date' and 'total water storage'")
    ds = xr.Dataset(coords={"time": month_start(pd.to_datetime(table.pop("date")))})
    for col in table.columns:
        base = col.removesuffix(" error")
        if base not in COLUMNS:
            continue
        name = COLUMNS[base] + ("_error" if col.endswith(" error") else "")
        ds[name] = ("time", table[col].astype(float).values, {"units": info["units"] or "km3"})
    ds.attrs = {"source": str(p), "area_km2": info["area_km2"],
                "baseline": list(info["baseline"] or []),
                "missing_months": info["missing_months"]}  # fmt: skip
    return ds
