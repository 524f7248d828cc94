"""One problem set-up for every downscaler: a coarse GWSA field, fine covariates, the fine
grid and its land, the months of each split, and fine truth where it exists.

Arrays inside are NumPy ``(time, lat, lon)``; xarray is at the boundaries. The fine grid
nests in the coarse one: ``factor`` fine cells per coarse cell and side.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grid import block_mean, cell_area
from gracefuse.data.twin.fine_world import STATIC, make_fine_world
from gracefuse.datasets.features import trailing_mean
from gracefuse.errors import InputError
from gracefuse.methods.downscaling.config import DownscalingConfig, DownscalingTwinSource

SPLITS = ("train", "validation", "test")


@dataclass
class DownscalingProblem:
    """Everything a downscaler may use, and the truth it is scored against.

    Attributes
    ----------
    coarse
        ``(T, Yc, Xc)`` coarse GWSA (mm), NaN off land or where unobserved.
    coarse_sigma
        1σ of the coarse field's error (mm).
    features
        ``(T, Y, X, P)`` fine predictors (covariates and their trailing means), float32.
    names
        The ``P`` predictor names.
    land
        ``(Y, X)`` fine land mask.
    factor
        Fine cells per coarse cell and side.
    months
        The ``T`` months; ``split`` the split of each (:data:`SPLITS`).
    lat, lon, lat_coarse, lon_coarse
        Cell centres (degrees).
    truth
        ``(T, Y, X)`` fine GWSA (mm) for scoring (and calibration on validation months).
    reference
        ``(T, Y, X)`` a fine GWSA product (mm) that patch-trained networks learn from, NaN
        in the test months (none: the coarse-trained methods only).
    soil_moisture
        ``(T, Y, X)`` the soil-moisture covariate (0–1) that the magnitude term reads.
    """

    coarse: np.ndarray
    coarse_sigma: float
    features: np.ndarray
    names: list[str]
    land: np.ndarray
    factor: int
    months: pd.DatetimeIndex
    split: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    lat_coarse: np.ndarray
    lon_coarse: np.ndarray
    truth: np.ndarray | None = None
    reference: np.ndarray | None = None
    soil_moisture: np.ndarray | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def weights(self) -> np.ndarray:
        """``(Y, X)`` cell areas (km²) on land, 0 elsewhere: the block-mean weights."""
        return np.where(self.land, cell_area(self.lat, self.lon).values, 0.0)

    def months_of(self, split: str) -> np.ndarray:
        """Boolean ``(T,)`` mask of the months of ``split``."""
        return self.split == split

    def coarse_features(self) -> np.ndarray:
        """``(T, Yc, Xc, P)`` the predictors averaged over each coarse cell's land."""
        return block_mean(np.moveaxis(self.features, -1, 1), self.weights, self.factor).transpose(
            0, 2, 3, 1
        )


def upsample(coarse: np.ndarray, factor: int) -> np.ndarray:
    """Each coarse value repeated over its ``factor × factor`` fine cells (nearest)."""
    return np.repeat(np.repeat(coarse, factor, axis=-2), factor, axis=-1)


def feature_stack(fields: xr.Dataset, names: list[str], lags: list[int], where: str,
                  reference: np.ndarray | None = None):  # fmt: skip
    """``(T, Y, X, P)`` predictors and their names: each static covariate (repeated over
    time), and each dynamic one as its trailing means over ``lags`` months (1: the month's
    own value).

    With ``reference`` (a ``(T,)`` mask of months), each dynamic covariate is first made an
    anomaly about its own mean over those months, cell by cell (GWSA is an anomaly too)."""
    t = fields.sizes["time"]
    cols, labels = [], []
    for name in names:
        if name not in fields:
            raise InputError(where, f"covariate {name!r} is missing", "downscaling.covariates")
        v = fields[name].values.astype(np.float64)
        if name in STATIC or "time" not in fields[name].dims:
            cols.append(np.broadcast_to(v, (t, *v.shape)))
            labels.append(name)
            continue
        if reference is not None:
            with warnings.catch_warnings():  # cells off land are NaN throughout
                warnings.simplefilter("ignore", RuntimeWarning)
                v = v - np.nanmean(v[reference], axis=0)
        for lag in lags:
            cols.append(v if lag == 1 else trailing_mean(v, lag))
            labels.append(name if lag == 1 else f"{name}_mean{lag}")
    return np.stack(cols, axis=-1).astype(np.float32), labels


def check_fine_inputs(fields: xr.Dataset, names: list[str], lat_coarse: np.ndarray,
                      lon_coarse: np.ndarray, where: str) -> int:  # fmt: skip
    """Refuse fine covariates a downscaler cannot use; return the nesting factor.

    The fine grid must nest in the coarse one (a whole number of fine cells per coarse cell
    and side, with shared edges); every covariate needs its ``units`` and at least one
    finite value.

    Raises
    ------
    InputError
        Naming ``where``, the covariate or axis, and the problem.
    """
    factor = nesting_factor(fields, lat_coarse, lon_coarse, where)
    for name in names:
        v = fields[name]
        if not v.attrs.get("units"):
            raise InputError(where, "has no units attribute", name)
        if not np.isfinite(v.values).any():
            raise InputError(where, "no finite value (NaN everywhere)", name)
    return factor


def nesting_factor(fields: xr.Dataset, lat_coarse: np.ndarray, lon_coarse: np.ndarray,
                   where: str) -> int:  # fmt: skip
    """Fine cells per coarse cell and side of a fine grid that nests in the coarse one (a
    whole number, shared edges); an :class:`InputError` naming ``where`` and the axis
    otherwise."""
    factor = None
    for axis, coarse in (("lat", lat_coarse), ("lon", lon_coarse)):
        fine = fields[axis].values
        dc, df = abs(coarse[1] - coarse[0]), abs(fine[1] - fine[0])
        ratio = dc / df
        edge_c, edge_f = min(coarse) - dc / 2, min(fine) - df / 2
        if (abs(ratio - round(ratio)) > 1e-6 or abs(edge_c - edge_f) > 1e-6 * dc
                or round(ratio) * len(coarse) != len(fine)):  # fmt: skip
            raise InputError(where, f"the fine grid ({df:g}°, from {edge_f:g}) does not nest "
                             f"in the coarse one ({dc:g}°, from {edge_c:g}) along {axis}", axis)  # fmt: skip
        if factor is not None and round(ratio) != factor:
            raise InputError(where, "fine cells per coarse cell differ between lat and lon")
        factor = round(ratio)
    return factor


def month_split(months: pd.DatetimeIndex, cfg: DownscalingConfig) -> np.ndarray:
    """``"train"``, ``"validation"`` or ``"test"`` per month."""
    ym = months.strftime("%Y-%m")
    split = np.where(ym <= cfg.train_end, "train",
                     np.where(ym <= cfg.validation_end, "validation", "test"))  # fmt: skip
    for s in SPLITS:
        if not (split == s).any():
            raise InputError("[downscaling]", f"no {s} months in {ym[0]}..{ym[-1]}",
                             "downscaling.train_end")  # fmt: skip
    return split


def load_twin_problem(src: DownscalingTwinSource, cfg: DownscalingConfig) -> DownscalingProblem:
    """The fine twin world as a downscaling problem (truth kept for scoring)."""
    world = make_fine_world(size=src.size, factor=src.factor, seed=src.seed, start=src.start,
                            end=src.end, cell_deg=src.cell_deg, noise_mm=src.noise_mm,
                            reference_mm=src.reference_mm)  # fmt: skip
    check_fine_inputs(world, cfg.covariates, world["lat_coarse"].values,
                      world["lon_coarse"].values, "twin")  # fmt: skip
    months = pd.DatetimeIndex(world["time"].values)
    split = month_split(months, cfg)
    reference = split == "train" if cfg.anomalies else None
    feats, names = feature_stack(world, cfg.covariates, cfg.lags, "twin", reference)
    fine_ref = np.where((split != "test")[:, None, None], world["gwsa_fine_reference"].values,
                        np.nan)  # fmt: skip
    return DownscalingProblem(
        coarse=world["gwsa"].values, coarse_sigma=float(world["gwsa_sigma"]),
        features=feats, names=names, land=world["land_mask"].values, factor=src.factor,
        months=months, split=split, lat=world["lat"].values,
        lon=world["lon"].values, lat_coarse=world["lat_coarse"].values,
        lon_coarse=world["lon_coarse"].values, truth=world["gwsa_true"].values,
        reference=fine_ref, soil_moisture=world["soil_moisture"].values,
        source=f"fine twin world (seed {src.seed}, {src.size}² coarse × {src.factor}²)",
    )  # fmt: skip
