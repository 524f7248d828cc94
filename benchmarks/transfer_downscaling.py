"""Does a downscaling run's network carry over to another region? ``gracefuse predict`` on
fine twin worlds the run never saw, scored against each world's fine truth.

The run's patch-trained network (e.g. ``gracefuse run ibrahim2026_twin``'s, trained on the
fine reference of world 0) is applied with :func:`gracefuse.methods.predict.predict_run`
to the worlds of other seeds, given only what a user has there: the fine covariates, the
land mask and the coarse GWSA (no fine reference). Scored on the run's test months (after
its validation year) over every fine land cell: MAE, RMSE, R² (pooled NSE) and the
coverage of the 95 % interval (calibrated on world 0's validation months: coverage on
data it was not calibrated on) and its mean width (mm), beside the mass-corrected bilinear field of the same
coarse input, the baseline that needs no training. The run's own world (seed 0 by default)
can be listed too, to compare with the run's table. Printed as JSON lines, one per
(world, model).

Aim: none to meet; it measures whether a network trained on one world's fine reference
helps where there is none, and the README reports it beside the bilinear field.

    python benchmarks/transfer_downscaling.py --run runs/ibrahim [--seeds 0 2 3] [--models NAME …]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    import numpy as np
    import pandas as pd
    import xarray as xr

    from gracefuse.data.grid import cell_area
    from gracefuse.data.twin.fine_world import make_fine_world
    from gracefuse.io import write_netcdf
    from gracefuse.methods.downscaling.conservation import bilinear, conserve
    from gracefuse.methods.downscaling.scoring import pooled_scores
    from gracefuse.methods.predict import predict_run, read_predictor
    from gracefuse.recipes import load_recipe

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a downscaling run's folder")
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--models", nargs="+", default=None, help="default: every network that "
                    "can be applied")  # fmt: skip
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/gracefuse_transfer_ds"))
    args = ap.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe(args.run / "config.toml")
    src, cfg = recipe.data, recipe.downscaling
    nets = args.models or [n for n, v in read_predictor(args.run)["networks"].items()
                           if not v["not_transferable"]]  # fmt: skip
    for seed in args.seeds:
        world = make_fine_world(size=src.size, factor=src.factor, seed=seed, start=src.start,
                                end=src.end, cell_deg=src.cell_deg, noise_mm=src.noise_mm,
                                reference_mm=src.reference_mm)  # fmt: skip
        grids = args.scratch / f"world{seed}.nc"
        write_netcdf(world[[*cfg.covariates, "land_mask", "gwsa"]], grids)
        test = pd.DatetimeIndex(world["time"].values).strftime("%Y-%m") > cfg.validation_end
        land = world["land_mask"].values.astype(bool)
        truth = np.where(land, world["gwsa_true"].values, np.nan)[test]
        weights = np.where(land, cell_area(world["lat"].values, world["lon"].values).values, 0)
        coarse = world["gwsa"].values
        base, _ = conserve(bilinear(coarse, src.factor), coarse, weights, src.factor)
        base = np.where(land, base, np.nan)[test]
        row = {"world": seed, "model": "bilinear"} | pooled_scores(base, truth, None)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}),
              flush=True)  # fmt: skip
        for name in nets:
            out = predict_run(args.run, grids, args.scratch / f"world{seed}_{name}.nc",
                              model=name, progress=False)  # fmt: skip
            with xr.open_dataset(out) as got:
                fine = got["gwsa"].values[test]
                half = ((got["gwsa_upper"] - got["gwsa_lower"]) / 2).values[test]
            row = {"world": seed, "model": name} | pooled_scores(fine, truth, half)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                              for k, v in row.items()}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
