"""Every downscaler of a recipe on one problem: the baselines, the learned models, the
mass correction and the calibrated intervals."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gracefuse.methods.downscaling.baselines import (
    bilinear_field,
    cell_regression,
    nearest,
    random_forest,
)
from gracefuse.methods.downscaling.config import DownscalingRecipe
from gracefuse.methods.downscaling.conservation import conserve, mass_error
from gracefuse.methods.downscaling.importance import importance_table, point_importance
from gracefuse.methods.downscaling.patches import fit_patch
from gracefuse.methods.downscaling.problem import DownscalingProblem
from gracefuse.methods.downscaling.scoring import (
    LEAD_FORMS,
    interval_quantile,
    interval_scale,
    lead_beta,
    lead_months,
)
from gracefuse.methods.downscaling.semi_supervised import fit_ssvaer
from gracefuse.methods.downscaling.weighted import fit_weighted
from gracefuse.models import get_spec

log = logging.getLogger(__name__)


@dataclass
class DownscalingResult:
    """The fine fields of every method (``gwsa``, ``half`` the 95 % half-width, ``q`` its
    calibrated quantile, ``correction``, ``mass_error``), facts per method, and the scores
    once made."""

    problem: DownscalingProblem
    fields: dict[str, dict] = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)
    table: pd.DataFrame | None = None
    importance: pd.DataFrame | None = None


def finish(problem: DownscalingProblem, raw: np.ndarray, correct: bool, alpha: float,
           scale: np.ndarray | None = None, growth: str = "none") -> dict:  # fmt: skip
    """A method's raw fine field made mass-conserving (when asked) with its interval:
    ``± q·scale``, ``scale`` the method's own 1σ where it has one (a variance head), else
    :func:`interval_scale`, grown with the lead past training in the form ``growth``
    unless it is ``"none"`` (:func:`~gracefuse.methods.downscaling.scoring.lead_growth`,
    its ``β`` kept as ``beta``); ``q`` calibrated on the validation months. With the
    correction, the coarse error it carries in joins the head's spread."""
    if correct:
        fine, correction = conserve(raw, problem.coarse, problem.weights, problem.factor)
    else:
        fine, correction = raw, None
    fine = np.where(problem.land, fine, np.nan)
    if scale is None:
        scale = interval_scale(problem, fine)
    else:  # the head's spread, and the coarse error the correction carries in
        scale = np.sqrt(np.nan_to_num(scale) ** 2 + problem.coarse_sigma**2 * correct)
    beta = lead_beta(problem, fine, scale, growth) if growth != "none" else 0.0
    if growth != "none":
        lead = lead_months(problem.split)
        scale = scale * np.sqrt(1 + beta * LEAD_FORMS[growth](lead))[:, None, None]
    q = interval_quantile(problem, fine, alpha, scale)
    return {"gwsa": fine, "half": q * scale, "q": q, "scale": scale, "beta": beta,
            "correction": correction,
            "mass_error": mass_error(fine, problem.coarse, problem.weights, problem.factor)}  # fmt: skip


def downscale_all(recipe: DownscalingRecipe, problem: DownscalingProblem, folder: Path,
                  progress: bool) -> DownscalingResult:  # fmt: skip
    """Run the baselines and every model of ``recipe`` on ``problem``."""
    cfg, seed = recipe.downscaling, recipe.train.seed
    result = DownscalingResult(problem)
    t0 = time.perf_counter()
    raw = {"nearest": nearest(problem), "bilinear": bilinear_field(problem)}
    forest_start = time.perf_counter()
    raw["random_forest"], forest = random_forest(problem, cfg.forest_trees, cfg.forest_samples,
                                                 seed)  # fmt: skip
    result.facts["random_forest"] = {"seconds": round(time.perf_counter() - forest_start, 1)}
    scales: dict[str, np.ndarray] = {}
    explain = {"random_forest": _points(problem, lambda x, *_: forest.predict(x), False, seed)}
    if any(get_spec(mc.name).inputs == "coarse_fine" for mc in recipe.models):
        raw["cell_regression"] = cell_regression(problem)
    for mc in recipe.models:
        args = (mc, problem, cfg, recipe.train, folder, progress)
        if mc.name == "ssvaer":
            raw[mc.name], facts, predict = fit_ssvaer(mc, problem, recipe.train, folder, progress)
            explain[mc.name] = _points(problem, predict, False, seed)
        elif get_spec(mc.name).inputs == "coarse_fine":
            raw[mc.name], scales[mc.name], facts, explain[mc.name] = fit_patch(mc.name, *args)
        else:
            raw[mc.name], facts, predict = fit_weighted(mc.name, *args)
            explain[mc.name] = _points(problem, predict, True, seed)
        result.facts[mc.name] = facts
        log.info("%s: %d epochs (best %d), %.1f s", mc.name, facts["epochs"],
                 facts["best_epoch"], facts["seconds"])  # fmt: skip
    for name, f in raw.items():
        result.fields[name] = finish(problem, f, cfg.correction and name != "nearest", cfg.alpha,
                                     scales.get(name), cfg.interval_growth)  # fmt: skip
    if cfg.shap_samples:
        t1 = time.perf_counter()
        values = {m: e(cfg.shap_samples, cfg.shap_coalitions) for m, e in explain.items()}
        result.importance = importance_table(values)
        result.facts["shap_seconds"] = round(time.perf_counter() - t1, 1)
    result.facts["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def _points(problem: DownscalingProblem, predict, per_sample: bool, seed: int):
    """``explain(samples, nsamples)`` of a point model (:func:`point_importance`, its
    samples drawn from the recipe's training seed)."""

    def explain(samples: int, nsamples: int):
        return problem.names, point_importance(predict, problem, samples, nsamples, seed,
                                               per_sample)  # fmt: skip

    return explain
