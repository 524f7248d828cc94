"""Training and applying GNNWR and GTNNWR (:mod:`gracefuse.models.gnnwr`) as Liang et al.
(2025) do: fitted on coarse cells (covariates averaged over each cell), applied to the
fine cells, through the shared training loop (checkpoints, resume, early stop on the
validation months)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.datasets.arrays import ArrayDataset
from gracefuse.datasets.scaling import PointScaler
from gracefuse.methods.downscaling.baselines import coarse_samples, predict_fine
from gracefuse.methods.downscaling.config import DownscalingConfig
from gracefuse.methods.downscaling.problem import DownscalingProblem
from gracefuse.models.gnnwr import WeightedRegression, knn_proximity, ols, unit_vectors
from gracefuse.training.determinism import seed_everything
from gracefuse.training.loop import choose_device, fit
from gracefuse.training.losses import MaskedMSE


@dataclass
class Proximity:
    """Where the training points are, and how a new point finds its nearest ones."""

    space_anchors: np.ndarray  # (m, 3) unit vectors of the coarse land cells
    time_anchors: np.ndarray  # (n_t, 1) month numbers of the training months
    k_space: int
    k_time: int
    space_bandwidth: float | None = None
    time_bandwidth: float | None = None

    def space(self, lat: np.ndarray, lon: np.ndarray):
        idx, w, h = knn_proximity(unit_vectors(lat, lon), self.space_anchors, self.k_space,
                                  self.space_bandwidth)  # fmt: skip
        self.space_bandwidth = h
        return idx, w

    def time(self, month_number: np.ndarray):
        idx, w, h = knn_proximity(month_number[:, None].astype(float), self.time_anchors,
                                  self.k_time, self.time_bandwidth)  # fmt: skip
        self.time_bandwidth = h
        return idx, w


def make_proximity(problem: DownscalingProblem, cfg: DownscalingConfig) -> Proximity:
    """Anchors: every coarse land cell, and every training month."""
    land_c = np.isfinite(problem.coarse).any(0)
    ii, jj = np.nonzero(land_c)
    anchors = unit_vectors(problem.lat_coarse[ii], problem.lon_coarse[jj])
    months = np.nonzero(problem.months_of("train"))[0].astype(float)[:, None]
    return Proximity(anchors, months, cfg.k_space, cfg.k_time)


def _arrays(problem, prox: Proximity, std: PointScaler, splits, temporal: bool):
    x, y, (t, i, j) = coarse_samples(problem, splits)
    sidx, sw = prox.space(problem.lat_coarse[i], problem.lon_coarse[j])
    arrays = {"x": std.x(x), "y": std.y(y),
              "space_idx": sidx, "space_w": sw}  # fmt: skip
    if temporal:
        arrays["time_idx"], arrays["time_w"] = prox.time(t)
    return arrays, t


def fit_weighted(name: str, mc: ModelConfig, problem: DownscalingProblem,
                 cfg: DownscalingConfig, train: TrainConfig, folder: Path,
                 progress: bool) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Fit ``gnnwr`` or ``gtnnwr`` on the coarse cells and predict every fine cell.

    Returns the ``(T, Y, X)`` fine prediction (mm, before the mass correction), facts
    (epochs, seconds, the OLS coefficients, the bandwidths) and the model as
    ``predict(x, t, i, j)`` (for SHAP)."""
    temporal = name == "gtnnwr"
    seed_everything(train.seed)
    x, y, _ = coarse_samples(problem, ("train",))
    std = PointScaler.fit(x, y)
    prox = make_proximity(problem, cfg)
    arrays, t = _arrays(problem, prox, std, ("train", "validation"), temporal)
    beta = ols(arrays["x"][problem.split[t] == "train"], arrays["y"][problem.split[t] == "train"])
    model = WeightedRegression(torch.as_tensor(beta), len(prox.space_anchors),
                               len(prox.time_anchors) if temporal else 0,
                               tuple(cfg.hidden), mc.dropout)  # fmt: skip
    model.to(choose_device(train.device))
    data = ArrayDataset(**arrays)
    train_idx = np.nonzero(problem.split[t] == "train")[0]
    val_idx = np.nonzero(problem.split[t] == "validation")[0]
    result = fit(model, data, train_idx, val_idx, MaskedMSE(), train,
                 folder / "checkpoints" / name, epochs=mc.epochs, label=name,
                 progress=progress)  # fmt: skip
    predict = weighted_predictor(model, problem, prox, std, temporal)
    pred = predict_fine(problem, predict, 65536)
    facts = {"epochs": result.epochs_run, "best_epoch": result.best_epoch,
             "seconds": round(result.seconds, 1), "ols_beta": beta.round(4).tolist(),
             "space_bandwidth": prox.space_bandwidth, "time_bandwidth": prox.time_bandwidth}  # fmt: skip
    return pred, facts, predict


def weighted_predictor(model: WeightedRegression, problem: DownscalingProblem, prox: Proximity,
                       std: PointScaler, temporal: bool):  # fmt: skip
    """``predict(x, t, i, j) → (n,)`` mm at fine cells: each cell's spatial neighbours are
    found once, each month's temporal ones once; a batch gathers them."""
    nx = problem.land.shape[1]
    yy, xx = np.meshgrid(problem.lat, problem.lon, indexing="ij")
    sidx, sw = prox.space(yy.ravel(), xx.ravel())
    tidx, tw = prox.time(np.arange(len(problem.months))) if temporal else (None, None)
    device = next(model.parameters()).device
    model.eval()

    def predict(x: np.ndarray, t: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        cells = i * nx + j
        b = {"x": std.x(x), "space_idx": sidx[cells], "space_w": sw[cells]}
        if temporal:
            b["time_idx"], b["time_w"] = tidx[t], tw[t]
        with torch.no_grad():
            out = model({k: torch.as_tensor(v, device=device) for k, v in b.items()})
        return std.inverse_y(out["y_hat"].cpu().numpy())

    return predict


__all__ = ["fit_weighted", "weighted_predictor"]
