"""Our GNNWR against the GPL ``gnnwr`` package (0.1.17, a peer only) on the same Illinois
wells, folds and predictors: accuracy at held-out wells, fit time and peak memory.

The aim (issue 13): ours at least as accurate (pooled r and NSE of the depth to
groundwater at the held-out wells of ``illinois_wells``' 5 folds) and faster.

Each engine runs in its own child process, so that its peak resident memory is its own:
ours in this environment, the package in ``--peer-python`` (a virtual environment with
``torch==2.13.0`` installed first, then ``gnnwr==0.1.17 --no-deps`` and its light
dependencies: pandas, scikit-learn, tqdm, scipy, statsmodels, tensorboard, folium<0.19,
branca). Both get the fold's training wells' measured months to fit, its early-stopping
wells' months to stop on, the same predictors (``illinois_wells``' covariates, trailing
means and season) and coordinates, hidden layers (64, 32), dropout 0.1, at most 60
epochs with patience 10; each keeps its own optimiser defaults. Proximity: ours, the
k = 8 nearest training wells of a KD-tree; the package, the dense distance from every
row to every training row.

    python benchmarks/peer_gnnwr.py --data ../shared/data --peer-python /tmp/gnnwr_venv/bin/python

Prints one JSON object per engine (``target`` dgwl): ``r``, ``nse``, ``rmse``,
``fit_seconds`` (summed over folds), ``peak_rss_mb`` and ``import_rss_mb`` (after
imports, before any data).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gracefuse.methods.wells.scoring import pooled

HERE = Path(__file__).resolve().parent


def _setup(data: str, folds_seed: int, epochs: int):
    from gracefuse.methods.wells.problem import load_wells_problem, well_folds
    from gracefuse.recipes import load_recipe

    recipe = load_recipe("illinois_wells", data_dir=data)
    recipe = recipe.model_copy(update={"folds_seed": folds_seed,
                                       "train": recipe.train.model_copy(update={"epochs": epochs})})  # fmt: skip
    problem = load_wells_problem(recipe)
    return recipe, problem, well_folds(problem.wells, recipe.wells.folds, folds_seed)


def write_folds(work: Path, recipe, problem, folds: list[list[str]], folds_seed: int) -> None:
    """Each fold's fit / val / test rows as CSV tables for the package."""
    from gracefuse.methods.wells.fit import fold_rows

    table = pd.DataFrame(problem.x, columns=problem.names)
    table["lat"], table["lon"], table["y"] = problem.lat, problem.lon, problem.targets["dgwl"]
    table["row"] = np.arange(len(table))
    for k, test in enumerate(folds):
        rows, _ = fold_rows(problem, recipe, test, "dgwl", folds_seed * 1000 + k)
        for split, idx in rows.items():
            part = table.iloc[idx]
            part[np.isfinite(part.y)].to_csv(work / f"fold{k}_{split}.csv", index=False)


def run_ours(work: Path, data: str, folds_seed: int, epochs: int) -> None:
    """Child: fit our GNNWR on every fold, write its predictions, print time and memory."""
    from gracefuse.methods.wells.fit import fit_weighted_wells, fold_rows

    recipe, problem, folds = _setup(data, folds_seed, epochs)
    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mc = next(m for m in recipe.models if m.name == "gnnwr")
    y = problem.targets["dgwl"]
    seconds = 0.0
    for k, test in enumerate(folds):
        rows, anchors = fold_rows(problem, recipe, test, "dgwl", folds_seed * 1000 + k)
        t0 = time.perf_counter()
        pred = fit_weighted_wells(mc, problem, recipe, y, rows, anchors, work / f"ours{k}", False)
        seconds += time.perf_counter() - t0
        pd.DataFrame({"row": rows["test"], "pred": pred}).to_csv(work / f"ours_fold{k}.csv",
                                                                  index=False)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": "gracefuse_gnnwr", "fit_seconds": round(seconds, 1),
                      "peak_rss_mb": round(peak), "import_rss_mb": round(import_rss)}))  # fmt: skip


def _child(cmd: list[str]) -> dict:
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}
    )
    if out.returncode:
        sys.exit(f"{cmd[1]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def score(work: Path, prefix: str, folds: int, y: np.ndarray) -> dict:
    """Pooled depth scores of an engine's predictions over every fold's test wells."""
    pred = np.full(len(y), np.nan)
    for k in range(folds):
        t = pd.read_csv(work / f"{prefix}_fold{k}.csv")
        pred[t["row"].to_numpy()] = t["pred"].to_numpy()
    return {k: round(v, 4) for k, v in pooled(pred, y).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the shared data folder")
    ap.add_argument("--peer-python", help="python of the environment that has gnnwr 0.1.17")
    ap.add_argument("--folds-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return run_ours(Path(args.child), args.data, args.folds_seed, args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        recipe, problem, fold_wells = _setup(args.data, args.folds_seed, args.epochs)
        write_folds(work, recipe, problem, fold_wells, args.folds_seed)
        folds, y = len(fold_wells), problem.targets["dgwl"]
        engines = [("ours", [sys.executable, __file__, "--data", args.data, "--child", tmp,
                             "--folds-seed", str(args.folds_seed), "--epochs", str(args.epochs)])]  # fmt: skip
        if args.peer_python:
            engines.append(("package", [args.peer_python, str(HERE / "peer_gnnwr_package.py"),
                                        tmp, "--folds", str(folds), "--epochs", str(args.epochs)]))  # fmt: skip
        for prefix, cmd in engines:
            facts = _child(cmd)
            print(json.dumps({**facts, "target": "dgwl", "folds": folds,
                              "folds_seed": args.folds_seed, **score(work, prefix, folds, y)}),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
