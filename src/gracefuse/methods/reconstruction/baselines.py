"""The baselines of a reconstruction run: what every network must beat.

``persistence``, ``climatology_trend``, ``linear_interp``, ``lsm_regression`` and
``cell_ridge`` (per-cell ridge of GRACE on exactly the LSM networks' inputs). Fitted on
training months; the ridge's penalty on the early-stopping months. A scored prediction
never takes a withheld month (test, gaps, forecast window) as an input; the one-month-ahead
forecasts, which by design use the months before, are returned separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gracefuse.datasets.splits import Splits, early_stopping
from gracefuse.evaluate.baselines import (
    cell_ridge,
    climatology_trend,
    linear_interp,
    lsm_regression,
    persistence,
)

BASELINES = (
    "persistence",
    "climatology_trend",
    "linear_interp",
    "lsm_regression",
    "cell_ridge",
)
#: baselines driven by the LSM (they need no GRACE month nearby)
LSM_BASELINES = ("lsm_regression", "cell_ridge")


def baseline_predictions(
    grace: np.ndarray,
    lsm: np.ndarray | None,
    lsm_x: np.ndarray | None,
    times: pd.DatetimeIndex,
    splits: Splits,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every baseline's prediction for every month, and the one-month-ahead forecasts.

    Parameters
    ----------
    grace, lsm
        ``(time, H, W)`` in mm, NaN where missing.
    lsm_x
        ``(time, channels, H, W)`` the LSM networks' scaled inputs (for ``cell_ridge``).

    Returns
    -------
    predictions, forecasts
        name → ``(time, H, W)`` mm. ``forecasts`` holds ``persistence`` one month ahead
        (any earlier month that is not a gap is an input).
    """
    known = np.isfinite(grace).any((1, 2))
    inputs = known.copy()
    inputs[splits.withheld()] = False
    fit, early = early_stopping(splits.train)
    out = {
        "climatology_trend": climatology_trend(grace, times, splits.train),
        "linear_interp": linear_interp(grace, inputs),
        "persistence": persistence(grace, inputs),
    }
    if lsm is not None:
        out["lsm_regression"] = lsm_regression(grace, lsm, times, splits.train)
    if lsm_x is not None:
        out["cell_ridge"] = cell_ridge(lsm_x, grace, fit, early).prediction
    ahead = known.copy()
    ahead[splits.gaps()] = False
    return out, {"persistence": persistence(grace, ahead)}
