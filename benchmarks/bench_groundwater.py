"""Time the per-location steps of the groundwater family on synthetic grids, and their
peak memory.

Targets (issue 12): a continental 0.5° grid (about 10⁴ land cells, 20 years monthly) in
minutes on 2 CPU cores, not hours:
- Sen trend with its AR(1)-aware interval and MK p: ≤ 10 ms per cell;
- generalised three-cornered hat (SLSQP with the positive-definiteness constraint) over
  3 products: ≤ 20 ms per cell;
- STL of the storage and of one driver with the lag search: ≤ 30 ms per cell.

Prints one JSON object per line.

    python benchmarks/bench_groundwater.py [--cells 400] [--months 240]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.analysis.tch import tch_dataset
from gracefuse.analysis.trends import trend_dataset
from gracefuse.methods.groundwater.analyse import driver_table


def field(cells: int, months: int, seed: int = 0) -> xr.DataArray:
    """``(time, cell)`` storage: a trend, an annual cycle and AR(1) noise (mm)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months) / 12.0
    noise = np.zeros((months, cells))
    for k in range(1, months):
        noise[k] = 0.6 * noise[k - 1] + rng.normal(0, 10, cells)
    x = -5 * t[:, None] + 40 * np.sin(2 * np.pi * t)[:, None] + noise
    time_ = pd.date_range("2002-04-01", periods=months, freq="MS")
    return xr.DataArray(x, dims=("time", "cell"), coords={"time": time_, "cell": np.arange(cells)},
                        attrs={"units": "mm"})  # fmt: skip


def timed(name: str, fn, cells: int) -> dict:
    t = time.perf_counter()
    fn()
    s = time.perf_counter() - t
    return {"step": name, "cells": cells, "seconds": round(s, 2),
            "ms_per_cell": round(1000 * s / cells, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=400)
    ap.add_argument("--months", type=int, default=240)
    args = ap.parse_args()
    storage = field(args.cells, args.months)
    rng = np.random.default_rng(1)
    products = xr.concat([storage + rng.normal(0, s, storage.shape) for s in (8, 10, 20)],
                         "product").assign_coords(product=["a", "b", "c"])  # fmt: skip
    products.attrs["units"] = "mm"
    driver = {"precipitation": field(args.cells, args.months, seed=2)}
    targets = {"trends": 10, "tch": 20, "drivers": 30}
    for name, fn in (("trends", lambda: trend_dataset(storage)),
                     ("tch", lambda: tch_dataset(products)),
                     ("drivers", lambda: driver_table(storage, driver, 6))):  # fmt: skip
        row = timed(name, fn, args.cells)
        row["target_ms_per_cell"] = targets[name]
        row["meets_target"] = row["ms_per_cell"] <= targets[name]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
