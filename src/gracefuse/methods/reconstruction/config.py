"""The reconstruction recipe (Yu et al. 2021): ``[data]`` (twin, files, or GRACE alone),
``[reconstruction]`` (hidden months and blocks, sequences, fill and hindcast models),
``[train]`` and ``[[models]]``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

from gracefuse.config import (
    FileSource,
    GraceOnlySource,
    ModelConfig,
    Month,
    RecipeBase,
    TwinSource,
    _Strict,
)


class ReconstructionConfig(_Strict):
    """Splits and settings of reconstruction and gap filling (Yu et al. 2021)."""

    test_first: int = Field(20, ge=0, description="first GRACE months held out as test")
    test_last: int = Field(20, ge=0, description="last GRACE months held out as test")
    hidden_single: int = Field(10, ge=0, description="scattered single months hidden")
    hidden_block_start: Month = Field("2008-01", description="start of the hidden block")
    hidden_block_length: int = Field(11, ge=0, description="months (the real gap is 11)")
    validation_block_start: Month | None = Field(
        "2010-01",
        description="start of a second block as long as the hidden one, on which the fill "
        "model is chosen and interior intervals are calibrated (never reported as a score)",
    )
    forecast_months: int = Field(36, ge=0, description="last months scored one month ahead")
    sequence: int = Field(20, ge=3, le=120, description="ConvLSTM sequence: sequence−1 in, 1 out")
    augment: bool = Field(True, description="flips of training months")
    rotate: bool = Field(
        False, description="with augment: also 90° rotations and transposes (square grids)"
    )
    memory_months: int = Field(
        0, ge=0, description="add the LSM's trailing mean over this many months as an input"
    )
    memory_efolding: list[PositiveFloat] = Field(
        [],
        description="add exponentially weighted precipitation memory with these e-folding "
        "times (months) as inputs: the groundwater a land-surface model lacks",
    )
    convlstm_base: Literal["seasonal", "none"] = Field(
        "seasonal",
        description="the ConvLSTM learns departures from each cell's seasonal climatology "
        "('seasonal') or the TWSA itself ('none', the paper)",
    )
    damping_months: float = Field(
        24.0,
        ge=0,
        description="recursive ConvLSTM predictions relax to the base with this e-folding "
        "horizon (months past the nearest observed month); 0: no damping",
    )
    fill_model: str = Field(
        "best",
        description="model that fills gaps inside GRACE's record: a name or 'best' (lowest "
        "grid-median RMSE on the validation block)",
    )
    hindcast_model: str = Field(
        "fill_model",
        description="model that fills months outside GRACE's training span (the hindcast): "
        "'fill_model' (the same model as inside), 'best_lsm' (the LSM-driven model with the "
        "lowest validation-block RMSE) or a name. No validation role measures hindcast skill "
        "yet, so neither rule is known to be better (see the README)",
    )
    seed: int = Field(0, ge=0)


class ReconstructionRecipe(RecipeBase):
    """A reconstruction experiment: GRACE-like TWSA from the LSM or from GRACE alone, gaps
    filled, hindcast before GRACE."""

    name: str = "reconstruction"
    method: Literal["reconstruction"] = "reconstruction"
    data: TwinSource | FileSource | GraceOnlySource = Field(
        default_factory=TwinSource, discriminator="kind"
    )
    reconstruction: ReconstructionConfig = Field(default_factory=ReconstructionConfig)
    models: list[ModelConfig] = Field(min_length=1)
