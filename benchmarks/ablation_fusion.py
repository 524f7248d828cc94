"""Ablation of the fusion model on the twin: which part buys what, and the choices behind
the ``sun2019_twin`` recipe, made on validation months only.

Stages, each printed as JSON lines (one per run and split):

1. ``inputs`` and ``ensemble``: on the first *development* worlds (twin seeds 0–2), the
   inputs (the paper's, + 12-month trailing means, + exponential precipitation memories)
   and the ensemble size, for ``ridge+segnet_pool``, scored on validation months.
2. ``residual``: on the second development worlds (seeds 11–13), whether the CNN should
   learn the per-cell ridge's residual (``ridge+segnet_pool``) or the mismatch itself
   (``segnet_pool``), beside the paper's SegNet-lite and U-Net; validation months decide.
3. ``ablation``: on worlds no choice was made on (seeds 21–23), the parts of the fused
   product scored on test months: the per-cell ridge alone, the CNN alone (ours), the CNN
   on the ridge's residual, and the paper's SegNet-lite and U-Net.

Aim: ours beats ``cell_ridge`` and the raw LSM in test region and grid-median NSE on every
unseen world. Stage 3 takes about 5 minutes per world on 2 CPU cores, all stages about an
hour: ``python benchmarks/ablation_fusion.py [--stage ...] [--quick]`` (``--quick``: one
world per stage, fewer variants).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from gracefuse.recipes import load_recipe
from gracefuse.runner import run_recipe

INPUTS = {
    "paper": {"memory": [], "memory_efolding": []},
    "trailing12": {"memory": ["precip", "twsa"], "memory_efolding": []},
    "efolding": {"memory": [], "memory_efolding": [12.0, 24.0, 48.0, 96.0]},
}


def _models(recipe, names: list[str], ensemble: int = 3):
    ours = next(m for m in recipe.models if m.name == "segnet_pool")
    by_label = {m.label: m for m in recipe.models}
    out = []
    for name in names:
        if name == "ridge+segnet_pool":
            out.append(ours.model_copy(update={"ensemble": ensemble, "residual": "cell_ridge"}))
        elif name == "segnet_pool":
            out.append(ours.model_copy(update={"ensemble": ensemble, "residual": None}))
        else:
            out.append(by_label[name])
    return out


def run(seed: int, inputs: str, models: list[str], ensemble: int, splits: list[str], stage: str):
    recipe = load_recipe("sun2019_twin")
    recipe.data = recipe.data.model_copy(update={"seed": seed})
    if inputs != "recipe":
        recipe.samples = recipe.samples.model_copy(update=INPUTS[inputs])
    recipe.models = _models(recipe, models, ensemble)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_recipe(recipe, tmp, progress=False, figures=False)
    m = res.table
    nse = m[m.metric == "nse"].pivot_table(
        index=["model", "split"], columns="scale", values="value"
    )
    for (model, split), row in nse.iterrows():
        if split not in splits:
            continue
        line = {
            "stage": stage,
            "seed": seed,
            "inputs": inputs,
            "ensemble": ensemble,
            "model": model,
            "split": split,
            "region_nse": round(float(row["region"]), 4),
            "grid_median_nse": round(float(row["grid_median"]), 4),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one world per stage, fewer variants")
    stages = ["inputs", "ensemble", "residual", "ablation", "all"]
    ap.add_argument("--stage", choices=stages, default="all")
    ap.add_argument("--inputs", default="recipe", help="inputs of the ensemble stage")
    args = ap.parse_args(argv)
    dev, dev2, unseen = ([0], [11], [21]) if args.quick else ([0, 1, 2], [11, 12, 13], [21, 22, 23])
    ours = ["ridge+segnet_pool"]
    if args.stage in ("inputs", "all"):
        for seed in dev:
            for inputs in INPUTS if not args.quick else ["trailing12"]:
                run(seed, inputs, ours, 3, ["validation"], "inputs")
    if args.stage in ("ensemble", "all"):
        for seed in dev:
            for ensemble in (1, 3, 5) if not args.quick else (1,):
                run(seed, args.inputs, ours, ensemble, ["validation"], "ensemble")
    parts = ["ridge+segnet_pool", "segnet_pool", "segnet_lite", "unet"]
    if args.stage in ("residual", "all"):
        for seed in dev2:
            run(seed, "recipe", parts, 5, ["validation"], "residual")
    if args.stage in ("ablation", "all"):
        for seed in unseen:
            run(seed, "recipe", parts, 5, ["validation", "test"], "ablation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
