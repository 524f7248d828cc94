"""The cost of a global run as the grid grows: a synthetic global grid × 240 months, written
chunked to netCDF (never held in memory), through conservative regridding of the land-surface
fields onto GRACE's 0.5° grid (xarray-regrid), the chunked preparation (anomalies about
2004–2009, GWSA separation with propagated error, land mask, area-weighted land mean) and
tiled downscaling inference (a CNN over (GWSA, elevation) in blended 256-cell windows).

Each stage runs in a child process; the parent samples the resident memory of the child and
all its descendants (the LocalCluster's workers) every 0.1 s. Printed as JSON lines, one
per (resolution, workers, stage): wall seconds, peak memory (GB), cells, and the file sizes.
Workers: a ``dask.distributed`` LocalCluster of N processes for the preparation, N torch
threads for the inference.

Aim (issue 14): at 0.1° (3600 × 1800 × 240) peak memory below 4 GB, and growing less than
1.2× when the grid grows 4× (0.4° → 0.2° → 0.1°). Inputs are stored as packed int16 (as
ERA5's netCDF files are, deflated, missing over the ocean) and outputs as deflated float32,
so that 0.1° fits this machine's disk. ``python benchmarks/globe_scale.py --res 0.4 0.2 0.1
--workers 1 2 --scratch DIR``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

MONTHS = 240
CHUNK = {"time": 12, "lat": 450, "lon": 450}


def write_inputs(folder: Path, res: float, months: int) -> None:
    """``inputs.nc``: twsa, sm, swe (time, lat, lon) as packed, deflated int16 in mm, missing
    over the ocean (as ERA5-Land is); land, elev."""
    import netCDF4
    import pandas as pd

    lat = np.arange(-90 + res / 2, 90, res)
    lon = np.arange(-180 + res / 2, 180, res)
    rng = np.random.default_rng(0)
    land = (np.sin(np.deg2rad(lon))[None, :] + np.cos(np.deg2rad(3 * lat))[:, None]) > -0.3
    amp = 50 + 100 * np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size)
    trend = -2.0 * np.exp(-((lat[:, None] - 28) ** 2 + (lon[None, :] - 77) ** 2) / 50.0)
    times = pd.date_range("2002-01-01", periods=months, freq="MS")
    path = folder / "inputs.nc"
    with netCDF4.Dataset(path, "w") as nc:
        for name, values in (("time", None), ("lat", lat), ("lon", lon)):
            nc.createDimension(name, months if values is None else values.size)
        nc.createVariable("lat", "f8", ("lat",))[:] = lat
        nc.createVariable("lon", "f8", ("lon",))[:] = lon
        t = nc.createVariable("time", "f8", ("time",))
        t.units, t.calendar = "days since 1970-01-01", "standard"
        t[:] = (times - pd.Timestamp("1970-01-01")).days.to_numpy()
        nc.createVariable("land", "i1", ("lat", "lon"))[:] = land.astype(np.int8)
        nc.createVariable("elev", "f4", ("lat", "lon"))[:] = (1000 * land * rng.random(
            land.shape)).astype(np.float32)  # fmt: skip
        chunks = (CHUNK["time"], min(CHUNK["lat"], lat.size), min(CHUNK["lon"], lon.size))
        fields = {name: nc.createVariable(name, "i2", ("time", "lat", "lon"), chunksizes=chunks,
                                          fill_value=np.int16(-32768), zlib=True, complevel=1,
                                          shuffle=True)
                  for name in ("twsa", "sm", "swe")}  # fmt: skip
        for v in fields.values():
            v.scale_factor, v.add_offset, v.units = np.float32(0.1), np.float32(0), "mm"
        for a in range(0, months, CHUNK["time"]):
            m = np.arange(a, min(a + CHUNK["time"], months))
            season = np.sin(2 * np.pi * (m % 12) / 12)[:, None, None]
            noise = rng.normal(0, 5, (m.size, *land.shape)).astype(np.float32)
            sm = 0.6 * amp * season + noise
            swe = 0.2 * amp * np.maximum(season, 0)
            gw = trend * (m / 12)[:, None, None] + 0.2 * amp * season
            twsa = sm + swe + gw + rng.normal(0, 10, sm.shape)
            for name, values in (("sm", sm), ("swe", swe), ("twsa", twsa)):
                fields[name][m] = np.ma.masked_array(values, ~np.broadcast_to(land, values.shape))


def regrid(folder: Path, workers: int, target: float = 0.5) -> dict:
    """Soil moisture and snow from the input grid onto a global ``target``° grid (GRACE's
    0.5° by default), first-order conservative (:func:`gracefuse.data.grid.
    regrid_conservative`, xarray-regrid), chunked on a LocalCluster of ``workers``; written
    to ``lsm_grace_grid.nc``. Returns the number of target bands (lat × lon; each regridded
    on its own from the source cells it overlaps) and the land mean of the first month on
    both grids (they agree: conservation)."""
    import xarray as xr

    from gracefuse.data.grid import regrid_conservative
    from gracefuse.data.regrid_blocks import band_plan
    from gracefuse.globe import dask_scheduler
    from gracefuse.io import write_netcdf

    half = target / 2
    grid = xr.Dataset(coords={"lat": np.arange(-90 + half, 90, target),
                              "lon": np.arange(-180 + half, 180, target)})  # fmt: skip
    with dask_scheduler(f"local:{workers}", memory_limit="3GB"):
        ds = xr.open_dataset(folder / "inputs.nc", chunks=CHUNK)
        bands = [len(band_plan(ds[c].values, grid[c].values, ds.chunksizes[c]))
                 for c in ("lat", "lon")]  # fmt: skip
        out = regrid_conservative(ds[["sm", "swe"]], grid)
        write_netcdf(out, folder / "lsm_grace_grid.nc")
        coarse = xr.open_dataset(folder / "lsm_grace_grid.nc", chunks={}).sm.isel(time=0)
        fine = ds.sm.isel(time=0)
        means = [float(f.weighted(np.cos(np.deg2rad(f.lat)) * f.notnull()).mean().compute())
                 for f in (fine, coarse)]  # fmt: skip
    return {"target_deg": target, "bands": bands[0] * bands[1], "sm_mean_fine_mm": round(means[0], 3),
            "sm_mean_target_mm": round(means[1], 3)}  # fmt: skip


def prepare(folder: Path, workers: int) -> dict:
    """The chunked preparation on a LocalCluster of ``workers``: ``gwsa.nc``, then the land
    mean series read back from it (one pass over the inputs less than computing it beside).
    The baseline means go to files in ``folder`` (``spill``), not the workers' memory."""
    import xarray as xr

    from gracefuse.analysis.separation import separate
    from gracefuse.data.anomalies import anomalies
    from gracefuse.globe import dask_scheduler
    from gracefuse.io import write_netcdf

    with dask_scheduler(f"local:{workers}", memory_limit="3GB"):
        ds = xr.open_dataset(folder / "inputs.nc", chunks=CHUNK)
        land = ds.land.astype(bool)
        twsa, sm, swe = (anomalies(ds[v], spill=folder) for v in ("twsa", "sm", "swe"))
        sep = separate(twsa, {"sm": sm, "swe": swe}, errors={"twsa": 0.1, "sm": 0.2, "swe": 0.2})
        out = sep[["gwsa", "gwsa_uncertainty"]].where(land)
        write_netcdf(out.assign(elev=ds.elev, land=land), folder / "gwsa.nc")
        gwsa = xr.open_dataset(folder / "gwsa.nc", chunks={}).gwsa  # stored chunks
        weights = np.cos(np.deg2rad(ds.lat)) * land
        mean = gwsa.weighted(weights).mean(("lat", "lon")).compute()
    return {"land_mean_trend_mm_per_year": float(np.polyfit(np.arange(mean.size) / 12,
                                                            mean.values, 1)[0])}  # fmt: skip


def downscale(folder: Path, workers: int) -> dict:
    """Tiled inference of a small CNN (random weights: the cost, not the skill) over
    (GWSA, elevation), written to ``downscaled.nc``."""
    import torch
    import xarray as xr

    from gracefuse.globe import Tiling, tiled_predict, torch_predictor

    torch.set_num_threads(workers)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 1, 1))  # fmt: skip

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, batch):
            x = batch["x"]
            return {"y_hat": x[:, 0] + 0.01 * self.net(x / torch.tensor([100.0, 1000.0]).view(
                1, 2, 1, 1))[:, 0]}  # fmt: skip

    ds = xr.open_dataset(folder / "gwsa.nc")  # lazy: a band is read at a time
    tiled_predict(torch_predictor(Model(), batch=12), ds, ["gwsa", "elev"],
                  folder / "downscaled.nc", tiling=Tiling(256, 32, 12), mask=ds.land.astype(bool),
                  progress=False)  # fmt: skip
    return {}


#: each stage as ``(folder, workers, input resolution, regrid target) → facts``
STAGES = {"inputs": lambda f, w, r, t: write_inputs(f, r, MONTHS) or {},
          "regrid": lambda f, w, r, t: regrid(f, w, t),
          "prepare": lambda f, w, r, t: prepare(f, w),
          "downscale": lambda f, w, r, t: downscale(f, w)}  # fmt: skip


def tree_rss(pid: int) -> tuple[int, int]:
    """Resident bytes of ``pid`` itself and of all its descendants (the workers)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    sizes = []
    for p in procs:
        try:
            sizes.append(p.memory_info().rss)
        except psutil.NoSuchProcess:
            sizes.append(0)
    return sizes[0], sum(sizes[1:])


def run_child(cmd: list[str]) -> tuple[float, list[int], str]:
    """Run ``cmd``; its wall seconds, the peak resident bytes of its tree, of the process
    itself and of its descendants (sampled every 0.1 s), and its standard output."""
    t0, peak = time.perf_counter(), [0, 0, 0]  # the tree, the process itself, descendants
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

    def sample() -> None:
        while child.poll() is None:
            own, workers = tree_rss(child.pid)
            peak[:] = max(peak[0], own + workers), max(peak[1], own), max(peak[2], workers)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, _ = child.communicate()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed ({child.returncode})")
    return time.perf_counter() - t0, peak, out


def measure(stage: str, folder: Path, workers: int, res: float, target: float = 0.5) -> dict:
    """Run one stage in a child process; its wall time and the peak memory of its tree."""
    cmd = [sys.executable, __file__, "--child", stage, str(folder), str(workers), str(res),
           str(target)]  # fmt: skip
    seconds, peak, out = run_child(cmd)
    extra = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return {"seconds": round(seconds, 1), "peak_gb": round(peak[0] / 1e9, 3),
            "peak_gb_main": round(peak[1] / 1e9, 3), "peak_gb_workers": round(peak[2] / 1e9, 3),
            **extra}  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        stage, folder, workers, res, target = sys.argv[2:7]
        print(json.dumps(STAGES[stage](Path(folder), int(workers), float(res), float(target))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--res", type=float, nargs="+", default=[0.5, 0.4, 0.2])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/gracefuse_globe"))
    ap.add_argument("--regrid-deg", type=float, default=0.5,
                    help="the regrid stage's target grid (degrees; GRACE's 0.5 by default)")  # fmt: skip
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["regrid", "prepare", "downscale"],
        help="stages not run (downscale needs prepare)",
    )
    ap.add_argument("--keep", action="store_true",
                    help="keep inputs.nc in the scratch folder and use it again next time "
                         "(0.1° takes minutes to write); needs room for every file at once")  # fmt: skip
    args = ap.parse_args()
    for res in args.res:
        folder = args.scratch / f"res{res}"
        cells = round(180 / res) * round(360 / res)
        if not (args.keep and (folder / "inputs.nc").exists()):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            row = measure("inputs", folder, 1, res)
            print(json.dumps({"res": res, "cells": cells, "months": MONTHS, "stage": "inputs",
                              "workers": 1, **row,
                              "input_gb": round((folder / "inputs.nc").stat().st_size / 1e9, 2)}),
                  flush=True)  # fmt: skip
        # every preparation first, then the inputs go (disk: 0.1° holds inputs and gwsa.nc,
        # or gwsa.nc and downscaled.nc, never all three)
        stages = [("regrid", "lsm_grace_grid.nc"), ("prepare", "gwsa.nc"),
                  ("downscale", "downscaled.nc")]  # fmt: skip
        stages = [s for s in stages if s[0] not in args.skip]
        for stage, product in stages:
            for w in args.workers:
                row = measure(stage, folder, w, res, args.regrid_deg)
                size = round((folder / product).stat().st_size / 1e9, 2)
                print(json.dumps({"res": res, "cells": cells, "months": MONTHS, "stage": stage,
                                  "workers": w, **row, "output_gb": size}), flush=True)  # fmt: skip
                if stage == "regrid":
                    (folder / product).unlink()
            if stage == "prepare" and not args.keep:
                (folder / "inputs.nc").unlink(missing_ok=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
