"""Experiment recipes: pydantic models loaded from TOML; every run saves its resolved config.

A recipe has four tables: ``[data]`` (where the LSM and GRACE come from), ``[samples]``
(predictors, lags, split, image size), ``[train]`` (optimiser, epochs, loss weight) and
``[[models]]`` (one entry per architecture to train). See ``gracefuse/recipes/*.toml``.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from gracefuse.errors import ConfigError
from gracefuse.limits import check_box, check_twin, parse_month

Month = Annotated[str, AfterValidator(parse_month)]
BoxTuple = tuple[float, float, float, float]


def _box(v: BoxTuple | None) -> BoxTuple | None:
    if v is not None:
        check_box(*v)
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TwinSource(_Strict):
    """Make the synthetic twin on the fly."""

    kind: Literal["twin"] = "twin"
    size: int = Field(64, ge=8, description="cells per side (≥ 8; bounded by memory)")
    seed: int = Field(0, ge=0, description="random seed (same seed, same world)")
    start: Month = "2002-04"
    end: Month = "2017-12"

    @model_validator(mode="after")
    def _limits(self) -> TwinSource:
        check_twin(self.size, self.start, self.end)
        return self


class FileSource(_Strict):
    """Real products: GRACE mascons and LSM files given by the user."""

    kind: Literal["files"] = "files"
    grace: str = Field(description="GRACE mascon/grid netCDF")
    grace_scale_factors: str | None = None
    grace_land_mask: str | None = None
    lsm: list[str] = Field(description="LSM files or glob patterns")
    lsm_model: Literal["gldas_noah", "era5_land"] = "gldas_noah"
    wells: str | None = Field(None, description="optional well table (id, lat, lon, time, value)")
    wells_value: str | None = None
    box: Annotated[BoxTuple, AfterValidator(_box)] = Field(
        (7.75, 47.75, 60.0, 100.0), description="south, north, west, east"
    )
    land_mask: str | None = Field(None, description="optional raster mask for the study area")


class GraceOnlySource(_Strict):
    """A GRACE (or GRACE-like) grid alone: for GRACE-only forecasting and hindcasting."""

    kind: Literal["grace_only"] = "grace_only"
    grace: str
    grace_scale_factors: str | None = None
    grace_land_mask: str | None = None
    box: Annotated[BoxTuple | None, AfterValidator(_box)] = None


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


class TrainConfig(_Strict):
    """The shared training loop."""

    optimizer: Literal["sgd", "adam"] = "adam"
    lr: float = Field(1e-3, gt=0, le=10, description="learning rate")
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-6, ge=0)
    batch_size: int = Field(5, ge=1)
    epochs: int = Field(60, ge=1)
    patience: int = Field(15, ge=1, description="early stop after this many epochs w/o gain")
    loss_weight: float = Field(0.5, ge=0, le=1, description="w in w·MSE + (1−w)·NSE-L1")
    seed: int = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mc_samples: int = Field(20, ge=0, le=1000, description="MC-dropout passes for the interval")
    ema_decay: float = Field(
        0.0, ge=0, lt=1, description="exponential moving average of weights (0: off)"
    )
    num_threads: int | None = Field(None, ge=1, description="CPU threads (default: torch's)")


#: names that changed, and what to write instead
RENAMED_MODELS = {
    "segnet": "segnet_lite (the paper's form, no pooling) or segnet_pool (with pooling)",
}


class ModelConfig(_Strict):
    """One architecture to train (see :func:`gracefuse.models.build_model`)."""

    name: Literal[
        "segnet_lite",
        "segnet_pool",
        "unet",
        "vgg16",
        "vgg16_scratch",
        "vgg16_unet",
        "seunet",
        "pix2pix",
        "dcae",
        "convlstm",
    ]
    base_filters: int | None = Field(None, ge=1, le=1024)
    depth: int | None = Field(None, ge=1, le=8)
    dropout: float = Field(0.1, ge=0, lt=1)
    pretrained: str | None = Field(None, description="VGG16: local ImageNet weights file")
    epochs: int | None = Field(None, ge=1, description="this model's epochs (default: train's)")
    ensemble: int = Field(
        1, ge=1, le=50, description="deep-ensemble members (seeds seed, seed+1, …)"
    )
    residual: Literal["cell_ridge"] | None = Field(
        None,
        description="learn the residual of this baseline (cross-fitted on the training "
        "months), with its prediction as an extra input; the run is named "
        "'ridge+<name>' (ours, not the paper's)",
    )

    @property
    def label(self) -> str:
        """The name of the run in tables (before ``vgg16`` → ``vgg16_scratch``)."""
        return f"ridge+{self.name}" if self.residual == "cell_ridge" else self.name


class Recipe(_Strict):
    """A whole experiment."""

    name: str = "fusion"
    method: Literal["fusion", "reconstruction"] = "fusion"
    data: TwinSource | FileSource | GraceOnlySource = Field(
        default_factory=TwinSource, discriminator="kind"
    )
    reconstruction: ReconstructionConfig = Field(default_factory=ReconstructionConfig)
    samples: SamplesConfig = Field(default_factory=SamplesConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    models: list[ModelConfig] = Field(
        default_factory=lambda: [ModelConfig(name="segnet_lite"), ModelConfig(name="unet")],
        min_length=1,
    )

    @field_validator("models", mode="before")
    @classmethod
    def _renamed(cls, models):
        for m in models if isinstance(models, list) else []:
            name = m.get("name") if isinstance(m, dict) else None
            if name in RENAMED_MODELS:
                raise ValueError(f"model '{name}' is now {RENAMED_MODELS[name]}")
        return models

    @model_validator(mode="after")
    def _unique_models(self) -> Recipe:
        names = [m.label for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"each model at most once in [[models]]: {names}")
        return self


def describe_errors(exc: ValidationError, limit: int = 5) -> str:
    """pydantic's errors as one line: ``where: what`` for each (at most ``limit``).

    Examples
    --------
    >>> try:
    ...     TrainConfig(lr=0, bogus=1)
    ... except ValidationError as exc:
    ...     print(describe_errors(exc))
    lr: must be greater than 0; bogus: unknown key
    """
    msgs = []
    for e in exc.errors()[:limit]:
        where = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-"))
        msg = str(e["msg"]).removeprefix("Value error, ")
        msg = {"Extra inputs are not permitted": "unknown key"}.get(msg, msg)
        msg = msg.replace("Input should be ", "must be ")
        msgs.append(f"{where}: {msg}" if where else msg)
    more = len(exc.errors()) - limit
    return "; ".join(msgs) + (f"; and {more} more" if more > 0 else "")


def validated(cls: type[BaseModel], values: dict, context: str):
    """``cls`` built from ``values``, or a :class:`ConfigError` that starts with ``context``."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"{context}: {describe_errors(exc)}") from exc


def load_recipe(
    path: str | os.PathLike,
    base_dir: str | os.PathLike | None = None,
    method: str | None = None,
) -> Recipe:
    """Load a TOML recipe; relative data paths are resolved against the recipe's folder.

    ``path`` may also name a built-in recipe (``sun2019_twin``). With ``method`` given, a
    recipe of another method is refused with a clear error.
    """
    p = Path(path)
    if not p.exists() and not p.suffix:
        builtin = resources.files("gracefuse") / "recipes" / f"{p.name}.toml"
        if builtin.is_file():
            p = Path(str(builtin))
    if not p.exists():
        raise ConfigError(f"{p}: recipe not found")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
    recipe = validated(Recipe, raw, f"{p}: invalid recipe")
    if method is not None and recipe.method != method:
        command = {"fusion": "gracefuse run", "reconstruction": "gracefuse fill"}[recipe.method]
        raise ConfigError(f"{p}: a {recipe.method} recipe, not {method}; run it with `{command}`")
    if isinstance(recipe.data, FileSource | GraceOnlySource):
        root = Path(base_dir) if base_dir else p.parent
        d = recipe.data

        def fix(s: str | None) -> str | None:
            if s is None:
                return None
            s = os.path.expandvars(s)
            return str(s if Path(s).is_absolute() else root / s)

        update = {
            k: fix(getattr(d, k)) for k in ("grace", "grace_scale_factors", "grace_land_mask")
        }
        if isinstance(d, FileSource):
            update |= {
                "lsm": [fix(x) for x in d.lsm],
                "wells": fix(d.wells),
                "land_mask": fix(d.land_mask),
            }
        recipe.data = d.model_copy(update=update)
    return recipe


def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe as TOML text (``None`` values left out)."""
    return tomli_w.dumps(recipe.model_dump(mode="json", exclude_none=True))
