"""Output heads: how an architecture's last channels become named outputs.

A head is part of the model zoo, not a model: every architecture ends in a 1×1 conv with
``head.channels`` channels, and the head turns them into the model's output dict.

- :class:`PointHead`: one channel, ``{"y_hat": (B, H, W)}``.
- :class:`GaussianHead`: two channels, ``{"y_hat": mean, "variance": softplus(raw) + ε}``
  (both ``(B, H, W)``), for a Gaussian negative log-likelihood and calibrated intervals.
"""

from __future__ import annotations

import torch
from torch import nn


class PointHead(nn.Module):
    """A point prediction: channel 0 as ``y_hat``.

    Examples
    --------
    >>> PointHead()(torch.zeros(2, 1, 4, 5))["y_hat"].shape
    torch.Size([2, 4, 5])
    """

    channels = 1
    outputs = ("y_hat",)

    def forward(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"y_hat": raw.squeeze(1)}


class GaussianHead(nn.Module):
    """A Gaussian predictive distribution: mean (channel 0) and variance (channel 1,
    through softplus, plus ``min_variance`` so that the likelihood stays finite).

    Examples
    --------
    >>> out = GaussianHead()(torch.zeros(1, 2, 3, 3))
    >>> sorted(out), bool((out["variance"] > 0).all())
    (['variance', 'y_hat'], True)
    """

    channels = 2
    outputs = ("y_hat", "variance")

    def __init__(self, min_variance: float = 1e-6) -> None:
        super().__init__()
        self.min_variance = min_variance

    def forward(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        variance = nn.functional.softplus(raw[:, 1]) + self.min_variance
        return {"y_hat": raw[:, 0], "variance": variance}


HEADS: dict[str, type[nn.Module]] = {"point": PointHead, "gaussian": GaussianHead}


def make_head(name: str) -> nn.Module:
    """The head called ``name`` (``point`` or ``gaussian``)."""
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; choose one of {', '.join(HEADS)}")
    return HEADS[name]()
