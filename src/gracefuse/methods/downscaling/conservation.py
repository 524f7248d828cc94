"""Fine fields that keep the coarse mass: bilinear spreading of a coarse field, and the
final correction that makes a fine field's area-weighted land mean over each coarse cell
equal the coarse input exactly (its size is what a method got wrong at the coarse scale).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt

from gracefuse.data.grid import block_mean
from gracefuse.methods.downscaling.problem import upsample


def _linear_matrix(n_coarse: int, factor: int) -> np.ndarray:
    """``(n_coarse·factor, n_coarse)`` weights of linear interpolation at the fine centres
    (edge values held beyond the outer coarse centres)."""
    pos = np.clip((np.arange(n_coarse * factor) + 0.5) / factor - 0.5, 0, n_coarse - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_coarse - 1)
    frac = pos - lo
    a = np.zeros((pos.size, n_coarse))
    a[np.arange(pos.size), lo] += 1 - frac
    a[np.arange(pos.size), hi] += frac
    return a


def fill_nearest(coarse: np.ndarray) -> np.ndarray:
    """NaN cells of each ``(…, Y, X)`` field take the value of the nearest finite cell."""
    out = np.array(coarse, dtype=float, copy=True)
    flat = out.reshape(-1, *out.shape[-2:])
    for k, f in enumerate(flat):
        bad = ~np.isfinite(f)
        if bad.all() or not bad.any():
            continue
        idx = distance_transform_edt(bad, return_distances=False, return_indices=True)
        flat[k] = f[tuple(idx)]
    return out


def bilinear(coarse: np.ndarray, factor: int) -> np.ndarray:
    """``(…, Yc, Xc)`` → ``(…, Yc·f, Xc·f)`` bilinear interpolation; NaN cells are filled
    from their nearest neighbour first, so that no land cell is lost at a coast.

    The same weights as :func:`~gracefuse.data.grid.refine_bilinear` (edge values held),
    on bare arrays of any size: a coarse axis of one cell (a residual block) included,
    which interpolation over coordinates cannot take.

    Examples
    --------
    >>> bilinear(np.array([[0.0, 4.0]]), 2).round(2)
    array([[0., 1., 3., 4.],
           [0., 1., 3., 4.]])
    """
    filled = fill_nearest(coarse)
    ay = _linear_matrix(coarse.shape[-2], factor)
    ax = _linear_matrix(coarse.shape[-1], factor)
    return np.einsum("iy,...yx,jx->...ij", ay, np.nan_to_num(filled), ax)


def conserve(fine: np.ndarray, coarse: np.ndarray, weights: np.ndarray,
             factor: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``fine`` corrected so that its block means are ``coarse``, and the correction.

    The coarse residual (``coarse`` minus the block means) is spread bilinearly, then what
    is left of it is added uniformly over each block, so the result is exact to rounding.

    Parameters
    ----------
    fine
        ``(T, Y, X)`` fine field (mm).
    coarse
        ``(T, Y/f, X/f)`` coarse field (mm); NaN blocks are left as they are.
    weights
        ``(Y, X)`` block-mean weights (area on land, 0 elsewhere).

    Examples
    --------
    >>> fine = np.zeros((1, 2, 2)); coarse = np.array([[[3.0]]])
    >>> out, corr = conserve(fine, coarse, np.ones((2, 2)), 2)
    >>> float(block_mean(out, np.ones((2, 2)), 2)[0, 0, 0])
    3.0
    """
    resid = coarse - block_mean(fine, weights, factor)
    spread = bilinear(np.where(np.isfinite(resid), resid, np.nan), factor)
    rest = resid - block_mean(spread, weights, factor)
    correction = spread + upsample(np.nan_to_num(rest), factor)
    correction = np.where(upsample(np.isfinite(resid), factor), correction, 0.0)
    return fine + correction, correction


def mass_error(fine: np.ndarray, coarse: np.ndarray, weights: np.ndarray, factor: int) -> float:
    """Largest ``|block mean − coarse|`` (mm) over blocks and months with both."""
    d = np.abs(block_mean(fine, weights, factor) - coarse)
    return float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")
