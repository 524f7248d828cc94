"""Inputs of the LSM → GRACE networks: scaled LSM storage and precipitation memories."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from gracefuse.datasets.features import exponential_memory, trailing_mean
from gracefuse.datasets.scaling import Scaler
from gracefuse.datasets.splits import Splits
from gracefuse.errors import InputError
from gracefuse.methods.reconstruction.config import ReconstructionConfig


def lsm_predictors(grid: xr.Dataset, splits: Splits, cfg: ReconstructionConfig) -> np.ndarray:
    """Scaled inputs of the LSM → GRACE image models, ``(time, channel, H, W)`` in [−1, 1].

    Channel 0 is the LSM TWSA (the paper's only predictor). ``memory_months`` adds trailing
    means of LSM storage and precipitation; ``memory_efolding`` adds exponentially weighted
    precipitation memory (:func:`gracefuse.datasets.features.exponential_memory`), one channel per
    e-folding time. Every scaling (and the precipitation climatology removed before the
    memory) is fitted on training months only; ocean cells are 0.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2002-01-01", periods=60, freq="MS")
    >>> rng = np.random.default_rng(0)
    >>> grid = xr.Dataset(
    ...     {"twsa_lsm": (("time", "lat", "lon"), rng.normal(size=(60, 2, 2))),
    ...      "precip": (("time", "lat", "lon"), rng.gamma(2.0, 50.0, size=(60, 2, 2))),
    ...      "land_mask": (("lat", "lon"), np.ones((2, 2), bool))},
    ...     coords={"time": t})
    >>> splits = Splits(*(np.arange(40),) + (np.arange(0),) * 6)
    >>> cfg = ReconstructionConfig(memory_efolding=[12, 48])
    >>> lsm_predictors(grid, splits, cfg).shape
    (60, 3, 2, 2)
    """
    mask = grid["land_mask"].values.astype(bool)

    def scaled(a: np.ndarray) -> np.ndarray:
        a = np.where(mask[None], a, np.nan)
        return np.nan_to_num(Scaler.fit(a[splits.train]).forward(a))

    lsm = grid["twsa_lsm"].values.astype(float)
    precip = grid["precip"].values.astype(float) if "precip" in grid else None
    if cfg.memory_efolding and precip is None:
        raise InputError(
            None, "memory_efolding needs the LSM's precipitation, and this LSM has none", "precip"
        )
    channels = [scaled(lsm)]
    if cfg.memory_months:  # antecedent storage: the groundwater memory one month lacks
        for a in [lsm] + ([precip] if precip is not None else []):
            mem = trailing_mean(np.nan_to_num(a), cfg.memory_months)
            channels.append(scaled(mem - np.nanmean(mem[splits.train], axis=0)))
    if cfg.memory_efolding:
        with warnings.catch_warnings():  # padding cells have no precipitation at all
            warnings.simplefilter("ignore", RuntimeWarning)
            anomaly = precip - np.nanmean(precip[splits.train], axis=0)  # NaN: no anomaly
        for tau in cfg.memory_efolding:
            channels.append(scaled(exponential_memory(anomaly, tau)))
    return np.stack(channels, axis=1)
