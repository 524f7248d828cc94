"""What a downscaling run keeps so that its patch-trained networks can be applied to other
grids: ``predictor.json`` in the run folder.

It holds what turns a user's coarse GWSA and fine covariates into a network's inputs (the
covariates, their trailing means, the months a dynamic covariate is an anomaly about, the
training months' means and spreads that standardise every channel, the nesting factor and
the grid spacings), the mass correction, and per network its architecture, months of
coarse memory, checkpoint and the rule of its calibrated 95 % interval (``q``, the lead
growth's ``β``, the coarse field's error). :mod:`gracefuse.methods.downscaling.apply`
reads it (``gracefuse predict RUN_DIR INPUTS``).

Only the patch-trained networks (the PI-ConvLSTM + U-Net and its one-month ablation) can be
applied elsewhere: they are convolutions over the fine predictors and the coarse field,
standardised with scalars. GNNWR and GTNNWR weight their regression by the distance to the
training grid's cells, and SSVAER's application is not written; they are listed with the
reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from gracefuse.io import write_text
from gracefuse.methods.downscaling.config import DownscalingRecipe
from gracefuse.methods.downscaling.patches import PatchScaling, dynamic_columns
from gracefuse.methods.downscaling.problem import DownscalingProblem
from gracefuse.methods.predict import PREDICTOR_FILE, grid_spacing
from gracefuse.models import get_spec
from gracefuse.models.pi_convlstm_unet import FIXED_MEMORY

#: the format the file is written in
PREDICTOR_FORMAT = "gracefuse-downscaling-predictor/1"


def not_transferable(name: str) -> str:
    """Why network ``name`` of a downscaling run cannot be applied elsewhere ("" if it can)."""
    if get_spec(name).inputs == "coarse_fine":
        return ""
    if name in ("gnnwr", "gtnnwr"):
        return "it weights its regression by the distance to the training grid's cells"
    return "gracefuse predict applies the patch-trained networks of a downscaling run only"


def predictor_spec(recipe: DownscalingRecipe, problem: DownscalingProblem,
                   fields: dict[str, dict]) -> dict:  # fmt: skip
    """The contents of ``predictor.json`` (JSON types): ``fields`` are the run's finished
    fields per method (``q`` and ``beta`` of each network's interval)."""
    cfg = recipe.downscaling
    s = PatchScaling.of(problem)
    train = problem.months_of("train")
    networks = {}
    for mc in recipe.models:
        f = fields.get(mc.name, {})
        networks[mc.name] = {
            "architecture": mc.name, "base_filters": mc.base_filters, "dropout": mc.dropout,
            "memory": FIXED_MEMORY.get(mc.name, cfg.memory),
            "checkpoint": f"checkpoints/{mc.name}/best.pt",
            "q": f.get("q"), "beta": f.get("beta", 0.0),
            "not_transferable": not_transferable(mc.name),
        }  # fmt: skip
    return {
        "format": PREDICTOR_FORMAT,
        "recipe": recipe.name,
        "covariates": list(cfg.covariates),
        "lags": list(cfg.lags),
        "names": list(problem.names),
        "dynamic": dynamic_columns(problem.names),
        "anomaly_months": [f"{t:%Y-%m}" for t in problem.months[train]] if cfg.anomalies else None,
        "factor": problem.factor,
        "grid": {
            "dlat": grid_spacing(problem.lat),
            "dlon": grid_spacing(problem.lon),
            "dlat_coarse": grid_spacing(problem.lat_coarse),
            "dlon_coarse": grid_spacing(problem.lon_coarse),
        },  # fmt: skip
        "scaling": {
            "x_mean": s.x_mean.tolist(),
            "x_std": s.x_std.tolist(),
            "y_mean": s.y_mean,
            "y_std": s.y_std,
        },  # fmt: skip
        "coarse_sigma": float(problem.coarse_sigma),
        "correction": cfg.correction,
        "train_end": cfg.train_end,
        "interval_growth": cfg.interval_growth,
        "networks": networks,
    }


def write_predictor(folder: Path, recipe: DownscalingRecipe, problem: DownscalingProblem,
                    fields: dict[str, dict]) -> Path:  # fmt: skip
    """Write ``predictor.json`` into ``folder`` (atomically); its path."""
    text = json.dumps(predictor_spec(recipe, problem, fields), indent=1)
    return write_text(Path(folder) / PREDICTOR_FILE, text)
