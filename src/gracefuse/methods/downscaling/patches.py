"""Training and applying the PI-ConvLSTM + U-Net (:mod:`gracefuse.models.pi_convlstm_unet`)
as Ibrahim et al. (2026) do: on fine patches where a fine reference exists (training
months; validation months early-stop), with a Gaussian likelihood plus the soft physics
terms (:mod:`gracefuse.methods.downscaling.physics`), through the shared training loop.

A sample is one month and one patch (``patch × patch`` fine cells): the fine predictors
of that month with the bilinear coarse field and the land mask as channels, and the last
``memory`` months of the coarse GWSA (with an observed flag) and of the coarse means of the
dynamic covariates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.data.twin.fine_world import STATIC
from gracefuse.datasets.arrays import ArrayDataset
from gracefuse.errors import InputError
from gracefuse.methods.downscaling.config import DownscalingConfig
from gracefuse.methods.downscaling.conservation import bilinear
from gracefuse.methods.downscaling.importance import patch_importance
from gracefuse.methods.downscaling.physics import PatchMass, SignAgreement, SoilMoistureMagnitude
from gracefuse.methods.downscaling.problem import DownscalingProblem, upsample
from gracefuse.models.pi_convlstm_unet import FIXED_MEMORY, build_pi_convlstm_unet
from gracefuse.training.determinism import seed_everything
from gracefuse.training.loop import choose_device, fit
from gracefuse.training.losses import GaussianNLL
from gracefuse.training.terms import TotalVariation


@dataclass
class PatchScaling:
    """Means and spreads (training months, land cells) that standardise the inputs."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float

    @classmethod
    def of(cls, problem: DownscalingProblem) -> PatchScaling:
        train = problem.months_of("train")
        f = problem.features[train][:, problem.land].reshape(-1, problem.features.shape[-1])
        c = problem.coarse[train]
        return cls(np.nanmean(f, 0), np.nanstd(f, 0) + 1e-6, float(np.nanmean(c)),
                   float(np.nanstd(c) + 1e-6))  # fmt: skip

    def y(self, v: np.ndarray) -> np.ndarray:
        return ((v - self.y_mean) / self.y_std).astype(np.float32)


def windows(n: int, patch: int, step: int, axis: str) -> list[int]:
    """Starts of the patches along an axis of ``n`` fine cells: a patch is ``patch`` cells
    (at most ``n``) rounded down to a multiple of ``step``; the last one ends at ``n``."""
    p = min(patch, n) // step * step
    if p == 0:
        raise InputError("[downscaling]", f"the fine grid's {axis} ({n} cells) is smaller "
                         f"than one patch unit ({step} cells)", "downscaling.patch")  # fmt: skip
    starts = list(range(0, n - p + 1, p))
    return starts + ([n - p] if starts[-1] != n - p else [])


def dynamic_columns(names: list[str]) -> list[int]:
    """Columns of the month's own value of each dynamic covariate among predictor ``names``
    (the coarse sequence's channels besides the coarse GWSA)."""
    return [k for k, n in enumerate(names) if n not in STATIC and "_mean" not in n]


def month_fields(problem: DownscalingProblem, s: PatchScaling) -> dict[str, np.ndarray]:
    """Whole-grid inputs and targets per month (standardised; NaN → 0 in inputs)."""
    x = (problem.features - s.x_mean) / s.x_std
    base = s.y(np.where(problem.land, bilinear(problem.coarse, problem.factor), np.nan))
    land = np.broadcast_to(problem.land, base.shape).astype(np.float32)
    x = np.concatenate([np.moveaxis(x, -1, 1), np.nan_to_num(base)[:, None], land[:, None]], 1)
    dyn = dynamic_columns(problem.names)
    cf = (problem.coarse_features()[..., dyn] - s.x_mean[dyn]) / s.x_std[dyn]
    c = s.y(problem.coarse)
    seq = np.concatenate([np.nan_to_num(c)[:, None], np.isfinite(c)[:, None],
                          np.moveaxis(np.nan_to_num(cf), -1, 1)], 1)  # fmt: skip
    ref = problem.reference if problem.reference is not None else np.full(base.shape, np.nan)
    theta = problem.soil_moisture if problem.soil_moisture is not None else np.zeros(base.shape)
    return {"x": np.nan_to_num(x).astype(np.float32), "seq": seq.astype(np.float32),
            "base": np.nan_to_num(base), "y": s.y(np.where(problem.land, ref, np.nan)),
            "coarse": np.nan_to_num(s.y(upsample(problem.coarse, problem.factor))),
            "theta": np.nan_to_num(theta).astype(np.float32), "land": land}  # fmt: skip


def sample_arrays(fields: dict, factor: int, memory: int, patch: int):
    """Per (month, patch) samples of :func:`month_fields`, and ``(t, y0, x0)`` of each."""
    n_t, _, ny, nx = fields["x"].shape
    step = 4 * factor // math.gcd(4, factor)
    ys, xs = windows(ny, patch, step, "latitude"), windows(nx, patch, step, "longitude")
    py, px = min(patch, ny) // step * step, min(patch, nx) // step * step
    where = [(t, a, b) for t in range(n_t) for a in ys for b in xs]
    lags = np.clip(np.arange(n_t)[:, None] + np.arange(1 - memory, 1)[None, :], 0, None)
    out: dict[str, list] = {k: [] for k in fields}
    for t, a, b in where:
        for k, v in fields.items():
            if k == "seq":
                ca, cb = a // factor, b // factor
                out[k].append(v[lags[t], :, ca : ca + py // factor, cb : cb + px // factor])
            else:
                out[k].append(v[t, ..., a : a + py, b : b + px])
    return {k: np.stack(v) for k, v in out.items()}, np.array(where)


def physics_terms(cfg: DownscalingConfig, s: PatchScaling) -> list:
    """The weighted soft physics terms (those with a weight above 0)."""
    w = cfg.physics
    terms = [SignAgreement(s.y_mean, s.y_std, w.sign),
             SoilMoistureMagnitude(s.y_mean, s.y_std, w.magnitude),
             PatchMass(s.y_mean, s.y_std, cfg.mass_patch, w.mass), TotalVariation(w.tv)]  # fmt: skip
    return [t for t in terms if t.weight > 0]


def fit_patch(name: str, mc: ModelConfig, problem: DownscalingProblem, cfg: DownscalingConfig,
              train: TrainConfig, folder: Path, progress: bool):  # fmt: skip
    """Train ``pi_convlstm_unet`` (or its one-month ablation) on the reference's months.

    Returns the fine mean and 1σ ``(T, Y, X)`` (mm, before the mass correction), facts, and
    ``explain(samples, nsamples)`` giving the SHAP importance of its input channels."""
    if problem.reference is None or not np.isfinite(problem.reference).any():
        raise InputError("[data]", f"{name} trains on fine patches and needs a fine reference "
                         "product for the training months", "data.reference_mm")  # fmt: skip
    memory = FIXED_MEMORY.get(name, cfg.memory)
    seed_everything(train.seed)
    s = PatchScaling.of(problem)
    arrays, where = sample_arrays(month_fields(problem, s), problem.factor, memory, cfg.patch)
    model = build_pi_convlstm_unet(arrays["x"].shape[1], arrays["seq"].shape[2],
                                   mc.base_filters, mc.dropout)  # fmt: skip
    model.to(choose_device(train.device))
    split = problem.split[where[:, 0]]
    result = fit(model, ArrayDataset(**arrays), np.nonzero(split == "train")[0],
                 np.nonzero(split == "validation")[0], GaussianNLL(), train,
                 folder / "checkpoints" / name, epochs=mc.epochs,
                 terms=physics_terms(cfg, s), label=name, progress=progress)  # fmt: skip
    mean, sd = predict_patches(model, arrays, where, problem.land.shape, len(problem.months))
    explain = patch_explainer(model, arrays, where, problem, s, train.seed)
    land = problem.land
    facts = {"epochs": result.epochs_run, "best_epoch": result.best_epoch,
             "seconds": round(result.seconds, 1), "memory": memory,
             "samples": int(len(where)), "parameters": int(sum(p.numel() for p in model.parameters()))}  # fmt: skip
    return (np.where(land, mean * s.y_std + s.y_mean, np.nan),
            np.where(land, sd * s.y_std, np.nan), facts, explain)  # fmt: skip


def predict_patches(model, arrays: dict, where: np.ndarray, shape: tuple[int, int],
                    n_months: int, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Standardised mean and 1σ ``(T, Y, X)`` assembled from every patch."""
    device = next(model.parameters()).device
    mean = np.zeros((n_months, *shape), np.float32)
    sd = np.zeros_like(mean)
    py, px = arrays["x"].shape[-2:]
    model.eval()
    with torch.no_grad():
        for a in range(0, len(where), batch):
            b = {k: torch.as_tensor(v[a : a + batch], device=device) for k, v in arrays.items()}
            out = model(b)
            for k, (t, y0, x0) in enumerate(where[a : a + batch]):
                mean[t, y0 : y0 + py, x0 : x0 + px] = out["y_hat"][k].cpu().numpy()
                sd[t, y0 : y0 + py, x0 : x0 + px] = out["variance"][k].sqrt().cpu().numpy()
    return mean, sd


def patch_explainer(model, arrays: dict, where: np.ndarray, problem: DownscalingProblem,
                    s: PatchScaling, seed: int, cells: int = 16):  # fmt: skip
    """``explain(samples, nsamples) → (names, mean |SHAP| mm)`` over the input channels: each
    predictor's map and the coarse GWSA (its sequence and bilinear field together), on
    test-month patches (:func:`gracefuse.methods.downscaling.importance.patch_importance`)."""
    n_pred = len(problem.names)
    device = next(model.parameters()).device

    def explain(samples: int, nsamples: int):
        rng = np.random.default_rng([seed, 62])
        test = np.nonzero(problem.split[where[:, 0]] == "test")[0]
        picks = rng.choice(test, min(samples, len(test)), replace=False)
        land = [np.flatnonzero(arrays["land"][k]) for k in picks]
        pix = [rng.choice(v, min(cells, len(v)), replace=False) for v in land]

        def run_patch(masks: np.ndarray, k: int, chunk: int = 16) -> np.ndarray:
            """``(m, cells)`` predictions (mm) of patch ``k`` under ``m`` channel masks, in
            batches of ``chunk`` masked copies."""
            one = {n: torch.as_tensor(v[picks[k] : picks[k] + 1]) for n, v in arrays.items()}
            outs = []
            for a in range(0, len(masks), chunk):
                m = torch.as_tensor(masks[a : a + chunk], dtype=torch.float32)
                b = {n: v.repeat(len(m), *([1] * (v.ndim - 1))) for n, v in one.items()}
                b["x"][:, :n_pred] *= m[:, :n_pred, None, None]
                keep = m[:, n_pred]  # 0: the coarse GWSA at its training mean
                b["x"][:, n_pred] *= keep[:, None, None]
                b["seq"][:, :, 0] *= keep[:, None, None, None]
                b["base"] *= keep[:, None, None]
                with torch.no_grad():
                    out = model({n: v.to(device) for n, v in b.items()})["y_hat"]
                outs.append(out.reshape(len(m), -1)[:, torch.as_tensor(pix[k])].cpu().numpy())
            return np.concatenate(outs) * s.y_std

        values = patch_importance(run_patch, n_pred + 1, len(picks), nsamples)
        return [*problem.names, "coarse_gwsa"], values

    return explain


__all__ = ["dynamic_columns", "fit_patch", "predict_patches", "sample_arrays", "windows"]
