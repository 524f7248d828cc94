"""The wells recipe (the Illinois study behind Liang et al.'s well checks): ``[data]`` (a
well table), ``[wells]`` (folds, predictors, proximity) and a top-level ``folds_seed`` (the
assignment of wells to folds). Models: ``gnnwr`` and ``gtnnwr``; the baselines ``grace``
and ``random_forest`` always run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from gracefuse.config import ModelConfig, RecipeBase, _Strict
from gracefuse.data.wells import COVARIATES

#: the baselines every wells run scores
BASELINES = ("grace", "random_forest")
#: the two tasks: depth to groundwater, and its anomaly about each well's mean
TARGETS = ("dgwl", "dgwl_anomaly")


class WellTableSource(_Strict):
    """A long table of wells × months (:func:`gracefuse.data.wells.read_well_table`)."""

    kind: Literal["well_table"] = "well_table"
    file: str = Field(description="CSV with Month, Year, wellme, Lat, Long, DGWL_m, covariates")

    def resolved(self, fix: Callable[[str, str | None], str | None]) -> WellTableSource:
        return self.model_copy(update={"file": fix("file", self.file)})


class WellsConfig(_Strict):
    """Folds over wells, predictors and the weighted regressions' proximity."""

    folds: int = Field(5, ge=2, le=50, description="k of the k-fold over wells")
    published_test_wells: int = Field(
        11, ge=0, description="the published form: this many test wells, the rest train "
        "(Illinois: 21 / 11); 0 leaves it out"
    )  # fmt: skip
    validation_wells: float = Field(
        0.2, gt=0, lt=0.5, description="share of each fold's training wells that early-stops"
    )  # fmt: skip
    covariates: list[str] = Field(list(COVARIATES), min_length=1)
    lagged: list[str] = Field(["GRACE_TWSA", "TRMM", "SoilMoisture"],
                              description="covariates that also enter as trailing means")  # fmt: skip
    lags: list[int] = Field([3, 12], description="trailing means (months), per well")
    k_space: int = Field(8, ge=1, le=64, description="nearest training wells")
    k_time: int = Field(12, ge=1, le=120, description="nearest months (GTNNWR)")
    hidden: list[int] = Field([64, 32], min_length=1)
    forest_trees: int = Field(300, ge=10, le=3000)

    @model_validator(mode="after")
    def _known(self) -> WellsConfig:
        unknown = [c for c in (*self.covariates, *self.lagged) if c not in COVARIATES]
        if unknown:
            raise ValueError(f"unknown covariates {unknown}; choose among {list(COVARIATES)}")
        return self


class WellsRecipe(RecipeBase):
    """Depth to groundwater and its anomaly at held-out wells: GNNWR and GTNNWR against
    GRACE alone and a random forest, k-fold over wells and the published split."""

    name: str = "wells"
    method: Literal["wells"] = "wells"
    folds_seed: int = Field(0, ge=0, description="the random assignment of wells to folds")
    data: WellTableSource
    wells: WellsConfig = Field(default_factory=WellsConfig)
    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(name=n, dropout=0.1) for n in ("gnnwr", "gtnnwr")]
    )
