"""Trains Sun et al.'s U-Net (no batch norm) on a small fixed problem through the shared loop, under
``torchrun`` with 1 or 2 processes, and writes the loss curve and the final weights' digest
(rank 0). Run by ``tests/test_distributed.py``; not a test itself.

``python -m torch.distributed.run --standalone --nproc_per_node N ddp_fit_worker.py OUT``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import TrainConfig
from gracefuse.datasets.arrays import ArrayDataset
from gracefuse.models import build_model
from gracefuse.training import fit
from gracefuse.training.determinism import seed_everything
from gracefuse.training.distributed import current_ranks, process_group
from gracefuse.training.losses import MaskedMSE


def problem(n: int = 29, size: int = 16) -> ArrayDataset:
    """A fixed learnable field: y is a smooth function of three predictor maps; the same
    land mask (NaN outside) in every sample."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3, size, size)).astype(np.float32)
    y = (0.8 * x[:, 0] - 0.5 * x[:, 1] * x[:, 2] + 0.3).astype(np.float32)
    land = np.ones((size, size), bool)
    land[:3, :5] = False
    y[:, ~land] = np.nan
    return ArrayDataset(x=x, y=y)


def main(out: Path) -> None:
    with process_group() as ranks:
        seed_everything(0)
        torch.set_num_threads(1)
        model = build_model("unet", n_predictors=3, months=1, base_filters=8, depth=2, dropout=0.0)
        cfg = TrainConfig(epochs=4, batch_size=8, lr=3e-3, seed=0, clip_grad=1.0)
        # 21 training samples: batches of 8, 8 and 5 (a share of 3 and one of 2)
        result = fit(model, problem(), np.arange(21), np.arange(21, 29), MaskedMSE(), cfg,
                     out / "checkpoints", progress=False)  # fmt: skip
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        if current_ranks().main:
            record = {"world": ranks.world,
                      "train_loss": [h["train_loss"] for h in result.history],
                      "val_loss": [h["val_loss"] for h in result.history],
                      "weights_norm": float(weights.norm()), "weights_sum": float(weights.sum())}  # fmt: skip
            (out / "curve.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
