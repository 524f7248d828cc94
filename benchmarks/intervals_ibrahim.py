"""How the downscalers' 95 % intervals should grow with the months after training,
chosen on a development world.

``ibrahim2026_twin`` calibrates its intervals on the validation year (2013) and is
scored on 2014–2016, while pumping keeps reshaping the fine field: a fixed interval
scale under-covers the later years. This runs the recipe on a development world (seed 0
by default; the reported worlds are 2 and 3) with fixed scales, then for each method
grows the scale as ``sqrt(1 + β·g(L))`` for each form ``g`` of
:data:`~gracefuse.methods.downscaling.scoring.LEAD_FORMS` (β and the conformal ``q``
fitted on the validation months only) and prints the coverage of the test months, per
year, one JSON object per method and form. The aim: 0.93–0.97 in every test year.

    python benchmarks/intervals_ibrahim.py [--seed 0] [--epochs 40]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from gracefuse.methods.downscaling.problem import load_twin_problem
from gracefuse.methods.downscaling.run import downscale_all
from gracefuse.methods.downscaling.scoring import (
    LEAD_FORMS,
    interval_quantile,
    lead_growth,
    pooled_scores,
)
from gracefuse.recipes import load_recipe


def coverage_rows(problem, fields: dict, alpha: float, seed: int):
    """One row per method and growth form: test coverage overall and per year."""
    test = problem.months_of("test")
    years = problem.months.year.to_numpy()
    for name, f in fields.items():
        for form in ["none", *LEAD_FORMS]:
            scale = f["scale"]
            if form != "none":
                scale = scale * lead_growth(problem, f["gwsa"], scale, form)[:, None, None]
            half = interval_quantile(problem, f["gwsa"], alpha, scale) * scale
            row = {"world_seed": seed, "model": name, "growth": form}
            for key, m in [("coverage95", test)] + [
                (str(y), years == y) for y in np.unique(years[test])
            ]:
                row[key] = round(
                    pooled_scores(f["gwsa"][m], problem.truth[m], half[m])["coverage95"], 4
                )
            yield row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="the development world")
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args()
    recipe = load_recipe("ibrahim2026_twin")
    cfg = recipe.downscaling.model_copy(update={"interval_growth": "none", "shap_samples": 0})
    recipe = recipe.model_copy(update={
        "data": recipe.data.model_copy(update={"seed": args.seed}), "downscaling": cfg,
        "train": recipe.train.model_copy(update={"epochs": args.epochs})})  # fmt: skip
    problem = load_twin_problem(recipe.data, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        result = downscale_all(recipe, problem, Path(tmp), False)
    for row in coverage_rows(problem, result.fields, cfg.alpha, args.seed):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
