"""The cost of ``gracefuse predict`` (a trained network applied tile by tile) as the grid
grows.

``--family fusion`` (default): a small fusion run is trained once on the 32 × 32 twin
(``sun2019_twin``'s inputs and SegNet-pool, a few epochs: the cost, not the skill). Its
inputs (LSM TWSA, precipitation, temperature, 1979–2017) are then laid side by side
``k × k`` times at the same spacing (k = 1, 2, 4, 8: 1,024 to 65,536 cells, 4× per step).
``--family downscaling``: a small ``ibrahim2026_twin`` run (its PI-ConvLSTM + U-Net at 8
filters, two epochs) on the 16 × 16 coarse world × 4, whose fine covariates, land mask
and coarse GWSA (2002–2016) are laid side by side the same way (4,096 to 262,144 fine
cells). Each grid is written chunked and predicted in 64-cell windows with 8-cell
overlaps in a child process whose peak memory (with its descendants) is sampled every
0.1 s. Printed as JSON lines, one per grid: wall seconds, peak memory (GB), cells, months.

Aim: peak memory flat as the grid grows (less than 1.2× per 4× more cells: windows, not
the grid, are held) and time growing no faster than the cells. ``python
benchmarks/predict_scale.py [--family fusion|downscaling] [--factors 1 2 4 8]
[--scratch DIR]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import netCDF4
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from globe_scale import run_child  # noqa: E402

TILING = {"tile": 64, "overlap": 8, "time_block": 12}


def train(folder: Path) -> None:
    """A small fusion run in ``folder/run`` and its inputs in ``folder/grids_1.nc``."""
    from gracefuse.io import write_netcdf
    from gracefuse.recipes import load_recipe, parse_recipe
    from gracefuse.runner import run_recipe

    raw = load_recipe("sun2019_twin").model_dump(mode="json")
    raw["models"] = [m | {"ensemble": 1, "epochs": 3} for m in raw["models"]
                     if m["name"] == "segnet_pool"]  # fmt: skip
    raw["train"] |= {"epochs": 3, "mc_samples": 0}
    res = run_recipe(parse_recipe(raw, "benchmark"), folder / "run", progress=False,
                     figures=False)  # fmt: skip
    write_netcdf(res.data.observed[["twsa_lsm", "precip", "tair", "land_mask"]],
                 folder / "grids_1.nc")  # fmt: skip


def train_downscaling(folder: Path) -> None:
    """A small downscaling run in ``folder/run`` and its inputs in ``folder/grids_1.nc``."""
    from gracefuse.data.twin.fine_world import make_fine_world
    from gracefuse.io import write_netcdf
    from gracefuse.recipes import load_recipe, parse_recipe
    from gracefuse.runner import run_recipe

    raw = load_recipe("ibrahim2026_twin").model_dump(mode="json")
    raw["models"] = [m | {"base_filters": 8, "epochs": 2} for m in raw["models"]
                     if m["name"] == "pi_convlstm_unet"]  # fmt: skip
    raw["downscaling"] |= {"shap_samples": 0, "forest_trees": 10}
    recipe = parse_recipe(raw, "benchmark")
    run_recipe(recipe, folder / "run", progress=False, figures=False)
    src = recipe.data
    world = make_fine_world(size=src.size, factor=src.factor, seed=src.seed, start=src.start,
                            end=src.end)  # fmt: skip
    write_netcdf(world[[*recipe.downscaling.covariates, "land_mask", "gwsa"]],
                 folder / "grids_1.nc")  # fmt: skip


def tiled_grids(folder: Path, k: int) -> Path:
    """The inputs laid side by side ``k × k`` times at their own spacing (fine and, where
    there is one, coarse)."""
    import xarray as xr

    from gracefuse.io import write_netcdf

    path = folder / f"grids_{k}.nc"
    if path.exists():
        return path
    out = xr.open_dataset(folder / "grids_1.nc").load()
    for lat, lon in (("lat", "lon"), ("lat_coarse", "lon_coarse")):
        if lat not in out.dims:
            continue
        ny, nx = out.sizes[lat], out.sizes[lon]
        step = float(out[lat][1] - out[lat][0]), float(out[lon][1] - out[lon][0])
        first = float(out[lat][0]), float(out[lon][0])
        out = out.isel({lat: np.tile(np.arange(ny), k), lon: np.tile(np.arange(nx), k)})
        out = out.assign_coords({lat: first[0] + step[0] * np.arange(k * ny),
                                 lon: first[1] + step[1] * np.arange(k * nx)})  # fmt: skip
    write_netcdf(out.chunk({"time": 12, "lat": 128, "lon": 128}), path)
    return path


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        from gracefuse.methods.predict import predict_run

        run, grids, out = sys.argv[2:5]
        predict_run(run, grids, out, progress=False, **TILING)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=["fusion", "downscaling"], default="fusion")
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument(
        "--scratch", type=Path, default=None, help="default /tmp/gracefuse_predict[_downscaling]"
    )
    args = ap.parse_args()
    suffix = "" if args.family == "fusion" else "_downscaling"
    args.scratch = args.scratch or Path(f"/tmp/gracefuse_predict{suffix}")
    args.scratch.mkdir(parents=True, exist_ok=True)
    if not (args.scratch / "run" / "predictor.json").exists():
        shutil.rmtree(args.scratch / "run", ignore_errors=True)
        (train if args.family == "fusion" else train_downscaling)(args.scratch)
    for k in args.factors:
        grids = tiled_grids(args.scratch, k)
        out = args.scratch / f"predicted_{k}.nc"
        cmd = [sys.executable, __file__, "--child", str(args.scratch / "run"), str(grids),
               str(out)]  # fmt: skip
        seconds, peak, _ = run_child(cmd)
        with netCDF4.Dataset(grids) as nc:
            shape = {d: len(nc.dimensions[d]) for d in ("time", "lat", "lon")}
        print(json.dumps({"family": args.family, "factor": k, "cells": shape["lat"] * shape["lon"],
                          "months": shape["time"], **TILING,
                          "seconds": round(seconds, 1), "peak_gb": round(peak[0] / 1e9, 3),
                          "output_mb": round(out.stat().st_size / 1e6, 1)}), flush=True)  # fmt: skip
        out.unlink()


if __name__ == "__main__":
    main()
