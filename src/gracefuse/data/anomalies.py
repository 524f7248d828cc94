"""Monthly time axes and anomalies relative to a stated baseline."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.blockwise import minus_stored_map
from gracefuse.errors import InputError

#: The GRACE convention: anomalies relative to the 2004-01..2009-12 mean.
GRACE_BASELINE: tuple[str, str] = ("2004-01", "2009-12")


def month_start(times: xr.DataArray | np.ndarray | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Stamp each time at the first day of its calendar month."""
    idx = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))
    return idx.to_period("M").to_timestamp()


def monthly_index(start: str, end: str) -> pd.DatetimeIndex:
    """All month starts from ``start`` to ``end`` inclusive (``'YYYY-MM'`` strings)."""
    return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS")


def seconds_in_month(times: xr.DataArray) -> xr.DataArray:
    """Number of seconds in the month of each time stamp."""
    return times.dt.days_in_month * 86400.0


def anomalies(
    obj: xr.Dataset | xr.DataArray,
    baseline: tuple[str, str] | None = GRACE_BASELINE,
    spill: str | os.PathLike | None = None,
) -> xr.Dataset | xr.DataArray:
    """Subtract each cell's mean over ``baseline`` from every variable with a time dim.

    Parameters
    ----------
    obj
        Data with a ``time`` dim.
    baseline
        Inclusive (start, end) months, e.g. ``("2004-01", "2009-12")``; ``None`` uses the
        whole record.
    spill
        For dask-backed data: a folder where each variable's baseline mean map is written
        (``baseline_mean_<name>.nc``, atomically); each block of the anomalies then reads
        its own piece of the map from that file (opened and closed in the task), so no
        worker holds a map, nor a piece of one from the first month to the last.
        ``None``: the map is persisted in the workers' memory (simpler; a whole map per
        variable stays in memory until the anomalies are written).

    Returns
    -------
    Same type as ``obj``, with ``anomaly_baseline`` recorded in the attrs.

    Examples
    --------
    >>> t = pd.date_range("2004-01-01", periods=24, freq="MS")
    >>> da = xr.DataArray(np.arange(24.0), coords={"time": t}, dims="time")
    >>> float(anomalies(da, ("2004-01", "2004-12")).isel(time=0))
    -5.5
    """
    if "time" not in obj.dims:
        raise InputError(None, "anomalies need a 'time' dimension")
    if baseline is None:
        ref = obj.sel(time=slice(None, None))
        label = (
            f"{pd.Timestamp(obj.time.values[0]):%Y-%m}..{pd.Timestamp(obj.time.values[-1]):%Y-%m}"
        )
    else:
        start = pd.Timestamp(baseline[0])
        end = pd.Timestamp(baseline[1]) + pd.offsets.MonthEnd(0)
        ref = obj.sel(time=slice(start, end))
        label = f"{baseline[0]}..{baseline[1]}"
        if ref.sizes["time"] == 0:
            t0, t1 = (pd.Timestamp(obj.time.values[i]) for i in (0, -1))
            raise InputError(
                None,
                f"the record ({t0:%Y-%m}..{t1:%Y-%m}) does not cover the anomaly baseline {label}",
            )

    def _one(da: xr.DataArray) -> xr.DataArray:
        if "time" not in da.dims or not np.issubdtype(da.dtype, np.floating):
            return da
        out = _minus_baseline(da, ref[da.name], spill) if da.name in ref else da
        out.attrs = {**da.attrs, "anomaly_baseline": label}
        return out

    if isinstance(obj, xr.DataArray):
        res = _minus_baseline(obj, ref, spill)
        res.attrs = {**obj.attrs, "anomaly_baseline": label}
        res.name = obj.name
        return res
    out = obj.map(_one, keep_attrs=True)
    out.attrs["anomaly_baseline"] = label
    return out


def _minus_baseline(
    da: xr.DataArray, ref: xr.DataArray, spill: str | os.PathLike | None
) -> xr.DataArray:
    """``da`` minus the mean of ``ref`` over time. For dask-backed data the mean is computed
    at once (one pass over the baseline), so the anomalies are then a pass over each chunk
    alone, instead of a graph that holds every chunk until the mean is known. The mean is
    kept in the workers' memory (persisted), or written to a file in ``spill`` from which
    each block of ``da`` reads its own piece."""
    mean = ref.mean("time", skipna=True)
    if mean.chunks is None:
        return da - mean
    if spill is None:
        return da - mean.persist()
    from gracefuse.io import write_netcdf

    name = str(ref.name or "var")
    path = write_netcdf(mean.rename(name).to_dataset(), Path(spill) / f"baseline_mean_{name}.nc")
    data = da.data.map_blocks(
        minus_stored_map, path=str(path), variable=name, dims=da.dims, dtype=da.dtype
    )
    return da.copy(data=data)


def monthly_from_daily(obj: xr.Dataset | xr.DataArray, how: str = "mean") -> xr.Dataset:
    """Aggregate daily (or sub-daily) data to calendar months stamped at the month start.

    ``how="mean"`` for states (storage, temperature), ``how="sum"`` for fluxes given as
    amounts per step (e.g. mm/day → mm/month). Months with no valid value are NaN.
    """
    if how not in {"mean", "sum"}:
        raise ValueError("how must be 'mean' or 'sum'")
    res = obj.resample(time="MS")
    out = res.mean(skipna=True) if how == "mean" else res.sum(skipna=True, min_count=1)
    out.attrs = obj.attrs
    return out
