"""Predictions of a trained model for every sample of a Dataset, with optional MC dropout."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from gracefuse.training.loop import chunks, loader, model_device, to_device


def predict_outputs(model: nn.Module, data: Dataset, batch_size: int = 8) -> dict[str, np.ndarray]:
    """Every output of ``model`` (eval mode) for every sample, as arrays stacked in order.

    Examples
    --------
    >>> from gracefuse.datasets import ArrayDataset
    >>> from gracefuse.models import build_model
    >>> m = build_model("segnet_lite", 1, 1, base_filters=4, head="gaussian")
    >>> out = predict_outputs(m, ArrayDataset(x=np.zeros((3, 1, 8, 8), np.float32)))
    >>> {k: v.shape for k, v in out.items()}
    {'y_hat': (3, 8, 8), 'variance': (3, 8, 8)}
    """
    model.eval()
    return _pass(model, data, batch_size)


def _pass(model: nn.Module, data: Dataset, batch_size: int) -> dict[str, np.ndarray]:
    device = model_device(model)
    parts: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for batch in loader(data, chunks(np.arange(len(data)), batch_size)):
            for k, v in model(to_device(batch, device)).items():
                parts.setdefault(k, []).append(v.cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def predict(
    model: nn.Module, data: Dataset, batch_size: int = 8, mc_samples: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """``y_hat`` for every sample: the deterministic mean, and the MC-dropout spread.

    With ``mc_samples > 0`` dropout stays on (batch norm in eval mode) and the standard
    deviation over the passes is returned too; otherwise ``(pred, None)``.

    Returns
    -------
    mean, std
        ``(N, H, W)`` arrays (std ``None`` without MC sampling).
    """
    det = predict_outputs(model, data, batch_size)["y_hat"]
    if mc_samples <= 0:
        return det, None
    for m in model.modules():
        if isinstance(m, nn.Dropout | nn.Dropout2d):
            m.train()
    torch.manual_seed(seed)
    runs = np.stack([_pass(model, data, batch_size)["y_hat"] for _ in range(mc_samples)])
    model.eval()
    return det, runs.std(axis=0)
