"""The covariate form of ``liang2025_twin``, chosen on validation months of a development
world only.

Candidates: dynamic covariates raw or as anomalies about each cell's training mean, with
trailing means over (1, 3, 12) or (1, 3, 12, 36) months. Each is scored by the fine-grid
MAE of the random forest and GTNNWR (after the mass correction) on the validation months
(2013) of development world seed 1; no test month and no reported world is read. The
recipe takes the candidate with the lowest mean of the two.

Prints one JSON object per candidate, then the choice.

    python benchmarks/choices_downscaling.py [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from gracefuse.config import ModelConfig
from gracefuse.methods.downscaling.baselines import random_forest
from gracefuse.methods.downscaling.problem import load_twin_problem
from gracefuse.methods.downscaling.run import finish
from gracefuse.methods.downscaling.scoring import pooled_scores
from gracefuse.methods.downscaling.weighted import fit_weighted
from gracefuse.recipes import load_recipe

CANDIDATES = [
    {"anomalies": a, "lags": lags} for a in (False, True) for lags in ([1, 3, 12], [1, 3, 12, 36])
]


def validation_mae(recipe, problem, raw) -> float:
    """Fine-grid MAE of a raw field, mass-corrected, on the validation months."""
    val = problem.months_of("validation")
    fine = finish(problem, raw, True, recipe.downscaling.alpha)["gwsa"]
    return pooled_scores(fine[val], problem.truth[val], None)["mae"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="the development world")
    args = ap.parse_args()
    base = load_recipe("liang2025_twin")
    data = base.data.model_copy(update={"seed": args.seed})
    scores = []
    for cand in CANDIDATES:
        t0 = time.perf_counter()
        cfg = base.downscaling.model_copy(update=cand)
        problem = load_twin_problem(data, cfg)
        rf, _ = random_forest(problem, cfg.forest_trees, cfg.forest_samples, base.train.seed)
        with tempfile.TemporaryDirectory() as tmp:
            mc = ModelConfig(name="gtnnwr", dropout=0.1)
            gt, *_ = fit_weighted("gtnnwr", mc, problem, cfg, base.train, Path(tmp), False)
        row = {**cand, "world_seed": args.seed,
               "random_forest_val_mae": round(validation_mae(base, problem, rf), 3),
               "gtnnwr_val_mae": round(validation_mae(base, problem, gt), 3),
               "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
        row["mean_val_mae"] = round((row["random_forest_val_mae"] + row["gtnnwr_val_mae"]) / 2, 3)
        scores.append(row)
        print(json.dumps(row), flush=True)
    best = min(scores, key=lambda r: r["mean_val_mae"])
    print(json.dumps({"chosen": {"anomalies": best["anomalies"], "lags": best["lags"]}}))


if __name__ == "__main__":
    main()
