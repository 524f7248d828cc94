"""The baselines of a fusion run, as predicted mismatches Ŝ (so corrected = LSM − Ŝ).

- ``lsm``: the raw LSM (Ŝ = 0);
- ``lsm_regression``: GRACE ≈ a + b·LSM + c·t per cell;
- ``climatology_trend``: GRACE's per-cell mean, trend and seasonal cycle (no LSM at all);
- ``cell_ridge``: per-cell ridge of the mismatch on exactly the networks' predictors.

All are fitted on the training months; the ridge's penalty is chosen on the validation
months. Validation, calibration and test months play no other part.
"""

from __future__ import annotations

import numpy as np

from gracefuse.evaluate.baselines import cell_ridge, climatology_trend, lsm_regression
from gracefuse.methods.fusion.samples import FusionSamples

BASELINES = ("lsm", "lsm_regression", "climatology_trend", "cell_ridge")


def fusion_baselines(
    lsm: np.ndarray, grace: np.ndarray, samples: FusionSamples
) -> tuple[dict[str, np.ndarray], dict]:
    """Every baseline's predicted mismatch for every month, and facts about their fits.

    Parameters
    ----------
    lsm, grace
        ``(time, H, W)`` TWSA in mm on the samples' grid (GRACE NaN where missing).

    Returns
    -------
    mismatch, info
        name → ``(time, H, W)`` Ŝ in mm (NaN off the mask); ``info`` holds the ridge's
        chosen penalty and its validation errors.
    """
    train, mask = samples.train, samples.mask
    observed = np.where(mask[None], lsm - grace, np.nan)
    ridge = cell_ridge(samples.x, observed, train, samples.val)
    out = {
        "lsm": np.where(mask[None], np.zeros_like(lsm), np.nan),
        "lsm_regression": lsm - lsm_regression(grace, lsm, samples.times, train),
        "climatology_trend": lsm - climatology_trend(grace, samples.times, train),
        "cell_ridge": ridge.prediction,
    }
    out = {k: np.where(mask[None], v, np.nan) for k, v in out.items()}
    info = {"cell_ridge_alpha": ridge.alpha, "cell_ridge_validation_mse": ridge.validation_mse}
    return out, info
