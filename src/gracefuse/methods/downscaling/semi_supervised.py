"""Training and applying SSVAER (:mod:`gracefuse.models.ssvaer`) as Liang et al. (2025)
do: labelled samples are the coarse cells (covariates averaged, coarse GWSA), unlabelled
ones an equal number of fine cells of the same months (covariates only); the model then
regresses every fine cell from its own covariates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.datasets.arrays import ArrayDataset
from gracefuse.datasets.scaling import PointScaler
from gracefuse.methods.downscaling.baselines import coarse_samples, predict_fine
from gracefuse.methods.downscaling.problem import DownscalingProblem
from gracefuse.models.ssvaer import SSVAER
from gracefuse.training.determinism import seed_everything
from gracefuse.training.loop import choose_device, fit
from gracefuse.training.losses import masked_mse


class SSVAELoss:
    """``regression + recon·reconstruction + beta·KL``: the regression's MSE over labelled
    samples (finite ``y``), the reconstruction's MSE and the KL divergence to N(0, I) over
    all samples (parts ``regression``, ``reconstruction``, ``kl``).

    Examples
    --------
    >>> out = {"y_hat": torch.zeros(2), "x_hat": torch.zeros(2, 3), "mu": torch.zeros(2, 1),
    ...        "logvar": torch.zeros(2, 1)}
    >>> total, parts = SSVAELoss()(out, {"y": torch.tensor([1.0, float("nan")]),
    ...                                  "x": torch.zeros(2, 3)})
    >>> float(total), float(parts["kl"])
    (1.0, 0.0)
    """

    def __init__(self, recon: float = 1.0, beta: float = 0.01) -> None:
        self.recon, self.beta = recon, beta

    def __call__(self, outputs, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        reg = masked_mse(outputs["y_hat"], batch["y"])
        rec = ((outputs["x_hat"] - batch["x"]) ** 2).mean()
        mu, logvar = outputs["mu"], outputs["logvar"]
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)).mean()
        total = reg + self.recon * rec + self.beta * kl
        return total, {"regression": reg, "reconstruction": rec, "kl": kl}


def unlabelled_samples(problem: DownscalingProblem, n: int, splits: tuple[str, ...],
                       seed: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``n`` fine land cells drawn from the months of ``splits``: predictors and month."""
    months = np.nonzero(np.isin(problem.split, splits))[0]
    ii, jj = np.nonzero(problem.land)
    rng = np.random.default_rng([seed, 41])
    t = rng.choice(months, n)
    k = rng.integers(0, len(ii), n)
    x = problem.features[t, ii[k], jj[k]]
    ok = np.isfinite(x).all(1)
    return x[ok], t[ok]


def fit_ssvaer(mc: ModelConfig, problem: DownscalingProblem, train: TrainConfig,
               folder: Path, progress: bool) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Fit SSVAER and predict every fine cell ``(T, Y, X)`` (mm, before the correction);
    facts, and the model as ``predict(x, …)`` (for SHAP)."""
    seed_everything(train.seed)
    splits = ("train", "validation")
    xc, yc, (tc, _, _) = coarse_samples(problem, splits)
    xf, tf = unlabelled_samples(problem, len(yc), splits, train.seed)
    fit_rows = problem.split[tc] == "train"
    std = PointScaler.fit(xc[fit_rows], yc[fit_rows])
    x = std.z(np.concatenate([xc, xf]))
    y = np.concatenate([std.y(yc), np.full(len(xf), np.nan, np.float32)])
    month_split = problem.split[np.concatenate([tc, tf])]
    labelled = np.arange(len(y)) < len(yc)
    model = SSVAER(x.shape[1], dropout=mc.dropout).to(choose_device(train.device))
    result = fit(model, ArrayDataset(x=x, y=y), np.nonzero(month_split == "train")[0],
                 np.nonzero((month_split == "validation") & labelled)[0], SSVAELoss(), train,
                 folder / "checkpoints" / "ssvaer", epochs=mc.epochs, label="ssvaer",
                 progress=progress)  # fmt: skip
    device = next(model.parameters()).device
    model.eval()

    def predict(xp: np.ndarray, *_) -> np.ndarray:
        z = torch.as_tensor(std.z(xp), device=device)
        with torch.no_grad():
            return std.inverse_y(model({"x": z})["y_hat"].cpu().numpy())

    facts = {"epochs": result.epochs_run, "best_epoch": result.best_epoch,
             "seconds": round(result.seconds, 1), "labelled": int(len(yc)),
             "unlabelled": int(len(xf))}  # fmt: skip
    return predict_fine(problem, predict, 65536), facts, predict


__all__ = ["SSVAELoss", "fit_ssvaer", "unlabelled_samples"]
