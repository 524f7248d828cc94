"""The contract of a method family: check → prepare → fit/predict → outputs → report.

:func:`gracefuse.runner.run_recipe` drives every family through these steps and writes the
run folder itself (``config.toml``, ``run.log``, ``metrics.csv``, ``comparison.csv``, the
netCDF outputs, ``run_info.json``); a family only computes. Adding a family: a folder
``methods/<family>/`` with its recipe (a :class:`~gracefuse.config.RecipeBase`) and a
:class:`Method` decorated with :func:`gracefuse.methods.registry.register_method`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import xarray as xr

from gracefuse.config import RecipeBase


@dataclass
class MethodOutput:
    """What a family hands the runner to write.

    Attributes
    ----------
    table
        Long metrics (:data:`METRIC_COLUMNS`) → ``metrics.csv``.
    comparison
        Each network against the best baseline, with significance → ``comparison.csv``.
    files
        netCDF outputs by file name (``predictions.nc``, ``filled.nc``).
    info
        Method-specific facts for ``run_info.json`` (splits, chosen models, timings).
    result
        The family's own result object, returned to the caller of the run.
    """

    table: pd.DataFrame
    comparison: pd.DataFrame
    files: dict[str, xr.Dataset]
    info: dict
    result: Any = None
    extras: dict = field(default_factory=dict)


class Method(ABC):
    """One method family. Subclasses set the class attributes and the five steps."""

    #: the recipe's ``method`` value
    name: ClassVar[str]
    #: the family's recipe class
    recipe_type: ClassVar[type[RecipeBase]]
    #: one line for ``gracefuse methods``
    summary: ClassVar[str]
    #: the source study
    source: ClassVar[str]
    #: the files of the run folder it writes beyond the common ones
    products: ClassVar[tuple[str, ...]] = ()
    #: ``(split, scale, metric)`` rows that headline its results: a multi-seed run ranks
    #: the models on each by seed-mean, flagging those within the seed spread of the best
    headlines: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: whether anything is trained, so that a training seed can change the numbers
    trains: ClassVar[bool] = True

    def choices(self, recipe: RecipeBase, table: pd.DataFrame) -> dict[str, str]:
        """The choices between models the family makes from validation rows of a metrics
        ``table`` (:data:`METRIC_COLUMNS`), by name; a multi-seed run makes them again on
        the seed-mean table. None by default."""
        return {}

    @abstractmethod
    def check(self, recipe: RecipeBase) -> None:
        """Refuse settings and inputs that cannot work, before a run folder or data exists."""

    @abstractmethod
    def prepare(self, recipe: RecipeBase) -> Any:
        """Load the inputs (:func:`gracefuse.data.inputs.load_inputs`) and make samples."""

    @abstractmethod
    def fit_predict(self, recipe: RecipeBase, prepared: Any, folder: Path, progress: bool) -> Any:
        """Train every model of the recipe (checkpoints under ``folder``) and predict."""

    @abstractmethod
    def outputs(self, recipe: RecipeBase, prepared: Any, fitted: Any) -> MethodOutput:
        """Score every model and baseline; build the netCDF outputs."""

    @abstractmethod
    def report(self, folder: Path, output: MethodOutput) -> None:
        """Figures and ``report.html`` in ``folder``."""
