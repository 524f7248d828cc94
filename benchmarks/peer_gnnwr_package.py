"""The peer side of ``benchmarks/peer_gnnwr.py``: the GPL ``gnnwr`` package (0.1.17) on
fold tables written by it. Runs in the package's own environment, never gracefuse's;
imports only the package and its dependencies.

    PEER_PYTHON benchmarks/peer_gnnwr_package.py WORK_DIR --folds 5 [--epochs 60]

Reads ``WORK_DIR/fold{k}_{fit,val,test}.csv`` (predictors, ``lat``, ``lon``, ``y``,
``row``), writes ``WORK_DIR/package_fold{k}.csv`` (``row``, ``pred``) and prints one JSON
line: fit seconds summed over folds and the process's peak resident memory.

One quirk of the package is worked around: ``init_dataset_split(shuffle=True)`` shuffles
the test loader too, and ``GNNWR.predict`` writes the loader's order back onto the
table's order, so predictions would land on the wrong rows; the test loader is rebuilt
unshuffled (training batches stay shuffled).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import warnings
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--patience", type=int, default=10)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from gnnwr.datasets import init_dataset_split
    from gnnwr.models import GNNWR
    from torch.utils.data import DataLoader

    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    os.chdir(args.work)  # the package writes its logs and models under the working folder
    seconds = 0.0
    for k in range(args.folds):
        fit, val, test = (
            pd.read_csv(args.work / f"fold{k}_{s}.csv") for s in ("fit", "val", "test")
        )
        x_cols = [c for c in fit.columns if c not in ("lat", "lon", "y", "row")]
        t0 = time.perf_counter()
        sets = init_dataset_split(
            fit,
            val,
            test,
            x_column=x_cols,
            y_column=["y"],
            spatial_column=["lon", "lat"],
            batch_size=128,
        )
        sets[2].dataloader = DataLoader(sets[2], batch_size=len(sets[2]), shuffle=False)
        model = GNNWR(
            *sets, dense_layers=[64, 32], drop_out=0.1, model_name=f"fold{k}", use_gpu=False
        )
        model.run(max_epoch=args.epochs, early_stop=args.patience)
        seconds += time.perf_counter() - t0
        pred = model.predict(sets[2])
        pd.DataFrame(
            {"row": pred["row"].to_numpy(), "pred": pred["denormalized_pred_result"].to_numpy()}
        ).to_csv(args.work / f"package_fold{k}.csv", index=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "engine": "gnnwr_package_0.1.17",
                "fit_seconds": round(seconds, 1),
                "peak_rss_mb": round(peak),
                "import_rss_mb": round(import_rss),
            }
        )
    )


if __name__ == "__main__":
    main()
