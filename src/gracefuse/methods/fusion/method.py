"""Fusion (Sun et al. 2019) as a method family: learn the LSM–GRACE mismatch, correct the LSM.

The run folder (written by :func:`gracefuse.runner.run_recipe`) holds, besides the common
files, ``predictions.nc``: corrected TWSA, predicted mismatch Ŝ and 95 % intervals per
model and baseline for every LSM month (also months without GRACE and the GRACE/GRACE-FO
gap); ``comparison.csv`` holds each network against the best baseline, with significance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from gracefuse.config import TwinSource
from gracefuse.data.inputs import Inputs, check_sources, load_inputs
from gracefuse.datasets.features import stack_lags
from gracefuse.errors import ConfigError
from gracefuse.evaluate.baselines import cell_ridge_crossfit
from gracefuse.evaluate.compare import verdicts
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.fusion.baselines import BASELINES, fusion_baselines
from gracefuse.methods.fusion.config import FusionRecipe
from gracefuse.methods.fusion.evaluate import metrics_table, select_model
from gracefuse.methods.fusion.export import write_predictor
from gracefuse.methods.fusion.outputs import predictions_dataset, well_correlations
from gracefuse.methods.fusion.report import table1, write_fusion_report
from gracefuse.methods.fusion.samples import FusionSamples, build_samples
from gracefuse.methods.fusion.train import ModelRun, run_label, train_model
from gracefuse.methods.registry import register_method
from gracefuse.models import get_spec
from gracefuse.training.distributed import current_ranks

log = logging.getLogger(__name__)


@dataclass
class FusionResult:
    """What a fusion run returns (:func:`gracefuse.runner.run_recipe`) besides its folder."""

    table: pd.DataFrame
    comparison: pd.DataFrame
    info: dict
    runs: list[ModelRun]
    samples: FusionSamples
    data: Inputs
    baselines: dict[str, np.ndarray]
    recipe: FusionRecipe


def split_dates(samples: FusionSamples) -> dict[str, dict]:
    """Number, first and last month of each split."""
    out = {}
    for name, idx in (
        ("train", samples.train),
        ("validation", samples.val),
        ("calibration", samples.cal),
        ("test", samples.test),
    ):
        t = samples.times[idx]
        out[name] = {
            "months": int(len(idx)),
            "first": f"{t[0]:%Y-%m}" if len(t) else None,
            "last": f"{t[-1]:%Y-%m}" if len(t) else None,
        }
    return out


def _residual_inputs(samples: FusionSamples) -> tuple[np.ndarray, np.ndarray]:
    """The cross-fitted ridge (mm) a residual network builds on, and the same as an input
    block (normalised on training months, with its lags)."""
    observed = samples.to_mm(samples.y)
    ridge = cell_ridge_crossfit(samples.x, observed, samples.train, samples.val).prediction
    mu = float(np.nanmean(ridge[samples.train]))
    sd = float(np.nanstd(ridge[samples.train])) or 1.0
    z = np.where(samples.mask[None] & np.isfinite(ridge), (ridge - mu) / sd, 0.0)
    return ridge, stack_lags(z, samples.lags).astype(np.float32)


def _train_all(recipe, samples, out, progress) -> list[ModelRun]:
    residual = None
    runs = []
    for mcfg in recipe.models:
        base = extra = None
        if mcfg.residual == "cell_ridge":
            residual = residual or _residual_inputs(samples)
            base, extra = residual
        log.info("training %s (%d member(s))", run_label(mcfg), mcfg.ensemble)
        runs.append(train_model(mcfg, recipe, samples, out, base, extra, progress))
    return runs


def _info(data, samples, runs, selected, binfo) -> dict:
    return {
        "source": data.source,
        "splits": split_dates(samples),
        "selected_model": selected,
        "selected_on": "validation grid-median NSE",
        "cell_ridge_alpha": binfo["cell_ridge_alpha"],
        "models": {
            r.name: {
                "parameters": r.parameters,
                "trainable": r.trainable,
                "epochs": r.epochs,
                "best_epoch": r.best_epoch,
                "seconds": round(r.seconds, 1),
                "seconds_per_epoch": round(r.seconds_per_epoch, 2),
            }
            for r in runs
        },
    }


def console_summary(result: FusionResult) -> list:
    """Test-month skill of every model and baseline, each network's verdict, the choice."""
    view = Table(title="Skill against GRACE on the test months (region mean | grid median)")
    for col in ("model", "r", "NSE", "RMSE mm", "KGE", "grid r", "grid NSE"):
        view.add_column(col, justify="right")
    for (model, split), row in table1(result.table).iterrows():
        if split == "test":
            view.add_row(
                model,
                *(f"{row[('region', m)]:.3f}" for m in ("r", "nse")),
                f"{row[('region', 'rmse')]:.1f}",
                f"{row[('region', 'kge')]:.3f}",
                *(f"{row[('grid_median', m)]:.3f}" for m in ("r", "nse")),
            )
    lines: list = [view]
    t = result.table
    for _, r in t[(t.metric == "coverage95") & (t.split == "test")].iterrows():
        lines.append(f"{r.model}: 95 % interval covers {100 * r.value:.1f} % of test cell-months")
    if not result.comparison.empty:
        lines += verdicts(result.comparison[result.comparison.split == "test"])
    lines.append(f"model chosen on validation months: {result.info['selected_model']}")
    return lines


@register_method
class FusionMethod(Method):
    """Sun et al. (2019): CNNs learn the mismatch S = TWSA_LSM − TWSA_GRACE."""

    name = "fusion"
    recipe_type = FusionRecipe
    summary = "learn the LSM–GRACE mismatch with CNNs and correct the LSM"
    source = "Sun et al. 2019"
    products = ("predictions.nc", "comparison.csv", "predictor.json")
    headlines = (("test", "region", "nse"), ("test", "grid_median", "nse"))

    def check(self, recipe: FusionRecipe) -> None:
        twin = isinstance(recipe.data, TwinSource)
        size = recipe.data.size if twin else recipe.samples.image_size
        for m in recipe.models:
            k = get_spec(m.name).divisor(m.depth)
            if size % k:
                raise ConfigError(f"{m.name} needs an image size divisible by {k}; got {size}")
        check_sources(recipe.data)

    def prepare(self, recipe: FusionRecipe) -> tuple[Inputs, FusionSamples]:
        data = load_inputs(recipe.data, "image", recipe.samples.image_size)
        samples = build_samples(data.observed, recipe.samples)
        log.info("splits: %s", split_dates(samples))
        return data, samples

    def fit_predict(self, recipe, prepared, folder: Path, progress: bool) -> list[ModelRun]:
        runs = _train_all(recipe, prepared[1], folder, progress)
        if current_ranks().main:  # what `gracefuse predict` applies to other grids
            write_predictor(folder, recipe, prepared[1], prepared[0].observed, runs)
        return runs

    def outputs(self, recipe: FusionRecipe, prepared, fitted: list[ModelRun]) -> MethodOutput:
        data, samples = prepared
        img = data.observed
        lsm = img["twsa_lsm"].where(img["land_mask"]).values
        grace = img["twsa_grace"].where(img["land_mask"]).values
        baselines, binfo = fusion_baselines(lsm, grace, samples)
        table, comparison = metrics_table(img, samples, fitted, baselines)
        selected = select_model(table, [r.name for r in fitted])
        preds = predictions_dataset(data, samples, fitted, baselines)
        info = _info(data, samples, fitted, selected, binfo)
        result = FusionResult(table, comparison, info, fitted, samples, data, baselines, recipe)
        extras = {"predictions": preds, "wells": well_correlations(data, fitted)}
        return MethodOutput(table, comparison, {"predictions.nc": preds}, info, result, extras)

    def report(self, folder: Path, output: MethodOutput) -> None:
        write_fusion_report(folder, output.result, output.extras["predictions"],
                            output.extras["wells"])  # fmt: skip

    def choices(self, recipe, table: pd.DataFrame) -> dict[str, str]:
        networks = [m for m in dict.fromkeys(table.model) if m not in BASELINES and m]
        return {"selected_model": select_model(table, networks)}

    def console(self, result: FusionResult) -> list:
        return console_summary(result)
