"""The wells family: depth to groundwater and its anomaly at wells no model saw, from
GRACE TWSA and covariates sampled at the wells, with GNNWR and GTNNWR against GRACE alone
and a random forest; k-fold over wells (every well scored once) and the published
21-train / 11-test form.

Writes ``predictions.nc`` (every model's prediction at every test-well month, per form
and target) besides the common files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from rich.table import Table

from gracefuse.evaluate.table import long_table
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.registry import register_method
from gracefuse.methods.wells.config import BASELINES, TARGETS, WellsRecipe
from gracefuse.methods.wells.fit import fit_fold
from gracefuse.methods.wells.problem import (
    WellsProblem,
    load_wells_problem,
    published_split,
    well_folds,
)
from gracefuse.methods.wells.report import write_wells_report
from gracefuse.methods.wells.scoring import score_rows

log = logging.getLogger(__name__)
#: metrics.csv split of each form
SPLITS = {"kfold": "test_wells", "published": "test_wells_published"}


def run_forms(recipe: WellsRecipe, problem: WellsProblem, folder: Path, progress: bool) -> dict:
    """``form → target → model → (n,)`` predictions (each row from the fold that held
    its well out)."""
    forms = {"kfold": well_folds(problem.wells, recipe.wells.folds, recipe.folds_seed)}
    if recipe.wells.published_test_wells:
        forms["published"] = [published_split(problem.wells, recipe.wells.published_test_wells,
                                               recipe.folds_seed)]  # fmt: skip
    out: dict = {}
    for form, folds in forms.items():
        out[form] = {}
        for target in TARGETS:
            merged: dict[str, np.ndarray] = {}
            for k, test in enumerate(folds):
                where = folder / "checkpoints" / f"{form}_{k}"
                preds = fit_fold(problem, recipe, test, target, where, progress,
                                 recipe.folds_seed * 1000 + k)  # fmt: skip
                for m, p in preds.items():
                    merged[m] = np.where(np.isfinite(p), p, merged.get(m, p))
            out[form][target] = merged
            log.info("%s %s: %d folds", form, target, len(folds))
    return out


def predictions_dataset(problem: WellsProblem, fitted: dict) -> xr.Dataset:
    """``prediction`` ``(form, variable, model, row)`` and the observations, with each
    row's ``well`` and ``time``."""
    forms = list(fitted)
    models = list(fitted[forms[0]][TARGETS[0]])
    pred = np.array([[[fitted[f][v][m] for m in models] for v in TARGETS] for f in forms])
    obs = np.array([problem.targets[v] for v in TARGETS])
    return xr.Dataset(
        {"prediction": (("form", "variable", "model", "row"), pred.astype(np.float32),
                        {"units": "m", "long_name": "predicted depth to groundwater"}),
         "observed": (("variable", "row"), obs.astype(np.float32), {"units": "m"})},
        coords={"form": forms, "variable": list(TARGETS), "model": models,
                "well": ("row", problem.well.astype(str)),
                "time": ("row", problem.table["time"].values)},
        attrs={"title": "gracefuse predictions at held-out wells", "source": problem.source},
    )  # fmt: skip


@register_method
class WellsMethod(Method):
    """Depth to groundwater at unseen wells (GNNWR, GTNNWR; Illinois wells)."""

    name = "wells"
    recipe_type = WellsRecipe
    summary = "depth to groundwater and its anomaly at held-out wells: GNNWR, GTNNWR, baselines"
    source = "Liang et al. 2025 (GNNWR/GTNNWR); Illinois wells"
    products = ("predictions.nc",)
    headlines = (("test_wells", "well_median", "r"), ("test_wells", "pooled", "r"))

    def check(self, recipe: WellsRecipe) -> None:
        return None

    def prepare(self, recipe: WellsRecipe) -> WellsProblem:
        return load_wells_problem(recipe)

    def fit_predict(self, recipe, prepared: WellsProblem, folder: Path, progress: bool):
        return run_forms(recipe, prepared, folder, progress)

    def outputs(self, recipe, prepared: WellsProblem, fitted: dict) -> MethodOutput:
        rows = []
        for form, preds in fitted.items():
            rows += score_rows(preds, prepared.targets, prepared.well, SPLITS[form])
        table = long_table(rows, variable="dgwl")
        info = {"source": prepared.source, "notes": prepared.notes, "predictors": prepared.names,
                "baselines": list(BASELINES), "folds": recipe.wells.folds,
                "folds_seed": recipe.folds_seed}  # fmt: skip
        ds = predictions_dataset(prepared, fitted)
        result = {"predictions": fitted, "table": table}
        return MethodOutput(table, pd.DataFrame(), {"predictions.nc": ds}, info, result,
                            {"problem": prepared})  # fmt: skip

    def report(self, folder: Path, output: MethodOutput) -> None:
        write_wells_report(folder, output.extras["problem"], output.result["predictions"],
                           output.table, output.info)  # fmt: skip

    def console(self, result: dict) -> list:
        return [console_table(result["table"])]


def console_table(table: pd.DataFrame) -> Table:
    """Depth r/NSE and the median anomaly r per model (k-fold)."""
    view = Table(title="held-out wells (k-fold)")
    for c in ("model", "depth r", "depth NSE", "anomaly r (median)"):
        view.add_column(c, justify="right")
    t = table[table.split == SPLITS["kfold"]].set_index(["model", "variable", "metric"]).value
    for m in table.model.unique():
        view.add_row(m, *(f"{t.get((m, v, k), np.nan):.3f}" for v, k in
                          (("dgwl", "r"), ("dgwl", "nse"), ("dgwl_anomaly", "r"))))  # fmt: skip
    return view


__all__ = ["WellsMethod", "console_table", "predictions_dataset"]
