"""Geographically (and temporally) neural network weighted regression: GNNWR and GTNNWR
(Du et al. 2020; Wu et al. 2021), our own PyTorch form, as Liang et al. (2025) use them to
downscale GWSA.

The regression is ordinary least squares whose coefficients vary in space (and time):

    ŷ_i = Σ_k w_k(u_i, v_i[, t_i]) · β_k^OLS · x_ik

with ``β^OLS`` fitted once on the training points and the weights ``w`` given by a network
over the point's proximity to the training points. The published form feeds the network
the dense vector of distances to *every* training point (an ``n × m`` matrix). Here the
proximity is sparse: the ``k`` nearest training locations (a KD-tree), each with a kernel
weight normalised to sum 1, so the network's first layer is a weighted sum of ``k`` learned
rows (``nn.EmbeddingBag``) instead of an ``m``-wide product. It is the same first layer
with every entry beyond the ``k``-th nearest set to zero; the memory is ``12·k`` bytes per
point instead of ``4·m``. GTNNWR adds the same over time: the ``k_t`` nearest training
months.

A batch holds ``x`` ``(B, P)`` (first column 1, the intercept), ``space_idx`` and
``space_w`` ``(B, k)``, and for GTNNWR ``time_idx`` and ``time_w`` ``(B, k_t)``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from gracefuse.models.registry import register

Tensor = torch.Tensor


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, ``(n, 3)``: chord distances rank like great circles."""
    la, lo = np.deg2rad(np.asarray(lat, float)), np.deg2rad(np.asarray(lon, float))
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def knn_proximity(points: np.ndarray, anchors: np.ndarray, k: int,
                  bandwidth: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """The ``k`` nearest anchors of each point and their normalised kernel weights.

    Parameters
    ----------
    points, anchors
        ``(n, d)`` and ``(m, d)`` coordinates (unit vectors for space, months for time).
    k
        Neighbours kept (at most ``m``).
    bandwidth
        Scale of the kernel ``exp(−d / h)``; default the median distance of the anchors to
        their own ``k``-th neighbour, so that it is a property of the training points.

    Returns
    -------
    (index, weight, bandwidth)
        ``(n, k)`` int64 and float32 (rows sum to 1), and the bandwidth used.

    Examples
    --------
    >>> idx, w, h = knn_proximity(np.array([[0.0], [10.0]]), np.arange(5.0)[:, None], k=2)
    >>> idx.tolist(), np.allclose(w.sum(1), 1)
    ([[0, 1], [4, 3]], True)
    """
    k = min(k, len(anchors))
    tree = cKDTree(anchors)
    if bandwidth is None:
        d_self, _ = tree.query(anchors, k=min(k + 1, len(anchors)))
        bandwidth = float(np.median(np.atleast_2d(d_self.T).T[:, -1])) or 1.0
    d, idx = tree.query(points, k=k)
    d, idx = d.reshape(len(points), k), idx.reshape(len(points), k)
    w = np.exp(-(d - d[:, :1]) / bandwidth)
    return idx.astype(np.int64), (w / w.sum(1, keepdims=True)).astype(np.float32), bandwidth


class WeightedRegression(nn.Module):
    """GNNWR (``n_time_anchors = 0``) or GTNNWR: OLS coefficients reweighted per point.

    Parameters
    ----------
    beta
        ``(P,)`` OLS coefficients (intercept first) of the standardised predictors.
    n_space_anchors, n_time_anchors
        Training locations and training months (0: no temporal weighting, GNNWR).
    hidden
        Widths of the weighting network (Du et al.: decreasing powers of two).

    Examples
    --------
    >>> m = WeightedRegression(torch.ones(3), n_space_anchors=10, n_time_anchors=4)
    >>> b = {"x": torch.ones(5, 3), "space_idx": torch.zeros(5, 2, dtype=torch.long),
    ...      "space_w": torch.full((5, 2), 0.5), "time_idx": torch.zeros(5, 1, dtype=torch.long),
    ...      "time_w": torch.ones(5, 1)}
    >>> m(b)["y_hat"].shape, m(b)["weights"].shape
    (torch.Size([5]), torch.Size([5, 3]))
    """

    def __init__(self, beta: Tensor, n_space_anchors: int, n_time_anchors: int = 0,
                 hidden: tuple[int, ...] = (128, 64, 32), dropout: float = 0.1) -> None:  # fmt: skip
        super().__init__()
        self.register_buffer("beta", torch.as_tensor(beta, dtype=torch.float32))
        width = hidden[0]
        self.space = nn.EmbeddingBag(n_space_anchors, width, mode="sum")
        self.time = nn.EmbeddingBag(n_time_anchors, width, mode="sum") if n_time_anchors else None
        layers: list[nn.Module] = []
        for a, b in zip(hidden[:-1], hidden[1:], strict=False):
            layers += [nn.PReLU(), nn.Dropout(dropout), nn.Linear(a, b)]
        layers += [nn.PReLU(), nn.Linear(hidden[-1], len(self.beta))]
        self.net = nn.Sequential(*layers)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.ones_(self.net[-1].bias)  # starts as OLS: every weight 1

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        h = self.space(batch["space_idx"], per_sample_weights=batch["space_w"])
        if self.time is not None:
            h = h + self.time(batch["time_idx"], per_sample_weights=batch["time_w"])
        w = self.net(h)
        y = (w * self.beta * batch["x"]).sum(-1)
        return {"y_hat": y, "weights": w}


def ols(x: np.ndarray, y: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """Least-squares coefficients of ``y ~ x`` (``x`` with its intercept column)."""
    a = x.T @ x + ridge * np.eye(x.shape[1])
    return np.linalg.solve(a, x.T @ y)


register("gnnwr", inputs="points", methods=("downscaling", "wells"), source="Liang et al. 2025")(
    WeightedRegression
)
register("gtnnwr", inputs="points", methods=("downscaling", "wells"), source="Liang et al. 2025")(
    WeightedRegression
)
