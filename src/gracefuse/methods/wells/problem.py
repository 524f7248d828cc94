"""The wells problem: predictors per row (well × month), targets, and folds over wells.

Targets: ``dgwl``, the depth to groundwater (m), and ``dgwl_anomaly``, the depth about
each well's own mean over its measured months. Folds assign every well to exactly one
test set; the published form holds out a fixed number of wells once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gracefuse.data.wells import STATIC, read_well_table
from gracefuse.errors import InputError
from gracefuse.methods.wells.config import WellsConfig, WellsRecipe


@dataclass
class WellsProblem:
    """Rows of the table with their predictors (``x`` ``(n, P)``, ``names``), where they are
    (``well``, ``lat``, ``lon``, ``month`` the index of each row's month), the targets
    (``targets[name]`` ``(n,)``, NaN where unmeasured) and the notes of the reader."""

    table: pd.DataFrame
    x: np.ndarray
    names: list[str]
    targets: dict[str, np.ndarray]
    well: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    month: np.ndarray
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def wells(self) -> list[str]:
        return sorted(set(self.well))


def predictors(df: pd.DataFrame, cfg: WellsConfig) -> tuple[np.ndarray, list[str]]:
    """``(n, P)`` the covariates, trailing means of ``cfg.lagged`` over ``cfg.lags`` months
    (per well) and the season (sine and cosine of the month)."""
    cols, names = [], []
    for c in cfg.covariates:
        cols.append(df[c].to_numpy(float))
        names.append(c)
    grouped = df.groupby("well", sort=False)
    for c in cfg.lagged:
        for lag in cfg.lags:
            cols.append(grouped[c].transform(lambda s, n=lag: s.rolling(n, 1).mean()).to_numpy())
            names.append(f"{c}_mean{lag}")
    phase = 2 * np.pi * (df["time"].dt.month.to_numpy() - 0.5) / 12
    cols += [np.sin(phase), np.cos(phase)]
    names += ["season_sin", "season_cos"]
    return np.stack(cols, 1).astype(np.float64), names


def load_wells_problem(recipe: WellsRecipe) -> WellsProblem:
    """Read the table and build predictors and targets."""
    df, notes = read_well_table(recipe.data.file, recipe.wells.covariates)
    x, names = predictors(df, recipe.wells)
    mean = df.groupby("well")["dgwl"].transform("mean")
    months = pd.DatetimeIndex(sorted(df["time"].unique()))
    statics = [c for c in STATIC if c in recipe.wells.covariates]
    notes.append(f"{df.well.nunique()} wells, {months[0]:%Y-%m}..{months[-1]:%Y-%m}, "
                 f"{int(df.dgwl.notna().sum())} measured months; per-well constants: {statics}")  # fmt: skip
    return WellsProblem(
        table=df, x=x, names=names,
        targets={"dgwl": df["dgwl"].to_numpy(float),
                 "dgwl_anomaly": (df["dgwl"] - mean).to_numpy(float)},
        well=df["well"].to_numpy(), lat=df["lat"].to_numpy(float), lon=df["lon"].to_numpy(float),
        month=months.get_indexer(df["time"]), source=str(recipe.data.file), notes=notes,
    )  # fmt: skip


def well_folds(wells: list[str], k: int, seed: int) -> list[list[str]]:
    """``k`` disjoint test sets of wells covering every well once (shuffled by ``seed``)."""
    if k > len(wells):
        raise InputError(None, f"{k} folds need at least {k} wells; the table has {len(wells)}",
                         "wells.folds")  # fmt: skip
    order = np.random.default_rng([seed, 51]).permutation(len(wells))
    return [sorted(wells[i] for i in part) for part in np.array_split(order, k)]


def published_split(wells: list[str], n_test: int, seed: int) -> list[str]:
    """The published form's test wells: ``n_test`` drawn by ``seed``."""
    if not 0 < n_test < len(wells):
        raise InputError(None, f"published_test_wells must be between 1 and {len(wells) - 1}",
                         "wells.published_test_wells")  # fmt: skip
    pick = np.random.default_rng([seed, 52]).choice(len(wells), n_test, replace=False)
    return sorted(wells[i] for i in pick)


def validation_wells(train: list[str], share: float, seed: int) -> list[str]:
    """The training wells that early-stop the networks (at least one)."""
    n = max(1, round(share * len(train)))
    pick = np.random.default_rng([seed, 53]).choice(len(train), n, replace=False)
    return sorted(train[i] for i in pick)
