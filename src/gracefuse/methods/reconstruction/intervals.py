"""95 % intervals of filled months, calibrated on months no network trained or early-stopped
on, with their coverage measured on months they were not calibrated on."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from gracefuse.datasets.splits import Splits
from gracefuse.evaluate.intervals import calibrated_halfwidth


@dataclass
class FillIntervals:
    """95 % half-widths of filled values (mm, ``(H, W)``) and their measured coverage.

    Errors of a reconstruction grow once it leaves the months it was trained among, so
    there are two regimes: ``interior`` for months inside the training span (scattered
    missing months, the GRACE/GRACE-FO gap), calibrated on the validation block and the
    hidden months; ``exterior`` for months before or after it (hindcasts, months after
    the training record), calibrated on the test months at both ends of the record.
    """

    interior: np.ndarray
    exterior: np.ndarray
    coverage: dict[str, float]  # split -> share of cell-months inside, never in-sample

    def halfwidth(self, n_times: int, train: np.ndarray) -> np.ndarray:
        """``(time, H, W)`` half-widths: interior between the first and last training month."""
        inside = (np.arange(n_times) >= train.min()) & (np.arange(n_times) <= train.max())
        return np.where(inside[:, None, None], self.interior[None], self.exterior[None])


def _cell_rmse(pred: np.ndarray, ref: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per-cell RMSE over months ``idx`` (the median where a cell has none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = np.sqrt(np.nanmean((pred[idx] - ref[idx]) ** 2, axis=0))
    return np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nanmedian(sigma))


def fill_intervals(
    pred: np.ndarray,
    grace: np.ndarray,
    splits: Splits,
    reference: np.ndarray | None = None,
) -> FillIntervals:
    """Split-conformal intervals for filled months, with honestly measured coverage.

    The per-cell scale is the training RMSE; the factor is the split-conformal quantile of
    ``|error| / scale`` on calibration months, which are never early-stopping months. Each
    reported coverage uses a factor fitted without the months it scores: hidden single
    months are calibrated on the validation block, the hidden block on the validation
    block and the single months, the first test months on the last ones and vice versa;
    hindcasts (scored against ``reference``, the twin's truth) on all test months.

    Parameters
    ----------
    pred, grace
        ``(time, H, W)`` reconstruction and GRACE (NaN where missing), mm.
    """
    sigma = _cell_rmse(pred, grace, splits.train)

    def halfwidth(idx: np.ndarray) -> np.ndarray:
        return calibrated_halfwidth(pred[idx] - grace[idx], sigma[None], sigma)

    def covered(idx: np.ndarray, half: np.ndarray, target: np.ndarray) -> tuple[int, int]:
        err = np.abs(pred[idx] - target[idx])
        ok = np.isfinite(err)
        return int((err <= half[None])[ok].sum()), int(ok.sum())

    coverage: dict[str, float] = {}

    def record(split: str, *parts: tuple[int, int]) -> None:
        inside, n = sum(p[0] for p in parts), sum(p[1] for p in parts)
        if n:
            coverage[split] = inside / n

    single, block, vblock = splits.hidden_single, splits.hidden_block, splits.validation_block
    record("hidden_single", covered(single, halfwidth(vblock), grace))
    record("hidden_block", covered(block, halfwidth(np.union1d(vblock, single)), grace))
    early = splits.test[splits.test < splits.train.min()]
    late = splits.test[splits.test > splits.train.max()]
    record(
        "test",
        *[covered(a, halfwidth(b), grace) for a, b in ((early, late), (late, early)) if len(b)],
    )
    exterior = halfwidth(splits.test)
    if reference is not None and len(splits.hindcast):
        record("hindcast", covered(splits.hindcast, exterior, reference))
    interior = halfwidth(splits.gaps())
    return FillIntervals(interior=interior, exterior=exterior, coverage=coverage)
