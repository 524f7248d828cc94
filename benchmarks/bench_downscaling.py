"""Memory and time of GNNWR/GTNNWR's proximity at 10⁵ and 10⁶ fine cells, against the
dense distance matrix of the published form.

The published GNNWR feeds its network the distances from every point to every training
point: an ``n × m`` float32 matrix. Ours keeps the ``k`` nearest training points of each
point from a KD-tree (int64 index + float32 weight), so memory grows with ``n·k``, not
``n·m``. Target (issue 13): a 0.1° grid of a large region (10⁶ fine cells, coarse 0.5°
training cells m = n / 25) fits in a few hundred MB, and one prediction pass over it runs
in minutes on 2 CPU cores.

Prints one JSON object per size.

    python benchmarks/bench_downscaling.py [--sizes 100000 1000000] [--k 16]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch

from gracefuse.models.gnnwr import WeightedRegression, knn_proximity, unit_vectors


def one_size(n: int, k: int, predictors: int = 18, factor: int = 5) -> dict:
    """Proximity and one prediction pass for ``n`` fine cells over ``n / factor²`` anchors."""
    rng = np.random.default_rng(0)
    side = np.sqrt(n) * 0.1  # degrees covered at 0.1°
    m = max(n // factor**2, k)
    anchors = unit_vectors(rng.uniform(30, 30 + side, m), rng.uniform(70, 70 + side, m))
    points = unit_vectors(rng.uniform(30, 30 + side, n), rng.uniform(70, 70 + side, n))
    t0 = time.perf_counter()
    idx, w, _ = knn_proximity(points, anchors, k)
    t_knn = time.perf_counter() - t0
    model = WeightedRegression(torch.ones(predictors + 1), m, 0).eval()
    x = torch.randn(65536, predictors + 1)
    t0 = time.perf_counter()
    with torch.no_grad():
        for a in range(0, n, 65536):
            b = min(65536, n - a)
            model({"x": x[:b], "space_idx": torch.as_tensor(idx[a : a + b]),
                   "space_w": torch.as_tensor(w[a : a + b])})  # fmt: skip
    t_pred = time.perf_counter() - t0
    return {
        "fine_cells": n, "anchors": m, "k": k,
        "proximity_mb": round((idx.nbytes + w.nbytes) / 2**20, 1),
        "dense_distance_matrix_mb": round(n * m * 4 / 2**20, 1),
        "knn_seconds": round(t_knn, 2), "predict_seconds_one_month": round(t_pred, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--k", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(2)
    for n in args.sizes:
        print(json.dumps(one_size(n, args.k)), flush=True)


if __name__ == "__main__":
    main()
