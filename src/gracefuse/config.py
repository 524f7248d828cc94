"""The shared parts of recipes (pydantic models loaded from TOML): data sources, the
training loop, the models to train, and :class:`RecipeBase`, which each method family's
recipe extends with its own sections (``methods/<family>/config.py``).

Every table forbids unknown keys, and errors come back as one line naming each key and its
problem (:func:`describe_errors`). Loading: :func:`gracefuse.recipes.load_recipe`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gracefuse.errors import ConfigError
from gracefuse.limits import check_box, check_twin, parse_month
from gracefuse.models.registry import REGISTRY, get_spec

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
    seeds: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list,
        max_length=20,
        description="a multi-seed run: these training seeds, each run as `seed`, with mean ± "
        "spread over them (empty: one run with `seed`)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mc_samples: int = Field(20, ge=0, le=1000, description="MC-dropout passes for the interval")
    ema_decay: float = Field(
        0.0, ge=0, lt=1, description="exponential moving average of weights (0: off)"
    )
    num_threads: int | None = Field(None, ge=1, description="CPU threads (default: torch's)")
    jobs: int | None = Field(
        None,
        ge=1,
        description="hybrid family: independent trainings (models, folds, members) "
        "run side by side in this many processes (default: one per CPU core; 1 on a GPU)",
    )
    threads_per_job: int = Field(1, ge=1, description="CPU threads of each such process")
    kernels: Literal["fast", "portable"] = Field(
        "fast",
        description="fast: the CPU's own kernels (the same numbers on one machine; they move "
        "slightly between CPU models and thread counts); portable: the same numbers on any "
        "x86-64 CPU (oneDNN off, MKL's COMPATIBLE branch, 2 threads; 1.5-3.5x slower)",
    )
    deterministic: bool = Field(
        True, description="torch's deterministic algorithms (and cuDNN's deterministic mode)"
    )
    clip_grad: float | None = Field(
        None, gt=0, description="clip the gradient norm of the model's parameters (None: off)"
    )

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"each seed at most once: {seeds}")
        return seeds


#: names that changed, and what to write instead
RENAMED_MODELS = {
    "segnet": "segnet_lite (the paper's form, no pooling) or segnet_pool (with pooling)",
}


class ModelConfig(_Strict):
    """One architecture to train (see :func:`gracefuse.models.build_model`)."""

    name: str = Field(description="a registered architecture (gracefuse methods lists them)")
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

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        get_spec(name)  # a clear error listing the registered names
        return name

    @property
    def label(self) -> str:
        """The name of the run in tables (before ``vgg16`` → ``vgg16_scratch``)."""
        return f"ridge+{self.name}" if self.residual == "cell_ridge" else self.name


class RecipeBase(_Strict):
    """What every recipe has: a name, its data, the training loop and the models.

    Each method family derives its recipe from this with ``method`` as a literal and its
    own sections (``[samples]`` for fusion, ``[reconstruction]`` for reconstruction); the
    recipe of a run is the union of those, discriminated on ``method``
    (:func:`gracefuse.recipes.load_recipe`), so a section of another family is an error.
    """

    name: str = "recipe"
    method: str
    train: TrainConfig = Field(default_factory=TrainConfig)
    models: list[ModelConfig] = Field(min_length=1)

    @field_validator("models", mode="before")
    @classmethod
    def _renamed(cls, models):
        for m in models if isinstance(models, list) else []:
            name = m.get("name") if isinstance(m, dict) else None
            if name in RENAMED_MODELS:
                raise ValueError(f"model '{name}' is now {RENAMED_MODELS[name]}")
        return models

    @model_validator(mode="after")
    def _models_of_this_method(self) -> RecipeBase:
        names = [m.label for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"each model at most once in [[models]]: {names}")
        for m in self.models:
            spec = get_spec(m.name)
            if self.method not in spec.methods:
                raise ValueError(
                    f"model {m.name!r} is a {' / '.join(spec.methods)} model, not a "
                    f"{self.method} one; choose among "
                    + ", ".join(n for n, sp in REGISTRY.items() if self.method in sp.methods)
                )
        return self


def describe_errors(exc: ValidationError, limit: int = 5, skip: str | None = None) -> str:
    """pydantic's errors as one line: ``where: what`` for each (at most ``limit``);
    ``skip``: a leading location part to leave out (a union's tag, e.g. the method).

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
        loc = list(e["loc"])[1:] if skip and e["loc"] and e["loc"][0] == skip else e["loc"]
        where = ".".join(str(x) for x in loc if not str(x).startswith("function-"))
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


def dump_recipe(recipe: RecipeBase) -> str:
    """The resolved recipe as TOML text (``None`` values left out)."""
    return tomli_w.dumps(recipe.model_dump(mode="json", exclude_none=True))
