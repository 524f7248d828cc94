"""Time training epochs of the hybrid family, and check that the result no longer depends
on the spin-up length.

Targets (issue 11):
- seconds per training epoch of ``kraft2020_basins`` (204 basins, temporal split) and of a
  64×64 twin grid (each land cell a sequence), on CPU and on CUDA when present; the whole
  ``gracefuse run kraft2020_basins`` must fit in 15 minutes on 2 CPU cores;
- ``--jobs``: two trainings one after another (1 thread, all threads) and side by side in
  two processes of one thread (:mod:`gracefuse.training.jobs`);
- ``--spinup``: a hybrid trained once, then predicted with spin-ups of 0, 2, 5, 10 and 20
  drawn years: the TWS test NSE and the stores should stop changing beyond some length.

Prints one JSON object per line.

    python benchmarks/bench_hybrid.py [--epochs 2] [--grid 64] [--jobs] [--spinup]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import ModelConfig
from gracefuse.evaluate.metrics import nse
from gracefuse.methods.hybrid.basins import load_basins
from gracefuse.methods.hybrid.config import HybridTwinSource
from gracefuse.methods.hybrid.evaluate import align_twsa
from gracefuse.methods.hybrid.splits import temporal_roles
from gracefuse.methods.hybrid.train import fit_member, predict_monthly, train_plan
from gracefuse.methods.hybrid.twin import load_hybrid_twin
from gracefuse.recipes import find_shared_data, load_recipe
from gracefuse.training.determinism import reproducible


def epoch_time(recipe, data, device: str, epochs: int, folder: Path) -> dict:
    """Median seconds per epoch of the hybrid on the temporal split (training and
    validation pass), through the shared loop."""
    recipe = recipe.model_copy(update={"train": recipe.train.model_copy(
        update={"device": device, "epochs": epochs})})  # fmt: skip
    roles = temporal_roles(data, recipe.hybrid, "t")
    mc = ModelConfig(name="hybrid", dropout=0.2, epochs=epochs)
    t = time.perf_counter()
    _, _, result = fit_member(mc, recipe, data, roles, folder, False, 0)
    return {"seconds_per_epoch": round(result.seconds_per_epoch, 3),
            "wall_seconds": round(time.perf_counter() - t, 2), "samples": int(data.n),
            "steps": int(len(data.steps)), "device": device}  # fmt: skip


def jobs_study(recipe, data, folder: Path, epochs: int) -> list[dict]:
    """Wall time of two independent hybrid trainings (two ensemble members on the temporal
    split): one after another in this process on torch's threads (1 thread, then all
    cores), and side by side in two processes of one thread each."""
    roles = temporal_roles(data, recipe.hybrid, "t")
    mc = ModelConfig(name="hybrid", dropout=0.2, epochs=epochs, ensemble=2)
    rows = []
    cores = torch.get_num_threads()
    for label, train in (("one after another, 1 thread", {"jobs": 1, "num_threads": 1}),
                         (f"one after another, {cores} threads", {"jobs": 1}),
                         ("side by side, 2 processes x 1 thread", {"jobs": 2})):  # fmt: skip
        r = recipe.model_copy(update={"train": recipe.train.model_copy(update=train)})
        t = time.perf_counter()
        with reproducible(r.train):
            train_plan([(mc, roles)], r, data, folder / label.replace(" ", "_"), False)
        rows.append({"how": label, "trainings": 2, "epochs": epochs,
                     "wall_seconds": round(time.perf_counter() - t, 2)})  # fmt: skip
    return rows


def spinup_study(recipe, data, folder: Path, epochs: int) -> list[dict]:
    """One trained hybrid, predicted after spin-ups of different lengths."""
    roles = temporal_roles(data, recipe.hybrid, "t")
    mc = ModelConfig(name="hybrid", dropout=0.2, epochs=epochs)
    model, std, _ = fit_member(mc, recipe, data, roles, folder, False, 0)
    obs = data.targets["twsa"]
    own = roles.train[1] | roles.validation[1]
    rows, ref = [], None
    for years in (0, 2, 5, 10, 20):
        model.spinup_years = years
        out = predict_monthly(model, data, std, np.arange(data.n))
        tws = align_twsa(out["tws"], obs, own, own)
        test = roles.score_months
        score = float(np.nanmedian(nse(tws[:, test].T, obs[:, test].T).values))
        gw0 = out["gw"][:, 0]
        if ref is None:
            ref = out
        rows.append({"spinup_years": years, "twsa_test_median_nse": round(score, 4),
                     "gw_first_month_mean_mm": round(float(np.mean(gw0)), 2),
                     "tws_max_abs_change_vs_0_mm": round(float(np.nanmax(np.abs(
                         out["tws"] - ref["tws"]))), 3)})  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--spinup", action="store_true", help="also run the spin-up study")
    ap.add_argument(
        "--jobs",
        action="store_true",
        help="also time two trainings one after another and side by side",
    )
    ap.add_argument("--folder", default="/tmp/gracefuse_bench_hybrid")
    args = ap.parse_args()
    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)  # no checkpoint of an earlier run resumes
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    shared, _ = find_shared_data()
    basins = load_recipe("kraft2020_basins", data_dir=shared) if shared else None
    if basins is not None:
        data = load_basins(basins.data)
        for dev in devices:
            res = epoch_time(basins, data, dev, args.epochs, folder / f"basins_{dev}")
            print(json.dumps({"benchmark": "hybrid_epoch_basins", **res,
                              "target": "whole run <= 900 s on 2 CPU cores"}))  # fmt: skip
        if args.jobs:
            for row in jobs_study(basins, data, folder / "jobs", args.epochs):
                print(
                    json.dumps(
                        {
                            "benchmark": "hybrid_jobs_basins",
                            **row,
                            "target": "side by side faster than one after another",
                        }
                    )
                )
        if args.spinup:
            for row in spinup_study(basins, data, folder / "spinup", 25):
                print(json.dumps({"benchmark": "hybrid_spinup_basins", **row}))
    twin = load_recipe("kraft2020_twin")
    grid = load_hybrid_twin(HybridTwinSource(size=args.grid))
    for dev in devices:
        res = epoch_time(twin, grid, dev, args.epochs, folder / f"twin{args.grid}_{dev}")
        print(json.dumps({"benchmark": f"hybrid_epoch_twin{args.grid}", **res,
                          "target": "report; CUDA faster than CPU when lent"}))  # fmt: skip


if __name__ == "__main__":
    main()
