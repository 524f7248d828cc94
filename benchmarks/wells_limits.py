"""How far the depth to groundwater at an unseen Illinois well can be predicted, and why a
row-random split reports much more.

Prints JSON lines:

- ``between_well_share``: the share of the depth's variance that lies between the wells'
  means (what a model must get right at a well it never saw);
- ``well_mean_r``: Pearson r of each well's mean depth against a linear regression of the
  well means on static covariates, fitted on the other folds' wells (``illinois_wells``'
  5 folds over wells);
- ``row_random``: the random forest of ``illinois_wells`` scored on a 5-fold split over
  rows (well-months) instead of wells, so that every test well's other months are in
  training: the leak that makes a split look easy.

    python benchmarks/wells_limits.py --data ../shared/data [--folds-seed 0]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold

from gracefuse.methods.wells.problem import load_wells_problem, well_folds
from gracefuse.methods.wells.scoring import pooled
from gracefuse.recipes import load_recipe

STATIC_SETS = (
    ["Conductivity"],
    ["Conductivity", "Long"],
    ["Conductivity", "Thickness", "Lat", "Long"],
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--folds-seed", type=int, default=0)
    args = ap.parse_args()
    recipe = load_recipe("illinois_wells", data_dir=args.data)
    p = load_wells_problem(recipe)
    y = p.targets["dgwl"]
    ok = np.isfinite(y)
    table = p.table.assign(Lat=p.lat, Long=p.lon)[ok]
    means = table.groupby("well")["dgwl"].mean()
    within = (table["dgwl"] - table.groupby("well")["dgwl"].transform("mean")).var()
    print(json.dumps({"between_well_share": round(1 - within / table["dgwl"].var(), 3)}))
    statics = table.groupby("well")[["Conductivity", "Thickness", "Lat", "Long"]].mean()
    folds = well_folds(p.wells, recipe.wells.folds, args.folds_seed)
    for cols in STATIC_SETS:
        pred = pd.Series(np.nan, index=means.index)
        for test in folds:
            train = statics.index.difference(test)
            fit = LinearRegression().fit(statics.loc[train, cols], means[train])
            pred[test] = fit.predict(statics.loc[test, cols])
        print(json.dumps({"well_mean_r": round(float(np.corrcoef(pred, means)[0, 1]), 3),
                          "statics": cols, "folds_seed": args.folds_seed}))  # fmt: skip
    xs = np.column_stack([p.x, p.lat, p.lon])[ok]
    out = np.full(ok.sum(), np.nan)
    for tr, te in KFold(recipe.wells.folds, shuffle=True, random_state=0).split(xs):
        forest = RandomForestRegressor(recipe.wells.forest_trees, min_samples_leaf=5,
                                       max_features=0.5, n_jobs=-1, random_state=0)  # fmt: skip
        out[te] = forest.fit(xs[tr], y[ok][tr]).predict(xs[te])
    scores = {k: round(v, 3) for k, v in pooled(out, y[ok]).items()}
    print(json.dumps({"row_random": scores, "model": "random_forest"}))


if __name__ == "__main__":
    main()
