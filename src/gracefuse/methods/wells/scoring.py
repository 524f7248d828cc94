"""Scores at held-out wells: depth pooled over every test-well month (``r``, ``nse``,
``rmse``, ``mae``), and the anomaly per well (Pearson r of each well's series; the
median over wells, scale ``well_median``)."""

from __future__ import annotations

import numpy as np

from gracefuse.evaluate.metrics import mae, nse, pearson_r, rmse


def pooled(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    """Scores over the finite pairs."""
    ok = np.isfinite(pred) & np.isfinite(obs)
    p, o = pred[ok], obs[ok]
    return {"r": float(pearson_r(p, o)), "nse": float(nse(p, o)), "rmse": float(rmse(p, o)),
            "mae": float(mae(p, o))}  # fmt: skip


def per_well_r(pred: np.ndarray, obs: np.ndarray, well: np.ndarray) -> dict[str, float]:
    """Pearson r of each well's series (wells with at least 12 measured months)."""
    out = {}
    for w in np.unique(well):
        k = (well == w) & np.isfinite(pred) & np.isfinite(obs)
        if k.sum() >= 12:
            out[str(w)] = float(pearson_r(pred[k], obs[k]))
    return out


def score_rows(preds: dict[str, dict[str, np.ndarray]], targets: dict[str, np.ndarray],
               well: np.ndarray, split: str) -> list[dict]:  # fmt: skip
    """Long metric rows of one form (``split``) for every target and model."""
    rows = []
    for variable, by_model in preds.items():
        obs = targets[variable]
        for model, pred in by_model.items():
            base = {"model": model, "variable": variable, "split": split}
            if variable == "dgwl":
                rows += [{**base, "scale": "pooled", "metric": k, "value": v}
                         for k, v in pooled(pred, obs).items()]  # fmt: skip
            else:
                r = list(per_well_r(pred, obs, well).values())
                rows += [{**base, "scale": "well_median", "metric": "r",
                          "value": float(np.median(r))},
                         {**base, "scale": "well_median", "metric": "wells", "value": len(r)}]  # fmt: skip
    return rows
