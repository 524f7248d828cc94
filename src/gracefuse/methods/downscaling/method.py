"""The downscaling family (Liang et al. 2025; Ibrahim et al. 2026): coarse GWSA to a fine
grid with GNNWR and GTNNWR beside nearest neighbour, bilinear interpolation and a random
forest with residual correction; every fine field keeps the coarse mass and has a
calibrated 95 % interval.

Besides the common files of a run folder it writes ``downscaled.nc``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from rich.table import Table

from gracefuse.evaluate.compare import COLUMNS
from gracefuse.evaluate.table import long_table
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.downscaling.config import BASELINES, DownscalingRecipe
from gracefuse.methods.downscaling.export import write_predictor
from gracefuse.methods.downscaling.problem import DownscalingProblem, load_twin_problem
from gracefuse.methods.downscaling.report import write_downscaling_report
from gracefuse.methods.downscaling.run import DownscalingResult, downscale_all
from gracefuse.methods.downscaling.scoring import mae_comparison, metric_rows
from gracefuse.methods.registry import register_method
from gracefuse.training.distributed import current_ranks


def downscaled_dataset(result: DownscalingResult) -> xr.Dataset:
    """``downscaled.nc``: ``gwsa``, ``gwsa_lower``, ``gwsa_upper`` ``(method, time, lat, lon)``
    in mm, the coarse input, and on the twin the fine truth."""
    p = result.problem
    names = list(result.fields)
    dims = ("method", "time", "lat", "lon")

    def stack(key):
        return np.stack([f[key] for f in result.fields.values()]).astype(np.float32)

    mean = stack("gwsa")
    half = np.stack([np.broadcast_to(f["half"], mean.shape[1:]) for f in result.fields.values()])
    ds = xr.Dataset(
        {
            "gwsa": (dims, mean, {"units": "mm", "long_name": "downscaled GWSA"}),
            "gwsa_lower": (
                dims,
                (mean - half).astype(np.float32),
                {"units": "mm", "long_name": "lower end of the 95 % interval"},
            ),
            "gwsa_upper": (
                dims,
                (mean + half).astype(np.float32),
                {"units": "mm", "long_name": "upper end of the 95 % interval"},
            ),
            "gwsa_coarse": (
                ("time", "lat_coarse", "lon_coarse"),
                p.coarse.astype(np.float32),
                {"units": "mm", "long_name": "coarse GWSA (input)"},
            ),
            "split": ("time", p.split.astype(str)),
        },
        coords={
            "method": names,
            "time": p.months,
            "lat": p.lat,
            "lon": p.lon,
            "lat_coarse": p.lat_coarse,
            "lon_coarse": p.lon_coarse,
        },
    )
    if p.truth is not None:
        ds["gwsa_true"] = (("time", "lat", "lon"), p.truth.astype(np.float32),
                           {"units": "mm", "long_name": "fine truth (twin; scoring only)"})  # fmt: skip
    ds.attrs = {"title": "gracefuse downscaled GWSA", "source": p.source, "factor": p.factor}
    return ds


def console_summary(table: pd.DataFrame) -> list:
    """The test scores of every method."""
    view = Table(title="fine-grid test scores (mm)")
    for c in ("model", "mae", "rmse", "r2", "coverage95", "mass correction"):
        view.add_column(c, justify="right")
    table = table[table.split == "test"]
    for model in table.model.unique():
        t = table[table.model == model].set_index(["scale", "metric"]).value
        view.add_row(
            model,
            *(
                f"{t.get(('fine_grid', m), np.nan):.3f}"
                for m in ("mae", "rmse", "r2", "coverage95")
            ),
            f"{t.get(('coarse_grid', 'mass_correction'), np.nan):.2f}",
        )
    return [view]


@register_method
class DownscalingMethod(Method):
    """Liang et al. (2025) and Ibrahim et al. (2026): GWSA from 0.5° to a fine grid."""

    name = "downscaling"
    recipe_type = DownscalingRecipe
    summary = "coarse GWSA to a fine grid: GNNWR, GTNNWR and baselines, mass-conserving"
    source = "Liang et al. 2025; Ibrahim et al. 2026"
    products = ("downscaled.nc", "predictor.json")
    headlines = (("test", "fine_grid", "mae"),)

    def check(self, recipe: DownscalingRecipe) -> None:
        return None  # the twin source is checked by its own validators

    def prepare(self, recipe: DownscalingRecipe) -> DownscalingProblem:
        return load_twin_problem(recipe.data, recipe.downscaling)

    def fit_predict(self, recipe, prepared: DownscalingProblem, folder: Path, progress: bool):
        result = downscale_all(recipe, prepared, folder, progress)
        if current_ranks().main:  # what `gracefuse predict` applies to other grids
            write_predictor(folder, recipe, prepared, result.fields)
        return result

    def outputs(self, recipe, prepared, fitted: DownscalingResult) -> MethodOutput:
        fitted.table = long_table(metric_rows(prepared, fitted.fields), variable="gwsa")
        nets = [m.name for m in recipe.models]
        rows = mae_comparison(prepared, fitted.fields, nets, BASELINES, recipe.train.seed)
        comparison = pd.DataFrame(rows, columns=COLUMNS)
        info = {"source": prepared.source, "predictors": prepared.names,
                "baselines": list(BASELINES), "facts": fitted.facts,
                "months": {s: int(prepared.months_of(s).sum()) for s in
                           ("train", "validation", "test")},
                **self.choices(recipe, fitted.table)}  # fmt: skip
        if "selected_model" in info:
            info["selected_on"] = "the validation months' fine-grid MAE"
        files = {"downscaled.nc": downscaled_dataset(fitted)}
        return MethodOutput(fitted.table, comparison, files, info, fitted)

    def choices(self, recipe, table: pd.DataFrame) -> dict[str, str]:
        """``selected_model``: the method (network or baseline) with the least fine-grid MAE
        on the validation months; none without a fine truth there."""
        t = table[(table.split == "validation") & (table.scale == "fine_grid")
                  & (table.metric == "mae")].dropna(subset=["value"])  # fmt: skip
        if t.empty:
            return {}
        return {"selected_model": str(t.loc[t.value.idxmin(), "model"])}

    def report(self, folder: Path, output: MethodOutput) -> None:
        write_downscaling_report(folder, output.result, output.table, output.info,
                                 output.comparison)  # fmt: skip

    def console(self, result: DownscalingResult) -> list:
        return console_summary(result.table)


__all__ = ["DownscalingMethod", "downscaled_dataset"]
