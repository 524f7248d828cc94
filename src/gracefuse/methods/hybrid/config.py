"""The hybrid recipe (Kraft et al. 2020): ``[data]`` (basin tables or the hybrid twin),
``[hybrid]`` (model sizes, spin-up, loss, splits), ``[train]`` and ``[[models]]``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from gracefuse.config import ModelConfig, Month, RecipeBase, _Strict
from gracefuse.data.anomalies import GRACE_BASELINE

TARGETS = ("twsa", "et", "q", "swe")


class BasinTables(_Strict):
    """Basin-mean series, one CSV per product (rows: basins, columns ``NAME YYYY-MM-15``),
    as in ``lehmannfa_basin_timeseries``. Each product is named by its file name."""

    kind: Literal["basins"] = "basins"
    folder: str = Field(description="folder of the tables")
    precip: str = Field("P_ERA5_Land_monthly.csv", description="precipitation, mm/month")
    forcing: list[str] = Field(
        ["ET_ERA5_Land_monthly.csv", "R_ERA5_Land_monthly.csv"],
        description="further forcing besides precipitation (mm/month)",
    )
    twsa: str = Field("TWS_GRACE_JPL_mascons_monthly.csv", description="TWS anomaly, mm")
    et: str | None = Field("ET_FLUXCOM_monthly.csv", description="ET target, mm/month")
    q: str | None = Field("R_GRUN_monthly.csv", description="runoff target, mm/month")
    info: str | None = Field("basins.xlsx", description="basin attributes (area, latitude)")
    mask_gap_filled: bool = Field(
        True,
        description="treat the months GRACE did not measure (single missing months and the "
        "2017-07..2018-05 gap), which the tables' authors filled, as missing",
    )
    max_basins: int | None = Field(None, ge=2, description="the first N basins only (tests)")

    @field_validator("et", "q", "info", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        return None if v == "" else v  # TOML has no null: "" leaves a product out

    def resolved(self, fix: Callable[[str, str | None], str | None]) -> BasinTables:
        """The folder with ``${data}`` and relative paths resolved by ``fix``."""
        return self.model_copy(update={"folder": fix("folder", self.folder)})


class HybridTwinSource(_Strict):
    """The twin's truth as a hybrid modeller sees it: P, temperature and radiation forcing;
    GRACE-like TWS with its gaps; ET, runoff and SWE observations with errors. True
    groundwater, soil moisture and snow are kept for scoring the latent stores."""

    kind: Literal["hybrid_twin"] = "hybrid_twin"
    size: int = Field(32, ge=8, le=128, description="cells per side")
    seed: int = Field(0, ge=0)
    end: Month = "2014-12"
    time_step: Literal["month", "day"] = Field(
        "month", description="model steps; targets stay monthly (sums and means of steps)"
    )
    et_error: float = Field(0.15, ge=0, description="relative error of observed ET")
    q_error: float = Field(0.10, ge=0, description="relative error of observed runoff")
    swe_error: float = Field(0.20, ge=0, description="relative error of observed SWE")
    et_years: tuple[int, int] = Field((2001, 2015), description="years with ET observations")


class HybridConfig(_Strict):
    """Model, spin-up, loss and splits of the hybrid family."""

    hidden: int = Field(100, ge=4, le=1024, description="LSTM hidden size (paper: 100)")
    branch_width: int = Field(32, ge=2, le=512, description="units of each task branch")
    spinup_years: int = Field(
        10, ge=0, le=100, description="years drawn at random from the forcing to spin up"
    )
    warmup_months: int = Field(12, ge=0, description="months before the first target run "
                               "with gradients but not scored (the paper: a year)")  # fmt: skip
    targets: list[Literal["twsa", "et", "q", "swe"]] = Field(
        ["twsa", "et", "q", "swe"], description="targets the loss uses where observed"
    )
    loss: Literal["nse", "rmse"] = Field(
        "nse", description="per-target loss: RMSE, or squared error scaled by each sample's "
        "variance (NSE-like, so that wet and dry basins weigh alike)",
    )  # fmt: skip
    task_lr: float | None = Field(1e-2, gt=0, description="learning rate of the task weights")
    groundwater_weight: float = Field(1.0, ge=0, description="weight of C_g (0: off)")
    train_start: Month = "2002-04"
    train_end: Month = Field("2014-12", description="last month of the temporal training")
    test_end: Month = Field("2020-08", description="last month of the temporal test")
    validation_months: int = Field(
        24, ge=0, description="last training months that early-stop (temporal split)"
    )
    refit: bool = Field(
        False,
        description="temporal split: the reported models train on every training month, "
        "the validation months included, for the epochs chosen on them (the baselines' "
        "protocol); the best epoch is then judged on the training loss. Tuning always "
        "holds the validation months out",
    )
    spatial_folds: int = Field(5, ge=0, le=50, description="folds of unseen samples (0: none)")
    validation_fraction: float = Field(
        0.15, gt=0, lt=0.5, description="training samples that early-stop a spatial fold"
    )
    block_deg: float = Field(4.0, gt=0, description="grids: spatial blocks of this size")
    buffer_deg: float = Field(1.0, ge=0, description="grids: buffer around held-out blocks")
    baseline: tuple[Month, Month] = Field(
        GRACE_BASELINE, description="anomalies of unseen samples are about this period"
    )
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _order(self) -> HybridConfig:
        if not self.train_start < self.train_end < self.test_end:
            raise ValueError("train_start < train_end < test_end is needed")
        return self


class HybridRecipe(RecipeBase):
    """A hybrid experiment: LSTM + water balance against the no-physics LSTM, the
    conceptual model alone and the baselines, on a temporal and a spatial test."""

    name: str = "hybrid"
    method: Literal["hybrid"] = "hybrid"
    data: Annotated[BasinTables | HybridTwinSource, Field(discriminator="kind")]
    hybrid: HybridConfig = Field(default_factory=HybridConfig)
    models: list[ModelConfig] = Field(
        default_factory=lambda: [
            ModelConfig(name=n, dropout=0.2) for n in ("hybrid", "lstm", "conceptual")
        ]  # fmt: skip
    )
