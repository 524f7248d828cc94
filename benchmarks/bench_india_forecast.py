"""GRACE-only ConvLSTM on the real India grid against persistence, climatology + trend and
linear interpolation.

Target (issue 4): the ConvLSTM beats persistence and climatology + trend on one-month-ahead
forecasts over the last 36 months (grid-median RMSE and region-mean RMSE), and its filling
of hidden months is scored too. Needs ../shared/data (or GRACEFUSE_SHARED_DATA). Prints one
JSON object per (model, split) and the run time.

    python benchmarks/bench_india_forecast.py [--epochs 15] [--out runs/bench_india]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from gracefuse.recipes import load_recipe
from gracefuse.runner import run_recipe


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default="runs/bench_india")
    args = ap.parse_args()
    shared = Path(
        os.environ.get("GRACEFUSE_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data")
    )
    os.environ["GRACEFUSE_SHARED_DATA"] = str(shared.resolve())
    recipe = load_recipe("yu2021_india_grace_only")
    if args.epochs:
        recipe.train = recipe.train.model_copy(update={"epochs": args.epochs})
    t0 = time.perf_counter()
    res = run_recipe(recipe, args.out, progress=False)
    seconds = time.perf_counter() - t0
    t = res.table
    keep = t[
        t.split.isin(["forecast_1m", "hidden_single", "hidden_block", "test"])
        & t.metric.isin(["rmse", "r", "nse"])
    ]
    for (model, split), g in keep.groupby(["model", "split"]):
        row = {"model": model, "split": split}
        row |= {
            f"{s}_{m}": round(float(v), 4)
            for s, m, v in zip(g.scale, g.metric, g.value, strict=True)
        }
        print(json.dumps(row))
    print(json.dumps({"seconds": round(seconds, 1), "fill_model": res.fill_model}))


if __name__ == "__main__":
    main()
