"""Which months play which role in reconstruction and gap filling (Yu et al. 2021).

- ``train``: gradient steps (every 8th of them early-stops, see :func:`early_stopping`);
- ``validation_block``: a contiguous block as long as the real GRACE/GRACE-FO gap, hidden
  from training and inputs, on which the fill model is chosen and the intervals of
  interior gaps are calibrated;
- ``hidden_single`` and ``hidden_block``: hidden like real gaps and scored (the reported
  block is not the one the fill model was chosen on);
- ``test``: the first and last months of the record, never an input of a scored
  prediction; ``forecast_1m``: the last months, scored one month ahead (by design with the
  earlier months as inputs); ``hindcast``: the months before GRACE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gracefuse.config import ReconstructionConfig
from gracefuse.errors import InputError

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
