"""Regional and grid-cell summaries of skill."""

from __future__ import annotations

import numpy as np
import xarray as xr

from gracefuse.data.grid import region_mean
from gracefuse.evaluate.metrics import METRICS


def regional_series(ds: xr.Dataset, mask: xr.DataArray | None = None) -> xr.Dataset:
    """Area-weighted mean series of every ``(time, lat, lon)`` variable inside ``mask``."""
    out = {
        name: region_mean(var, mask)
        for name, var in ds.data_vars.items()
        if {"time", "lat", "lon"} <= set(var.dims)
    }
    return xr.Dataset(out)


def grid_skill(
    sim: xr.DataArray,
    obs: xr.DataArray,
    mask: xr.DataArray | None = None,
    metrics: tuple[str, ...] = ("r", "nse", "rmse", "kge", "kge_anomaly"),
) -> xr.Dataset:
    """Per-cell skill maps over time, NaN outside ``mask``."""
    maps = {m: METRICS[m](sim, obs, "time") for m in metrics}
    ds = xr.Dataset(maps)
    return ds.where(mask) if mask is not None else ds


def grid_median(maps: xr.Dataset) -> dict[str, float]:
    """Median over cells of each skill map (NaN cells ignored)."""
    return {k: float(np.nanmedian(v.values)) for k, v in maps.data_vars.items()}


def skill_rows(
    model: str,
    split: str,
    sim: xr.DataArray,
    obs: xr.DataArray,
    mask: xr.DataArray,
    metrics: tuple[str, ...] = ("r", "nse", "rmse", "kge", "kge_anomaly"),
) -> list[dict]:
    """Long-form rows ``model,split,scale,metric,value`` for one model on one set of months.

    ``region``: metric of the area-weighted mean series inside ``mask``; ``grid_median``:
    median over cells of the per-cell metric.
    """
    sim, obs = sim.where(mask), obs.where(mask)
    s_reg, o_reg = region_mean(sim, mask), region_mean(obs, mask)
    rows = []
    for m in metrics:
        f = METRICS[m]
        rows.append(
            dict(model=model, split=split, scale="region", metric=m, value=float(f(s_reg, o_reg)))
        )
        cell = f(sim, obs).where(mask).values
        value = float(np.nanmedian(cell)) if np.isfinite(cell).any() else float("nan")
        rows.append(dict(model=model, split=split, scale="grid_median", metric=m, value=value))
    return rows
