"""The fine predictors and memory of ``ibrahim2026_twin``, chosen on validation months of
a development world only.

Candidates: fine predictors with trailing means over (1, 3, 12, 36) months or the month's
own values only (the paper's form, where memory comes from the ConvLSTM alone), each with
six months and one month of coarse memory. Each is scored by the fine-grid MAE of the
PI-ConvLSTM + U-Net (after the mass correction) on the validation months (2013) of
development world seed 1; no test month and no reported world is read.

Prints one JSON object per candidate.

    python benchmarks/choices_ibrahim.py [--seed 1] [--epochs 12] [--base-filters 32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from gracefuse.config import ModelConfig
from gracefuse.methods.downscaling.patches import fit_patch
from gracefuse.methods.downscaling.problem import load_twin_problem
from gracefuse.methods.downscaling.run import finish
from gracefuse.methods.downscaling.scoring import pooled_scores
from gracefuse.recipes import load_recipe

CANDIDATES = [{"lags": lags} for lags in ([1, 3, 12, 36], [1])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="the development world")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--base-filters", type=int, default=32)
    args = ap.parse_args()
    base = load_recipe("ibrahim2026_twin")
    data = base.data.model_copy(update={"seed": args.seed})
    for cand in CANDIDATES:
        cfg = base.downscaling.model_copy(update=cand)
        problem = load_twin_problem(data, cfg)
        val = problem.months_of("validation")
        for name in ("pi_convlstm_unet", "pi_convlstm_unet_memory1"):
            t0 = time.perf_counter()
            mc = ModelConfig(name=name, dropout=0.1, epochs=args.epochs,
                             base_filters=args.base_filters)  # fmt: skip
            with tempfile.TemporaryDirectory() as tmp:
                mean, sd, facts, _ = fit_patch(name, mc, problem, cfg, base.train, Path(tmp), False)
            fine = finish(problem, mean, True, cfg.alpha, sd)["gwsa"]
            row = {**cand, "model": name, "world_seed": args.seed, "epochs": args.epochs,
                   "base_filters": args.base_filters, "best_epoch": facts["best_epoch"],
                   "val_mae": round(pooled_scores(fine[val], problem.truth[val], None)["mae"], 3),
                   "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
