"""The fusion recipe (Sun et al. 2019): ``[data]`` (twin or files with an LSM),
``[samples]`` (predictors, lags, splits, normalisation), ``[train]`` and ``[[models]]``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

from gracefuse.config import FileSource, ModelConfig, Month, RecipeBase, TwinSource, _Strict


class SamplesConfig(_Strict):
    """How grids become training samples."""

    predictors: list[Literal["twsa", "precip", "tair"]] = ["twsa", "precip", "tair"]
    memory: list[Literal["twsa", "precip", "tair"]] = Field(
        default_factory=list,
        description="predictors that also enter as a trailing running mean (groundwater memory)",
    )
    memory_months: int = Field(12, ge=2, description="window of the running-mean predictors")
    memory_efolding: list[PositiveFloat] = Field(
        [],
        description="add exponentially weighted memories of the LSM's precipitation anomaly "
        "with these e-folding times (months): the linear-reservoir signal of the groundwater "
        "an LSM lacks",
    )
    lags: int = Field(2, ge=0, le=24, description="months t-1 .. t-lags stacked with month t")
    train_fraction: float = Field(0.7, gt=0, lt=1, description="first share of GRACE months")
    train_end: Month | None = Field(None, description="explicit last training month (YYYY-MM)")
    validation_fraction: float = Field(
        0.1,
        ge=0,
        lt=0.5,
        description="share of the training period (before the calibration months) that "
        "validates: early stopping, the ridge penalty, every choice",
    )
    calibration_fraction: float = Field(
        0.1,
        ge=0,
        lt=0.5,
        description="last share of the training period: calibrates the intervals only",
    )
    image_size: int = Field(128, ge=16, le=2048, description="N of the N×N image grid (real data)")
    detrend: bool = Field(
        False, description="learn the mismatch minus its per-cell linear trend (fit on training)"
    )
    normalize: Literal["global", "cell"] = Field(
        "global",
        description="standardise predictors and target over the whole grid (the paper) or "
        "per cell, so that dry and wet cells weigh alike in the loss",
    )


class FusionRecipe(RecipeBase):
    """A fusion experiment: learn the LSM–GRACE mismatch, correct the LSM."""

    name: str = "fusion"
    method: Literal["fusion"] = "fusion"
    data: TwinSource | FileSource = Field(default_factory=TwinSource, discriminator="kind")
    samples: SamplesConfig = Field(default_factory=SamplesConfig)
    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(name="segnet_lite"), ModelConfig(name="unet")],
        min_length=1,
    )
