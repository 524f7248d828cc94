"""The groundwater family (Liang et al. 2025, analysis half): GWSA separated from TWSA with
propagated uncertainty, the three-cornered hat over GRACE products, trends, hotspots,
seasons and drivers. Nothing is trained.

Besides the common files of a run folder it writes ``gwsa.nc`` (when stores are taken
off), ``tch.nc`` (when ≥ 3 products are given), ``trends.nc`` and ``area_mean.nc``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr
from rich.table import Table

from gracefuse.errors import InputError
from gracefuse.evaluate.table import long_table
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.groundwater.analyse import GroundwaterResult, analyse
from gracefuse.methods.groundwater.config import (
    BasinProductsSource,
    GridFilesSource,
    GroundwaterRecipe,
    NasaCaliforniaSource,
)
from gracefuse.methods.groundwater.inputs import (
    GroundwaterInputs,
    load_basin_products,
    load_california,
    load_grids,
)
from gracefuse.methods.groundwater.report import write_groundwater_report
from gracefuse.methods.groundwater.scoring import metric_rows
from gracefuse.methods.groundwater.twin import load_groundwater_twin
from gracefuse.methods.registry import register_method


def load_groundwater_inputs(recipe: GroundwaterRecipe) -> GroundwaterInputs:
    """The inputs of the recipe's ``[data]``."""
    src = recipe.data
    if isinstance(src, NasaCaliforniaSource):
        return load_california(src)
    if isinstance(src, BasinProductsSource):
        return load_basin_products(src)
    if isinstance(src, GridFilesSource):
        return load_grids(src)
    return load_groundwater_twin(src)


def output_files(result: GroundwaterResult) -> dict[str, xr.Dataset]:
    """``gwsa.nc``, ``tch.nc``, ``trends.nc`` (with the seasons) and ``area_mean.nc``."""
    files = {}
    source = {"source": result.inputs.source, "notes": " | ".join(result.inputs.notes)}
    if result.separation is not None:
        files["gwsa.nc"] = result.separation.assign_attrs(
            **source, title="groundwater storage anomaly separated from TWSA"
        )
    if result.tch is not None:
        tch = result.tch.copy()
        for p, own in result.inputs.own_uncertainty.items():
            tch[f"own_uncertainty_{p}"] = own.mean("time").assign_attrs(
                units="mm", long_name=f"{p}'s own uncertainty, mean over months"
            )
        files["tch.nc"] = tch.assign_attrs(**source, title="three-cornered hat over GRACE "
                                           "products (generalised, positive definite)")  # fmt: skip
    trends = xr.merge([result.trends, result.seasons], combine_attrs="override")
    files["trends.nc"] = trends.assign_attrs(**source, variable=result.analysed,
                                             title=f"trends of {result.analysed}")  # fmt: skip
    mean = result.area_mean.copy()
    if result.stl is not None:
        stl = result.stl.rename({k: f"stl_{k}" for k in result.stl.data_vars})
        mean = xr.merge([mean, stl], join="left", compat="override")
    files["area_mean.nc"] = mean.assign_attrs(**source, variable=result.analysed)
    return files


def _info(result: GroundwaterResult) -> dict:
    inp = result.inputs
    t = (inp.twsa if inp.twsa is not None else inp.products)["time"].values
    return {"source": inp.source, "space": inp.space, "analysed": result.analysed,
            "months": f"{pd.Timestamp(t[0]):%Y-%m}..{pd.Timestamp(t[-1]):%Y-%m}",
            "components": list(inp.components), "drivers": list(inp.drivers),
            "trend": f"{str(result.area_trend).replace('per yr', 'mm/yr')}",
            "trend_period": result.trends.attrs.get("period"), "notes": inp.notes,
            "seconds": {k: round(v, 2) for k, v in result.timings.items()}}  # fmt: skip


def console_summary(result: GroundwaterResult, table: pd.DataFrame) -> list:
    """The headline numbers of a run."""
    view = Table(title=f"{result.analysed} ({result.inputs.source})")
    view.add_column("what")
    view.add_column("value", justify="right")
    view.add_row(f"area-mean trend, {result.trends.attrs.get('period')}",
                 str(result.area_trend).replace("per yr", "mm/yr"))  # fmt: skip
    keys = [
        ("separation", "region", "r"),
        ("separation", "region", "rmse"),
        ("separation", "region", "coverage95"),
        ("separation", "grid_median", "r"),
        ("twsa_only", "region", "r"),
        ("combined", "locations", "share_below_every_product"),
    ]
    for model, scale, metric in keys:
        v = table[(table.model == model) & (table.scale == scale) & (table.metric == metric)]
        if not v.empty:
            view.add_row(f"{model} {metric} ({scale})", f"{v.value.iloc[0]:.3f}")
    return [view]


@register_method
class GroundwaterMethod(Method):
    """Liang et al. (2025): GWSA, its uncertainty, TCH, trends and drivers."""

    name = "groundwater"
    recipe_type = GroundwaterRecipe
    trains = False
    summary = "GWSA from TWSA with propagated errors, three-cornered hat, trends, drivers"
    source = "Liang et al. 2025"
    #: always written; ``gwsa.nc`` when stores are taken off, ``tch.nc`` for ≥ 3 products
    products = ("trends.nc", "area_mean.nc")

    def check(self, recipe: GroundwaterRecipe) -> None:
        src = recipe.data
        if isinstance(src, NasaCaliforniaSource) and not Path(src.file).is_file():
            raise InputError(src.file, "file not found", "data.file")
        if isinstance(src, BasinProductsSource):
            if not Path(src.folder).is_dir():
                raise InputError(src.folder, "basin table folder not found", "data.folder")
            tables = [*src.products, *src.own_uncertainty.values(), *src.drivers.values()]
            for f in tables:
                if not (Path(src.folder) / f).is_file():
                    raise InputError(Path(src.folder) / f, "table not found", "data")
        if isinstance(src, GridFilesSource):
            for f in [src.twsa, *(c.file for c in src.components.values())]:
                if not Path(f).is_file():
                    raise InputError(f, "file not found", "data")

    def prepare(self, recipe: GroundwaterRecipe) -> GroundwaterInputs:
        return load_groundwater_inputs(recipe)

    def fit_predict(self, recipe, prepared: GroundwaterInputs, folder: Path, progress: bool):
        return analyse(prepared, recipe.groundwater)

    def outputs(self, recipe, prepared, fitted: GroundwaterResult) -> MethodOutput:
        fitted.table = long_table(metric_rows(fitted), variable=fitted.analysed)
        comparison = pd.DataFrame(columns=["model", "baseline", "split", "gain"])
        return MethodOutput(fitted.table, comparison, output_files(fitted), _info(fitted), fitted)

    def report(self, folder: Path, output: MethodOutput) -> None:
        write_groundwater_report(folder, output.result, output.table, output.info)

    def console(self, result: GroundwaterResult) -> list:
        return console_summary(result, result.table)


__all__ = ["GroundwaterMethod", "load_groundwater_inputs", "output_files"]
