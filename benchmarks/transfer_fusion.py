"""Does a fusion run's network carry over to another region? ``gracefuse predict`` on twin
worlds the run never saw, scored against each world's GRACE.

The run's networks (e.g. ``gracefuse demo``'s, trained on twin world 0) are applied to the
32 × 32 twins of other seeds (1979–2017: the LSM's TWSA, its own precipitation as
``precip``, air temperature, the land mask) with :func:`predict_run`; the corrected TWSA
and the raw LSM are scored against that world's GRACE over every GRACE month
(2002-04..2017-12): NSE of the land-mean series and the median NSE over land cells with
more than 12 GRACE months; for the networks also the coverage of their 95 % interval (the
share of land cell-months whose GRACE lies inside; calibrated on world 0's calibration
months, so this is coverage on data it was not calibrated on) and its mean half-width
(mm). Printed as JSON lines, one per (world, model).

Aim: none to meet. It measures whether corrections learned on one world help on another;
the README reports the result beside the raw LSM. ``python benchmarks/transfer_fusion.py
--run runs/demo [--seeds 1 2] [--scratch DIR]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

GRACE_MONTHS = slice("2002-04", "2017-12")


def coverage(lower, upper, grace) -> dict:
    """Share of the cell-months with GRACE inside ``[lower, upper]``, and the mean
    half-width (mm) there."""
    seen = grace.notnull() & lower.notnull()
    inside = ((grace >= lower) & (grace <= upper)).where(seen)
    half = ((upper - lower) / 2).where(seen)
    return {"coverage95": round(float(inside.mean()), 3),
            "half_width_mm": round(float(half.mean()), 1)}  # fmt: skip


def scores(field, grace, land) -> dict:
    """Land-mean NSE and the median of the cells' NSE against GRACE (cells with more than
    12 GRACE months)."""
    from gracefuse.data.grid import region_mean
    from gracefuse.evaluate.metrics import nse

    f = field.where(land)
    cells = nse(f, grace).where(land & (grace.notnull().sum("time") > 12))
    region = nse(region_mean(f, land), region_mean(grace, land))
    return {"region_nse": round(float(region), 3),
            "grid_median_nse": round(float(cells.median()), 3)}  # fmt: skip


def main() -> None:
    import xarray as xr

    from gracefuse.data.twin import make_twin
    from gracefuse.io import write_netcdf
    from gracefuse.methods.fusion.apply import load_predictor, predict_run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a fusion run on the 32 × 32 twin")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/gracefuse_transfer"))
    args = ap.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    networks = [n for n, v in load_predictor(args.run)["networks"].items()
                if not v["not_transferable"]]  # fmt: skip
    for seed in args.seeds:
        twin = make_twin(size=32, seed=seed, start="1979-01", end="2017-12", make_fine=False)
        grids = args.scratch / f"world{seed}.nc"
        write_netcdf(twin[["twsa_lsm", "tair", "land_mask"]].assign(precip=twin["lsm_precip"]),
                     grids)  # fmt: skip
        land = twin["land_mask"].astype(bool)
        grace = twin["twsa_grace"].where(land).sel(time=GRACE_MONTHS)
        lsm = twin["twsa_lsm"].sel(time=GRACE_MONTHS)
        print(json.dumps({"world": seed, "model": "lsm", **scores(lsm, grace, land)}), flush=True)
        for name in networks:
            out = predict_run(args.run, grids, args.scratch / f"world{seed}_{name}.nc",
                              model=name, progress=False)  # fmt: skip
            with xr.open_dataset(out) as got:
                got = got.sel(time=GRACE_MONTHS).load()
            row = {"world": seed, "model": name, **scores(got["twsa_corrected"], grace, land)}
            if "twsa_corrected_lower" in got:
                row |= coverage(got["twsa_corrected_lower"], got["twsa_corrected_upper"], grace)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
