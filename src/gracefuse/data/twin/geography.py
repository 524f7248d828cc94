"""The twin's geography: random smooth fields, per-month random streams, land and relief.

Every random field is defined in continuous coordinates (a sum of Gaussian bumps), so the
same seed gives the same world at any grid size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gracefuse.data.grid import Box


def bumps(
    rng: np.random.Generator,
    lat: np.ndarray,
    lon: np.ndarray,
    box: Box,
    n: int,
    width: tuple[float, float],
    lead: tuple[int, ...] = (),
) -> np.ndarray:
    """Sum of ``n`` Gaussian bumps with random centres, widths and signs at ``lat × lon``.

    Separable: each bump is ``exp(-dy²/w²) exp(-dx²/w²)``, so the cost is
    ``n (ny + nx)`` exponentials plus one einsum.

    Parameters
    ----------
    rng
        The random stream (its draws do not depend on the grid).
    lat, lon
        Cell centres in degrees, 1-D.
    box
        The study box; centres are drawn in the box widened by 5° on every side.
    n, width
        Number of bumps and the range of their widths (degrees).
    lead
        Leading shape (independent fields).

    Returns
    -------
    numpy.ndarray
        Shape ``lead + (ny, nx)``, normalised to unit standard deviation over the box for a
        reference bump density.
    """
    shape = (*lead, n)
    cy = rng.uniform(box.south - 5, box.north + 5, shape)
    cx = rng.uniform(box.west - 5, box.east + 5, shape)
    w = rng.uniform(width[0], width[1], shape)
    a = rng.normal(0.0, 1.0, shape)
    gy = np.exp(-(((lat - cy[..., None]) / w[..., None]) ** 2))
    gx = np.exp(-(((lon - cx[..., None]) / w[..., None]) ** 2))
    field = np.einsum("...k,...ky,...kx->...yx", a, gy, gx)
    # expected variance of the sum: n * E[a²] * E[(gy gx)²] over the extended box
    area = (box.north - box.south + 10) * (box.east - box.west + 10)
    wm2 = np.mean(np.square(np.linspace(width[0], width[1], 9)))
    return field / np.sqrt(n * np.pi * wm2 / 2.0 / area)


def month_rng(seed: int, stream: int, month: pd.Timestamp) -> np.random.Generator:
    """The random stream of one month: the same draws whatever the start and end dates."""
    key = (month.year - 1900) * 12 + month.month
    return np.random.default_rng([seed, stream, key])


def land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """An India-like land mask (peninsula, Arabian Sea, Bay of Bengal) on cell centres."""
    y, x = np.meshgrid(lat, lon, indexing="ij")
    north = y >= 25.0
    mid = (y >= 22.0) & (y < 25.0) & (((x >= 67.5) & (x <= 88.5)) | (x >= 91.5))
    west = 77.5 - (y - 8.0) * 0.36
    east = 77.5 + (y - 8.0) * 0.72
    peninsula = (y < 22.0) & (y >= 8.0) & (x >= west) & (x <= east)
    indochina = (y < 22.0) & (y >= 10.0) & (x >= 93.5)
    return north | mid | peninsula | indochina


def elevation_km(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Himalaya and Tibetan plateau, smooth (km), at latitudes ``y`` and longitudes ``x``."""
    plateau = 4.6 / (1 + np.exp(-(y - 29.0) / 0.8)) / (1 + np.exp((y - 38.0) / 1.5))
    plateau *= 1 / (1 + np.exp(-(x - 74.0) / 1.5)) / (1 + np.exp((x - 99.0) / 1.5))
    hindukush = 2.5 * np.exp(-(((y - 35.5) / 2.0) ** 2) - ((x - 70.0) / 4.0) ** 2)
    return plateau + hindukush


def decimal_years(months: pd.DatetimeIndex) -> np.ndarray:
    """Month starts as decimal years (2007-01 → 2007.0)."""
    return (months.year + (months.month - 1) / 12.0).to_numpy(dtype=float)
