"""Which samples play which role: every split scheme of every method family, in one place.

- :func:`split_months` (fusion, Sun et al. 2019): the first share of months with a target
  (or those up to a date) train, the rest test; of the training period, a validation and a
  calibration share at its end.
- :func:`reconstruction_splits` (Yu et al. 2021): hidden single months and blocks, a
  validation block, test months at both ends, forecasts and hindcasts:

  - ``train``: gradient steps (every 8th of them early-stops, see :func:`early_stopping`);
  - ``validation_block``: a contiguous block as long as the real GRACE/GRACE-FO gap, hidden
    from training and inputs, on which the fill model is chosen and the intervals of
    interior gaps are calibrated;
  - ``hidden_single`` and ``hidden_block``: hidden like real gaps and scored (the reported
    block is not the one the fill model was chosen on);
  - ``test``: the first and last months of the record, never an input of a scored
    prediction; ``forecast_1m``: the last months, scored one month ahead (by design with the
    earlier months as inputs); ``hindcast``: the months before GRACE.
- :func:`spatial_blocks`: cells in square blocks, each block a fold, with a buffer of cells
  left out around each held-out block (spatial autocorrelation would leak otherwise).
- :func:`held_out_groups`: whole wells or basins held out (never a well's own months).

Every scheme returns indices; statistics are then fitted on training roles only
(:mod:`gracefuse.datasets.scaling`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gracefuse.errors import InputError

if TYPE_CHECKING:
    from gracefuse.methods.reconstruction.config import ReconstructionConfig


@dataclass(frozen=True)
class FractionSplit:
    """Settings of :func:`split_months` (the fusion recipe's ``[samples]`` has the same)."""

    train_fraction: float = 0.7
    train_end: str | None = None
    validation_fraction: float = 0.1
    calibration_fraction: float = 0.1


def split_months(
    has_target: np.ndarray, times: pd.DatetimeIndex, cfg: FractionSplit
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/calibration/test indices, contiguous and in time order.

    The first ``train_fraction`` of the months with a target (or those up to ``train_end``)
    are the paper's training period, the rest test. Of the training period, the last
    ``calibration_fraction`` calibrate the intervals and the ``validation_fraction`` before
    them validate (early stopping, the ridge penalty, every choice); disjoint, so that the
    coverage measured on test months is honest.

    Examples
    --------
    >>> t = pd.date_range("2002-04-01", periods=100, freq="MS")
    >>> tr, va, ca, te = split_months(np.ones(100, bool), t, FractionSplit())
    >>> len(tr), len(va), len(ca), len(te), bool(tr[-1] < va[0] < ca[0] < te[0])
    (56, 7, 7, 30, True)
    """
    valid = np.flatnonzero(has_target)
    if valid.size < 10:
        raise InputError(None, f"only {valid.size} months have GRACE data; need at least 10")
    if cfg.train_end is not None:
        end = pd.Timestamp(cfg.train_end)
        n_fit = int((times[valid] <= end).sum())
    else:
        n_fit = int(round(cfg.train_fraction * valid.size))
    n_fit = min(max(n_fit, 4), valid.size - 1)
    fit, test = valid[:n_fit], valid[n_fit:]
    n_cal = int(round(cfg.calibration_fraction * n_fit))
    n_val = int(round(cfg.validation_fraction * n_fit))
    if n_fit - n_val - n_cal < 2:
        raise InputError(None, f"only {n_fit} training months: too few for the held-out shares")
    train = fit[: n_fit - n_val - n_cal]
    val, cal = fit[len(train) : n_fit - n_cal], fit[n_fit - n_cal :]
    return train, val, cal, test


ROLES = (
    "train",
    "validation_block",
    "test",
    "hidden_single",
    "hidden_block",
    "forecast_1m",
    "hindcast",
)


@dataclass
class Splits:
    """Month indices (into the time axis) of each role, in time order."""

    train: np.ndarray
    test: np.ndarray
    hidden_single: np.ndarray
    hidden_block: np.ndarray
    forecast_1m: np.ndarray
    hindcast: np.ndarray
    validation_block: np.ndarray

    def hidden(self) -> np.ndarray:
        """The scored gaps: months hidden from training and inputs, filled like real gaps."""
        return np.union1d(self.hidden_single, self.hidden_block)

    def gaps(self) -> np.ndarray:
        """Every month filled the way real gaps are (scored gaps and the validation block)."""
        return np.union1d(self.hidden(), self.validation_block)

    def withheld(self) -> np.ndarray:
        """Everything a model may neither train on nor take as an input of a scored
        prediction (test, gaps, validation block, forecast window)."""
        out = np.union1d(np.union1d(self.test, self.gaps()), self.forecast_1m)
        return out.astype(int)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ROLES}


def _block(times: pd.DatetimeIndex, known: np.ndarray, start: str, length: int) -> np.ndarray:
    t0 = pd.Timestamp(start)
    inside = (times >= t0) & (times < t0 + pd.DateOffset(months=length))
    return np.flatnonzero(inside & known)


def reconstruction_splits(
    times: pd.DatetimeIndex, known: np.ndarray, cfg: ReconstructionConfig
) -> Splits:
    """Assign each month with GRACE to one role; months before GRACE are ``hindcast``.

    Parameters
    ----------
    times
        The monthly axis.
    known
        ``(time,)`` bool, true where GRACE has a solution.

    Examples
    --------
    >>> t = pd.date_range("2002-04-01", periods=120, freq="MS")
    >>> from gracefuse.methods.reconstruction.config import ReconstructionConfig
    >>> cfg = ReconstructionConfig(test_first=5, test_last=5, hidden_single=3,
    ...                            hidden_block_start="2006-01", hidden_block_length=11,
    ...                            validation_block_start="2008-01", forecast_months=12)
    >>> s = reconstruction_splits(t, np.ones(120, bool), cfg)
    >>> len(s.hidden_block), len(s.validation_block), len(s.test), len(s.hidden_single)
    (11, 11, 10, 3)
    """
    idx = np.flatnonzero(known)
    n_blocks = 2 * cfg.hidden_block_length
    if idx.size < cfg.test_first + cfg.test_last + n_blocks + 10:
        raise InputError(None, f"only {idx.size} GRACE months: too few for these splits")
    test = np.union1d(idx[: cfg.test_first], idx[len(idx) - cfg.test_last :])
    forecast = idx[len(idx) - cfg.forecast_months :] if cfg.forecast_months else idx[:0]
    taken = np.union1d(test, forecast)
    block = np.setdiff1d(
        _block(times, known, cfg.hidden_block_start, cfg.hidden_block_length), taken
    )
    taken = np.union1d(taken, block)
    length = cfg.hidden_block_length if cfg.validation_block_start else 0
    vblock = np.setdiff1d(
        _block(times, known, cfg.validation_block_start or "1900-01", length), taken
    )
    rest = np.setdiff1d(idx, np.union1d(taken, vblock))
    rng = np.random.default_rng(cfg.seed)
    pool = rest[1:-1]  # keep a margin so that each single month is a real isolated gap
    single = np.sort(rng.choice(pool, size=min(cfg.hidden_single, pool.size), replace=False))
    train = np.setdiff1d(rest, single)
    return Splits(train, test, single, block, forecast, np.arange(idx[0]), vblock)


def early_stopping(train: np.ndarray, every: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Every ``every``-th training month early-stops (and picks the ridge's penalty), the
    rest take gradient steps. Returns ``(fit, early_stop)``."""
    val = train[every // 2 :: every]
    return np.setdiff1d(train, val), val


def spatial_blocks(
    lat: np.ndarray, lon: np.ndarray, block: float, buffer: float = 0.0, folds: int = 5,
    seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """Assign cells to folds by square blocks of ``block`` degrees.

    Returns ``(folds, H, W)`` integer roles: for fold ``k``, ``1`` = held out (the blocks
    of fold ``k``), ``0`` = training, ``-1`` = buffer (within ``buffer`` degrees of a
    held-out cell, used for neither).

    Examples
    --------
    >>> roles = spatial_blocks(np.arange(8.0), np.arange(8.0), block=4, buffer=1, folds=4)
    >>> roles.shape, [int((r == 1).sum()) for r in roles]
    ((4, 8, 8), [16, 16, 16, 16])
    >>> bool(((roles == 1).sum(0) == 1).all())  # each cell held out exactly once
    True
    """
    if block <= 0 or buffer < 0 or folds < 2:
        raise ValueError("block must be > 0, buffer ≥ 0 and folds ≥ 2")
    bi = np.floor((lat - lat.min()) / block).astype(int)
    bj = np.floor((lon - lon.min()) / block).astype(int)
    ids = bi[:, None] * (bj.max() + 1) + bj[None, :]
    order = np.random.default_rng(seed).permutation(ids.max() + 1)
    fold_of = order % folds
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    roles = np.zeros((folds, len(lat), len(lon)), np.int8)
    for k in range(folds):
        held = fold_of[ids] == k
        roles[k][held] = 1
        if buffer > 0 and held.any():
            near = np.zeros(held.shape, bool)
            for y, x in zip(lat2[held], lon2[held], strict=True):
                near |= (np.abs(lat2 - y) <= buffer) & (np.abs(lon2 - x) <= buffer)
            roles[k][near & ~held] = -1
    return roles


def held_out_groups(ids: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """A boolean per row: ``True`` where the row's group (well, basin) is held out.

    About ``fraction`` of the distinct groups are held out, whole.

    Examples
    --------
    >>> ids = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    >>> held = held_out_groups(ids, 0.5, seed=1)
    >>> int(held.sum()), len(set(ids[held]) & set(ids[~held]))
    (4, 0)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    groups = np.unique(ids)
    n = max(1, int(round(fraction * len(groups))))
    chosen = np.random.default_rng(seed).choice(groups, size=n, replace=False)
    return np.isin(ids, chosen)
