"""The twin's GRACE: the true storage anomaly smoothed like GRACE, plus correlated noise,
with the real missing-month pattern and the GRACE/GRACE-FO gap."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from gracefuse.data.anomalies import GRACE_BASELINE
from gracefuse.data.grace import GRACE_MISSING_MONTHS
from gracefuse.data.grid import Box, smooth_over_land
from gracefuse.data.twin.geography import bumps, elevation_km, month_rng


def grace_available(times) -> np.ndarray:
    """True for months with a GRACE/GRACE-FO solution (before 2002-04: False)."""
    idx = pd.DatetimeIndex(times)
    missing = set(GRACE_MISSING_MONTHS)
    return np.array(
        [t >= pd.Timestamp("2002-04") and f"{t:%Y-%m}" not in missing for t in idx], dtype=bool
    )


def baseline_anomaly(a: np.ndarray, months: pd.DatetimeIndex) -> np.ndarray:
    """``(time, ...)`` minus each cell's mean over the GRACE baseline months (NaN-aware)."""
    start, end = (pd.Timestamp(m) for m in GRACE_BASELINE)
    inside = (months >= start) & (months <= end)
    with warnings.catch_warnings():  # ocean cells: all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return a - np.nanmean(a[inside], axis=0)


def observe_grace(
    twsa_true: np.ndarray,
    mask: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    months: pd.DatetimeIndex,
    box: Box,
    seed: int,
    fwhm_deg: float,
    noise_mm: float,
) -> dict[str, np.ndarray]:
    """GRACE as the twin sees it.

    Parameters
    ----------
    twsa_true
        ``(time, lat, lon)`` true storage anomaly (mm), NaN over the ocean.
    fwhm_deg, noise_mm
        Gaussian smoothing (full width at half maximum, degrees) and the typical noise
        (1 σ, mm); the noise grows with elevation and latitude and is spatially correlated
        (70 %) with a white part (30 %).

    Returns
    -------
    dict
        ``clean`` (smoothed truth, every month), ``grace`` (clean + noise, NaN in missing
        months) and ``uncertainty`` (1 σ, NaN in missing months), all ``(time, lat, lon)``
        mm anomalies relative to the GRACE baseline.
    """
    res = (box.north - box.south) / len(lat)
    smooth = smooth_over_land(np.nan_to_num(twsa_true), mask, fwhm_deg / 2.3548 / res)
    y, x = np.meshgrid(lat, lon, indexing="ij")
    unc = noise_mm * (0.8 + 0.5 * elevation_km(y, x) / 4.6 + 0.15 * (y - 8.0) / 40.0)
    noise = np.empty_like(smooth)
    for i, m in enumerate(months):
        r = month_rng(seed, 5, m)
        noise[i] = unc * (0.9 * bumps(r, lat, lon, box, 14, (1.5, 4.0)))
        noise[i] += unc * 0.3 * r.normal(size=mask.shape)
    available = grace_available(months)
    grace = smooth + noise
    grace[~available] = np.nan
    uncertainty = np.where(available[:, None, None] & mask[None], unc[None], np.nan)
    return {
        "clean": baseline_anomaly(smooth, months),
        "grace": baseline_anomaly(grace, months),
        "uncertainty": uncertainty,
    }
