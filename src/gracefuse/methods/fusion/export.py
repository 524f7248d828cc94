"""What a fusion run keeps so that its networks can be applied to other grids:
``predictor.json`` in the run folder.

It holds what turns a user's LSM grids into the networks' inputs (each predictor block's
memory and its normalisation, the lags, the months whose per-cell mean a precipitation
memory is an anomaly about), what turns their outputs back into a mismatch in mm, the grid
spacing they learned on, and per network its architecture, the checkpoints of its
ensemble members and the rule of its calibrated 95 % interval.
:mod:`gracefuse.methods.fusion.apply` reads it (``gracefuse predict RUN_DIR INPUTS``).

A network can be applied elsewhere only if nothing it learned is tied to the training
grid's cells: global normalisation (not per cell), no per-cell trend removed, and not the
residual of the per-cell ridge. Others are listed with the reason they cannot be.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from gracefuse.config import ModelConfig
from gracefuse.io import write_text
from gracefuse.methods.fusion.config import FusionRecipe
from gracefuse.methods.fusion.samples import FusionSamples
from gracefuse.methods.fusion.train import ModelRun, run_label
from gracefuse.methods.predict import PREDICTOR_FILE, grid_spacing
from gracefuse.models import get_spec, resolve_name

#: the format the file is written in
PREDICTOR_FORMAT = "gracefuse-fusion-predictor/1"


def not_transferable(recipe: FusionRecipe, mcfg: ModelConfig) -> str:
    """Why a network of this run cannot be applied to another grid ("" if it can)."""
    if recipe.samples.normalize != "global":
        return "its inputs and target are normalised per cell of the training grid"
    if recipe.samples.detrend:
        return "it learned the mismatch less a per-cell trend of the training grid"
    if mcfg.residual is not None:
        return "it learned the residual of a per-cell ridge fitted on the training grid"
    return ""


def _network(recipe: FusionRecipe, mcfg: ModelConfig, size: tuple[int, int],
             intervals: dict[str, dict]) -> dict:  # fmt: skip
    name = run_label(mcfg)
    members = [f"checkpoints/{name}/best.pt"] if mcfg.ensemble == 1 else [
        f"checkpoints/{name}/member{k}/best.pt" for k in range(mcfg.ensemble)]  # fmt: skip
    architecture = resolve_name(mcfg.name, mcfg.pretrained)
    spec = get_spec(architecture)
    return {
        "architecture": architecture,
        "base_filters": mcfg.base_filters,
        "depth": mcfg.depth,
        "dropout": mcfg.dropout,
        "divisor": spec.divisor(mcfg.depth),
        "fixed_size": list(size) if spec.needs_size else None,
        "members": members,
        "interval": intervals.get(name) or None,
        "not_transferable": not_transferable(recipe, mcfg),
    }


def _spacing(grid: xr.Dataset) -> dict:
    return {"dlat": grid_spacing(grid["lat"]), "dlon": grid_spacing(grid["lon"])}


def predictor_spec(recipe: FusionRecipe, samples: FusionSamples, grid: xr.Dataset,
                   runs: Sequence[ModelRun] = ()) -> dict:  # fmt: skip
    """The contents of ``predictor.json`` for a run's samples and networks (JSON types);
    each network's 95 % interval rule (``ModelRun.interval``) from ``runs``."""
    intervals = {r.name: r.interval for r in runs}
    fields = []
    for f in samples.fields:
        scalar = np.ndim(f.mean) == 0
        fields.append({"name": f.name, "variable": f.variable, "memory": f.memory,
                       "mean": float(f.mean) if scalar else None,
                       "std": float(f.std) if scalar else None})  # fmt: skip
    size = tuple(int(n) for n in samples.y.shape[-2:])
    return {
        "format": PREDICTOR_FORMAT,
        "recipe": recipe.name,
        "lags": samples.lags,
        "memory_months": recipe.samples.memory_months,
        "fields": fields,
        "climatology_months": [f"{t:%Y-%m}" for t in samples.times[samples.train]],
        "first_month": f"{samples.times[0]:%Y-%m}",
        "target": {
            "mean": float(samples.target_mean) if np.ndim(samples.target_mean) == 0 else None,
            "std": float(samples.target_std) if np.ndim(samples.target_std) == 0 else None,
            "units": "mm",
            "what": "mismatch = twsa_lsm - twsa_grace",
        },
        "grid": _spacing(grid) | {"size": list(size)},
        "mc_samples": recipe.train.mc_samples,
        "seed": recipe.train.seed,
        "networks": {run_label(m): _network(recipe, m, size, intervals) for m in recipe.models},
    }


def write_predictor(folder: Path, recipe: FusionRecipe, samples: FusionSamples,
                    grid: xr.Dataset, runs: Sequence[ModelRun] = ()) -> Path:  # fmt: skip
    """Write ``predictor.json`` into ``folder`` (atomically); its path."""
    text = json.dumps(predictor_spec(recipe, samples, grid, runs), indent=1)
    return write_text(Path(folder) / PREDICTOR_FILE, text)
