"""The twin's land-surface model: the bucket model without surface water, groundwater or
pumping, run with its own forcing and parameter errors. Like the 2-m soil column of Noah,
it may keep part of its drainage in a slow deep-soil layer (``deep_share``).

The error parameters are :class:`LSMErrors`. Five of them are solved per world by
:func:`gracefuse.data.twin.calibrate.calibrate_lsm`; three are fixed structural
differences. Trends act over the GRACE era only (:data:`TREND_SPAN`) and hold their edge
values outside it, so nothing is extrapolated beyond the months the calibration saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gracefuse.data.twin.bucket import BucketParams, simulate, with_spinup
from gracefuse.data.twin.geography import decimal_years

#: decimal years over which the error trends act (the calibration window), and their origin
TREND_SPAN = (2002.25, 2017.5)
TREND_ORIGIN = 2007.0


class LSMErrors(BaseModel):
    """How the twin's LSM departs from the truth (besides lacking surface water and
    groundwater).

    Solved per world (see :data:`SOLVED`): ``noise`` (σ, the monthly multiplicative error
    of the LSM's precipitation forcing in log space, mean-preserving), ``noise_trend`` (the
    change of ln σ per decade: forcing quality changes over time), ``capacity`` (the LSM's
    soil capacity relative to the truth), ``capacity_trend`` (change of the ln capacity per
    decade: a drifting land parameter, which gives the LSM's storage a spurious trend while
    its water balance stays closed), ``pet`` (its potential-ET scale; the truth's is 1) and
    ``deep_share`` (the share of drainage kept in a deep-soil layer that empties with an
    e-folding time of :data:`DEEP_EFOLDING` months; 0: all drainage leaves the column) and
    ``drainage`` (the LSM's drainage rate below the root zone relative to the truth's: a
    systematic error in the timing of its seasonal drawdown).

    Fixed: ``bias`` (amplitude of a static spatial precipitation bias), ``canopy`` and
    ``melt`` (canopy capacity and melt factor relative to the truth).

    The defaults are where the calibration starts and what it pulls towards: a modest
    random forcing error, no drift, no deep layer.
    """

    model_config = ConfigDict(extra="forbid")

    noise: float = Field(0.3, ge=0)
    noise_trend: float = 0.0
    capacity: float = Field(1.2, gt=0)
    capacity_trend: float = 0.0
    pet: float = Field(1.1, gt=0)
    deep_share: float = Field(0.0, ge=0, le=1)
    drainage: float = Field(1.0, gt=0)
    bias: float = 0.097
    canopy: float = 1.5
    melt: float = 1.067


#: the parameters the calibration solves for, in the order of its parameter vector
SOLVED = (
    "noise",
    "noise_trend",
    "capacity",
    "capacity_trend",
    "pet",
    "deep_share",
    "drainage",
)
#: e-folding time (months) of the LSM's deep-soil layer
DEEP_EFOLDING = 20.0


def trend_decades(months: pd.DatetimeIndex) -> np.ndarray:
    """Decades since :data:`TREND_ORIGIN`, held constant outside :data:`TREND_SPAN`."""
    return (np.clip(decimal_years(months), *TREND_SPAN) - TREND_ORIGIN) / 10.0


def _column(values: Sequence[float]) -> np.ndarray:
    """``(B,)`` parameter values as ``(1, B, 1)``: time, parameter set, cells."""
    return np.asarray(values, dtype=float)[None, :, None]


def run_lsm(
    precip: np.ndarray,
    tair: np.ndarray,
    lsm_bias: np.ndarray,
    lsm_noise: np.ndarray,
    smax: np.ndarray,
    cmax: np.ndarray,
    months: pd.DatetimeIndex,
    n_spinup: int,
    errors: Sequence[LSMErrors],
    recharge_coef: float,
) -> dict[str, np.ndarray]:
    """Run the LSM for one or several error sets at once.

    Parameters
    ----------
    precip, tair, lsm_noise
        ``(time, cells)`` true precipitation (mm/month), temperature (°C) and the unit
        error fields, for ``months`` (the spin-up months are the first ``n_spinup`` of
        these, repeated).
    lsm_bias, smax, cmax
        ``(cells,)`` bias pattern and the truth's soil and canopy capacities (mm).
    errors
        ``B`` error sets.
    recharge_coef
        Drainage below the root zone (the truth's recharge; lost to the LSM).

    Returns
    -------
    dict
        ``lsm_precip`` ``(time, B, cells)`` (mm/month) and the stores ``sm`` (root zone),
        ``gw`` (the deep-soil layer), ``snow``, ``canopy`` (mm) of shape
        ``(time, B, cells)``.
    """
    get = {k: _column([getattr(e, k) for e in errors]) for k in LSMErrors.model_fields}
    decades = trend_decades(months)[:, None, None]
    sigma = get["noise"] * np.exp(get["noise_trend"] * decades)
    bias = np.clip(1.0 + get["bias"] * lsm_bias[None, None], 0.5, 1.6)
    lsm_p = precip[:, None] * bias * np.exp(sigma * lsm_noise[:, None] - 0.5 * sigma**2)
    capacity = get["capacity"] * np.exp(get["capacity_trend"] * decades)
    prm = BucketParams(
        smax=smax,
        cmax=cmax * get["canopy"][0],
        melt=25.0 * get["melt"][0],
        f_sw=0.0,
        k_sw=0.0,
        k_gw=1.0 / DEEP_EFOLDING,
        k_rech=recharge_coef * get["drainage"][0],
        rech_share=get["deep_share"][0],
        pet_scale=get["pet"][0],
        gw_ref=0.0,
        keep=("sm", "snow", "canopy", "gw"),
    )

    capacity = np.broadcast_to(capacity, (len(months), len(errors), 1))
    out = simulate(
        with_spinup(lsm_p, n_spinup),
        with_spinup(tair[:, None], n_spinup),
        None,
        prm,
        n_spinup,
        with_spinup(capacity, n_spinup),
    )
    out["lsm_precip"] = lsm_p
    return out
