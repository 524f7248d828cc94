"""LSM → GRACE image networks (Yu et al. 2021): SE-U-Net, Pix2Pix (with its PatchGAN) and
the deep convolutional autoencoder, trained on the training months only."""

from __future__ import annotations

import numpy as np

from gracefuse.datasets import ArrayDataset
from gracefuse.datasets.splits import Splits, early_stopping
from gracefuse.models import build_model, count_parameters
from gracefuse.models.pix2pix import PatchGAN
from gracefuse.training import (
    AdversarialTerm,
    MaskedL1,
    MaskedMSE,
    choose_device,
    fit,
    predict,
    seed_everything,
)


def _augment(x: np.ndarray, y: np.ndarray, idx: np.ndarray, rotate: bool = False):
    """Append transformed copies of the months ``idx``: the flips (north–south, east–west,
    both) and, with ``rotate`` on a square grid, the 90° and 270° rotations and the two
    transposes (the rest of the square's symmetry group)."""
    ops = [lambda a: np.flip(a, -2), lambda a: np.flip(a, -1), lambda a: np.flip(a, (-2, -1))]
    if rotate and x.shape[-1] == x.shape[-2]:
        ops += [
            lambda a: np.rot90(a, 1, (-2, -1)),
            lambda a: np.rot90(a, 3, (-2, -1)),
            lambda a: np.swapaxes(a, -2, -1),
            lambda a: np.flip(np.swapaxes(a, -2, -1), (-2, -1)),
        ]
    xs = [x] + [op(x[idx]).copy() for op in ops]
    ys = [y] + [op(y[idx]).copy() for op in ops]
    n = len(x)
    extra = np.arange(n, n + len(ops) * len(idx))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate([idx, extra])


def train_image_model(
    mcfg,
    recipe,
    lsm_scaled: np.ndarray,
    grace_scaled: np.ndarray,
    splits: Splits,
    out_dir,
    progress: bool = True,
):
    """Train an LSM → GRACE image model (``seunet``, ``pix2pix``, ``dcae``).

    Returns
    -------
    prediction, info
        ``(time, H, W)`` predictions in scaled units for every month; ``info`` holds the
        parameter count and the median seconds per epoch.
    """
    tcfg = recipe.train
    seed_everything(tcfg.seed)
    device = choose_device(tcfg.device)
    x = lsm_scaled if lsm_scaled.ndim == 4 else lsm_scaled[:, None]
    x = x.astype(np.float32)
    y = grace_scaled.astype(np.float32)
    train, val = early_stopping(splits.train)
    if recipe.reconstruction.augment:
        x_fit, y_fit, train_fit = _augment(x, y, train, recipe.reconstruction.rotate)
    else:
        x_fit, y_fit, train_fit = x, y, train
    model = build_model(
        mcfg.name,
        x.shape[1],
        1,
        base_filters=mcfg.base_filters,
        depth=mcfg.depth,
        dropout=mcfg.dropout,
        size=x.shape[-2:],
    ).to(device)
    terms, loss = [], MaskedMSE()
    if mcfg.name == "pix2pix":
        terms = [AdversarialTerm(PatchGAN(x.shape[1])).to(device)]
        loss = MaskedL1(scale=100.0)
    result = fit(
        model, ArrayDataset(x=x_fit, y=y_fit), train_fit, val, loss, tcfg,
        out_dir / "checkpoints" / mcfg.name, epochs=mcfg.epochs, label=f"{mcfg.name:9s}",
        progress=progress, terms=terms,
    )  # fmt: skip
    pred, _ = predict(model, ArrayDataset(x=x), batch_size=8)
    return pred, {
        "parameters": count_parameters(model),
        "seconds_per_epoch": result.seconds_per_epoch,
    }
