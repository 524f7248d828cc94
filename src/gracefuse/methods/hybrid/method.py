"""The hybrid family (Kraft et al. 2020): an LSTM drives a differentiable water balance,
trained on TWS, ET, runoff and snow together.

Besides the common files of a run folder it writes ``predictions.nc``: every store and
flux of every network on each split, the baselines' TWS, the observations (and the twin's
truth), per sample and month.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.table import Table

from gracefuse.errors import InputError
from gracefuse.evaluate.compare import comparison_rows, verdicts
from gracefuse.evaluate.table import long_table
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.hybrid.basins import load_basins
from gracefuse.methods.hybrid.config import BasinTables, HybridRecipe
from gracefuse.methods.hybrid.report import write_hybrid_report
from gracefuse.methods.hybrid.run import SplitResult, run_splits, split_names
from gracefuse.methods.hybrid.scoring import (
    comparison_table,
    predictions_dataset,
    robustness_rows,
    split_predictions,
    split_rows,
)
from gracefuse.methods.hybrid.series import HybridData, check_targets
from gracefuse.methods.hybrid.splits import spatial_roles, temporal_roles
from gracefuse.methods.hybrid.twin import load_hybrid_twin
from gracefuse.methods.registry import register_method
from gracefuse.training.jobs import job_processes


@dataclass
class HybridResult:
    data: HybridData
    splits: list  # Roles of each split
    splits_models: list  # model -> Trained, per split
    predictions: list  # model -> variable -> (N, M), per split
    table: pd.DataFrame
    comparison: pd.DataFrame
    hybrid_runs: dict  # run label -> monthly outputs of the hybrid
    histories: dict


def load_hybrid_data(recipe: HybridRecipe) -> HybridData:
    """The samples of the recipe's ``[data]``, with its targets checked."""
    if isinstance(recipe.data, BasinTables):
        data = load_basins(recipe.data)
        where = str(Path(recipe.data.folder))
    else:
        data = load_hybrid_twin(recipe.data)
        where = data.source
    check_targets(data, list(recipe.hybrid.targets), where)
    if "twsa" not in data.targets:
        raise ValueError(f"{where}: the hybrid family needs a TWS target")
    return data


def _runs(splits: list[SplitResult]) -> dict:
    runs = {}
    if "hybrid" in splits[0].models:
        for k, m in enumerate(splits[0].models["hybrid"].members):
            runs[f"{splits[0].name} #{k}"] = m
    for s in splits[1:]:
        if "hybrid" in s.models:
            runs[s.name] = s.models["hybrid"].monthly
    return runs


def _info(recipe: HybridRecipe, data: HybridData, splits: list[SplitResult]) -> dict:
    fits = {f"{name} {s.name}": [
        {"epochs": f.epochs_run, "best_epoch": f.best_epoch,
         "seconds_per_epoch": round(f.seconds_per_epoch, 3)} for f in tr.fits]
        for s in splits for name, tr in s.models.items()}  # fmt: skip
    return {
        "source": data.source, "samples": int(data.n), "steps": int(len(data.steps)),
        "months": f"{data.months[0]:%Y-%m}..{data.months[-1]:%Y-%m}",
        "targets": {k: int(np.isfinite(v).sum()) for k, v in data.targets.items()},
        "forcing": data.forcing_names, "statics": data.static_names,
        "splits": {s.name: int(s.roles.score_months.sum()) for s in splits}, "fits": fits,
        "spinup_years": recipe.hybrid.spinup_years,
        "trainings_side_by_side": _side_by_side(recipe, sum(len(v) for v in fits.values())),
    }  # fmt: skip


def _side_by_side(recipe: HybridRecipe, trainings: int) -> dict:
    """How the run's trainings shared the machine (:mod:`gracefuse.training.jobs`)."""
    n = job_processes(recipe.train, trainings)
    threads = recipe.train.threads_per_job if n > 1 else torch.get_num_threads()
    return {"trainings": trainings, "processes": n, "threads_each": threads}


def console_summary(result: HybridResult) -> list:
    """Median TWS NSE over samples of every model per split, and the verdicts."""
    t = result.table
    scale = "grid_median" if result.data.grid is not None else "basin_median"
    sub = t[(t.variable == "twsa") & (t.metric == "nse") & (t.scale == scale)]
    splits = list(dict.fromkeys(sub.split))
    view = Table(title=f"TWS NSE ({scale.replace('_', ' ')}), higher is better")
    view.add_column("model")
    for s in splits:
        view.add_column(s, justify="right")
    for model in dict.fromkeys(sub.model):
        vals = sub[sub.model == model].set_index("split").value
        view.add_row(model, *(f"{vals[s]:.2f}" if s in vals else "–" for s in splits))
    return [view, *verdicts(result.comparison)]


@register_method
class HybridMethod(Method):
    """Kraft et al. (2020): LSTM + differentiable water balance, multi-target."""

    name = "hybrid"
    recipe_type = HybridRecipe
    summary = "LSTM + water balance trained on TWS, ET, runoff and snow (latent stores)"
    source = "Kraft et al. 2020"
    products = ("predictions.nc", "comparison.csv")

    def check(self, recipe: HybridRecipe) -> None:
        if isinstance(recipe.data, BasinTables) and not Path(recipe.data.folder).is_dir():
            raise InputError(recipe.data.folder, "basin table folder not found", "data.folder")

    def prepare(self, recipe: HybridRecipe) -> HybridData:
        data = load_hybrid_data(recipe)
        temporal, spatial = split_names(data)
        temporal_roles(data, recipe.hybrid, temporal)  # refuse an empty split before training
        if recipe.hybrid.spatial_folds >= 2:
            spatial_roles(data, recipe.hybrid, spatial)
        return data

    def fit_predict(self, recipe, prepared: HybridData, folder: Path, progress: bool):
        return run_splits(recipe, prepared, folder, progress)

    def outputs(self, recipe, prepared: HybridData, fitted) -> MethodOutput:
        data, splits = prepared, fitted
        base = recipe.hybrid.baseline
        preds = [split_predictions(s, data, base) for s in splits]
        rows = [r for s, p in zip(splits, preds, strict=True) for r in split_rows(s, data, p)]
        rows += robustness_rows(splits, data)
        comparison = comparison_table(splits, data, preds, recipe.hybrid.seed)
        table = long_table(rows + comparison_rows(comparison))
        histories = {n: tr.fits[0].history for n, tr in splits[0].models.items()}
        result = HybridResult(data, [s.roles for s in splits], [s.models for s in splits],
                              preds, table, comparison, _runs(splits), histories)  # fmt: skip
        files = {"predictions.nc": predictions_dataset(splits, data, preds)}
        return MethodOutput(table, comparison, files, _info(recipe, data, splits), result)

    def report(self, folder: Path, output: MethodOutput) -> None:
        write_hybrid_report(folder, output.result, output.info)

    def console(self, result: HybridResult) -> list:
        return console_summary(result)
