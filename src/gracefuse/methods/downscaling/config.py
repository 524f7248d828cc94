"""The downscaling recipe (Liang et al. 2025; Ibrahim et al. 2026): ``[data]`` (the fine
twin world), ``[downscaling]`` (months, predictors, proximity, correction, intervals),
``[train]`` and ``[[models]]``. The baselines (``nearest``, ``bilinear``,
``random_forest``) always run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gracefuse.config import ModelConfig, Month, RecipeBase, _Strict
from gracefuse.data.twin.fine_world import COVARIATES

#: the baselines every downscaling run scores (``cell_regression`` where a patch-trained
#: network learns from the fine reference, which it also sees)
BASELINES = ("nearest", "bilinear", "random_forest", "cell_regression")


class DownscalingTwinSource(_Strict):
    """The fine twin world (:func:`gracefuse.data.twin.fine_world.make_fine_world`): fine
    covariates and a coarse GRACE-like GWSA; fine truth scores and, on the validation
    months only, calibrates the intervals."""

    kind: Literal["downscaling_twin"] = "downscaling_twin"
    size: int = Field(16, ge=4, le=64, description="coarse cells per side")
    factor: int = Field(4, ge=2, le=10, description="fine cells per coarse cell and side")
    cell_deg: float = Field(0.5, gt=0, le=5, description="coarse cell size, degrees")
    seed: int = Field(0, ge=0)
    start: Month = "2002-01"
    end: Month = "2016-12"
    noise_mm: float = Field(10.0, ge=0, description="1σ of the coarse GWSA's noise")
    reference_mm: float = Field(
        8.0, ge=0, description="1σ of the errors of the fine reference product that the "
        "patch-trained networks learn from (training and validation months only)"
    )  # fmt: skip


class PhysicsWeights(_Strict):
    """Weights of the soft physics terms of the PI-ConvLSTM + U-Net (Ibrahim et al. 2026)
    added to its Gaussian likelihood (0 switches a term off)."""

    sign: float = Field(0.1, ge=0, description="fine anomaly of the coarse anomaly's sign")
    magnitude: float = Field(
        0.1, ge=0, description="fine departure from the coarse value within α(θ) = 0.1 + 0.4θ "
        "of its size (θ: soil moisture)"
    )  # fmt: skip
    mass: float = Field(1.0, ge=0, description="fine mean = coarse mean over mass_patch blocks")
    tv: float = Field(0.01, ge=0, description="total variation (smoothness)")


class DownscalingConfig(_Strict):
    """Months, predictors and settings shared by every downscaler."""

    train_end: Month = Field("2012-12", description="last training month")
    validation_end: Month = Field(
        "2013-12", description="months after train_end up to here early-stop the networks "
        "and calibrate the intervals; later months are the test"
    )  # fmt: skip
    covariates: list[str] = Field(
        list(COVARIATES), min_length=1, description="fine covariates the downscalers use"
    )
    anomalies: bool = Field(
        False, description="dynamic covariates as anomalies about each cell's mean over the "
        "training months (GWSA is an anomaly)"
    )  # fmt: skip
    lags: list[int] = Field(
        [1, 3, 12, 36], min_length=1, description="trailing means (months) of each dynamic "
        "covariate; 1 is the month's own value"
    )  # fmt: skip
    k_space: int = Field(16, ge=1, le=256, description="nearest training locations (KD-tree)")
    k_time: int = Field(12, ge=1, le=120, description="nearest training months (GTNNWR)")
    hidden: list[int] = Field([128, 64, 32], min_length=1, description="weighting network")
    correction: bool = Field(
        True, description="add the coarse residual back so that every fine field averages "
        "to the coarse input exactly (its size is reported)"
    )  # fmt: skip
    alpha: float = Field(0.05, gt=0, lt=0.5, description="1 − level of the intervals")
    interval_growth: Literal["none", "log", "sqrt", "linear"] = Field(
        "log", description="interval scale fixed, or growing as sqrt(1 + β·g(L)) with the "
        "months L after training (g: log(1 + L), sqrt(L) or L), β fitted on the validation "
        "months; log chosen on development worlds (benchmarks/intervals_ibrahim.py)"
    )  # fmt: skip
    memory: int = Field(6, ge=1, le=36, description="months of coarse sequence the ConvLSTM "
                        "reads (pi_convlstm_unet_memory1 reads one)")  # fmt: skip
    patch: int = Field(128, ge=8, le=1024, description="fine cells per side of a training "
                       "patch (the whole grid when smaller)")  # fmt: skip
    mass_patch: int = Field(32, ge=2, le=1024, description="fine cells per side of the "
                            "blocks of the mass-balance term")  # fmt: skip
    physics: PhysicsWeights = Field(default_factory=PhysicsWeights)
    shap_samples: int = Field(
        16, ge=0, le=1000, description="test-month samples each learned downscaler's SHAP "
        "importances are averaged over (0: no SHAP)"
    )  # fmt: skip
    shap_coalitions: int = Field(64, ge=8, le=4096, description="KernelExplainer nsamples")
    forest_trees: int = Field(100, ge=10, le=2000)
    forest_samples: int = Field(20000, ge=1000, description="training points of the forest")

    @model_validator(mode="after")
    def _order(self) -> DownscalingConfig:
        if not self.train_end < self.validation_end:
            raise ValueError("train_end must come before validation_end")
        unknown = [c for c in self.covariates if c not in COVARIATES]
        if unknown:
            raise ValueError(f"covariates: unknown {unknown}; choose among {list(COVARIATES)}")
        return self


class DownscalingRecipe(RecipeBase):
    """A downscaling experiment: coarse GWSA to a fine grid with GNNWR/GTNNWR against
    nearest neighbour, bilinear interpolation and a random forest with residual
    correction."""

    name: str = "downscaling"
    method: Literal["downscaling"] = "downscaling"
    data: DownscalingTwinSource
    downscaling: DownscalingConfig = Field(default_factory=DownscalingConfig)
    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(name=n, dropout=0.1) for n in ("gnnwr", "gtnnwr")]
    )
