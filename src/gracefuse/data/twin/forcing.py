"""The twin's forcing: monsoon precipitation, seasonal temperature, irrigation pumping.

Also the raw material of the LSM's forcing errors (a spatial bias pattern and unit
monthly error fields), which :mod:`gracefuse.data.twin.lsm` scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gracefuse.data.twin.geography import bumps, elevation_km, month_rng

#: real Indian monsoon droughts: weaker monsoon in these years
DROUGHT_YEARS = {1979: 0.8, 1987: 0.8, 2002: 0.8, 2009: 0.78, 2014: 0.88, 2015: 0.86}
#: share of annual precipitation per calendar month (Indian summer monsoon)
MONSOON = np.array([0.02, 0.02, 0.03, 0.03, 0.05, 0.13, 0.24, 0.22, 0.13, 0.07, 0.03, 0.03])
#: weight of the region-wide (8–20°) part of the LSM forcing error beside local storms (2–6°):
#: gridded products err little on regional monthly totals
REGIONAL_SHARE = 0.7
#: bound of the unit LSM forcing-error fields (their tails are heavy where bumps overlap)
NOISE_BOUND = 2.5
WINTER = np.array([0.13, 0.14, 0.14, 0.11, 0.07, 0.04, 0.04, 0.04, 0.05, 0.06, 0.08, 0.10])


@dataclass
class Forcing:
    """Monthly fields ``(time, lat, lon)`` and static fields ``(lat, lon)`` of one world.

    Attributes
    ----------
    precip
        True precipitation, mm/month.
    tair
        Air temperature, °C.
    pump_shape
        Irrigation pumping before it is scaled by the cells' natural recharge, mm/month.
    region
        Weight of the irrigated depletion region (0..1).
    annual
        Mean annual precipitation, mm/year.
    lsm_bias
        The LSM forcing's spatial precipitation bias pattern (zero mean, unit scale).
    lsm_noise
        The LSM forcing's monthly error fields (log space, unit scale; mostly local storms
        of 2–6°, with a smaller region-wide part of 8–20°; bounded at
        ±:data:`NOISE_BOUND` so that no month rains more than a few times its truth).
    """

    months: pd.DatetimeIndex
    precip: np.ndarray
    tair: np.ndarray
    pump_shape: np.ndarray
    region: np.ndarray
    annual: np.ndarray
    lsm_bias: np.ndarray
    lsm_noise: np.ndarray


def _year_factors(seed, years, lat, lon, box) -> dict[int, np.ndarray]:
    """Monsoon strength per year: real droughts, a random regional factor and a pattern."""
    out = {}
    for yr in years:
        r = np.random.default_rng([seed, 1, yr])
        field = bumps(r, lat, lon, box, 10, (4.0, 10.0))
        strength = DROUGHT_YEARS.get(yr, 1.0) * (1.0 + 0.08 * r.normal())
        out[yr] = np.clip(strength * (1.0 + 0.12 * field), 0.4, 1.8)
    return out


def make_forcing(
    seed: int,
    box,
    lat: np.ndarray,
    lon: np.ndarray,
    months: pd.DatetimeIndex,
    depletion_mm_per_year: float,
) -> Forcing:
    """Draw the forcing of the world ``seed`` on a grid, for ``months``.

    Precipitation is an east-wet/west-dry monsoon with winter rain in the north-west,
    modulated by a static pattern, a per-year monsoon strength (the real Indian droughts)
    and monthly weather; temperature follows latitude, elevation and season; pumping ramps
    up from 1975 to 2000 in a north-western region, concentrated in the dry season.
    """
    y, x = np.meshgrid(lat, lon, indexing="ij")
    rng = np.random.default_rng([seed, 0])
    pattern = bumps(rng, lat, lon, box, 24, (3.0, 8.0))
    east = np.clip(((x - 64.0) / 30.0) * 0.75 + ((30.0 - y) / 22.0) * 0.35, 0.0, 1.3)
    annual = (200.0 + 1900.0 * east) * np.clip(1.0 + 0.2 * pattern, 0.5, 1.6)
    annual = np.where(y > 36.0, annual * 0.45, annual)
    winter_share = 1.0 / (1.0 + np.exp(-(y - 31.0) / 2.0)) * (x < 80.0)
    t_mean = 27.0 - 0.42 * np.clip(y - 8.0, 0.0, None) - 4.5 * elevation_km(y, x)
    t_amp = 2.0 + 0.38 * np.clip(y - 8.0, 0.0, None)
    lsm_bias = bumps(rng, lat, lon, box, 16, (4.0, 10.0))
    region = np.exp(-(((y - 29.5) / 3.2) ** 2) - ((x - 75.5) / 3.5) ** 2)

    shape = (len(months), *y.shape)
    precip, tair, pump, noise = (np.empty(shape) for _ in range(4))
    factor = _year_factors(seed, sorted(set(months.year)), lat, lon, box)
    for i, m in enumerate(months):
        r = month_rng(seed, 2, m)
        share = (1 - winter_share) * MONSOON[m.month - 1] + winter_share * WINTER[m.month - 1]
        weather = np.exp(0.35 * bumps(r, lat, lon, box, 12, (2.0, 6.0)) - 0.06)
        precip[i] = annual * share * factor[m.year] * weather
        phase = np.cos(2 * np.pi * (m.month - 6.0) / 12.0)
        tair[i] = t_mean + t_amp * phase + 1.2 * bumps(r, lat, lon, box, 6, (5.0, 12.0))
        rn = month_rng(seed, 3, m)  # local storms and region-wide monthly errors
        local = bumps(rn, lat, lon, box, 10, (2.0, 6.0))
        wide = bumps(rn, lat, lon, box, 6, (8.0, 20.0))
        noise[i] = (local + REGIONAL_SHARE * wide) / np.sqrt(1.0 + REGIONAL_SHARE**2)
        ramp = np.clip((m.year + (m.month - 1) / 12 - 1975.0) / 25.0, 0.0, 1.0)
        season = 1.6 if m.month in (11, 12, 1, 2, 3, 4, 5) else 0.16
        pump[i] = depletion_mm_per_year / 12.0 * ramp * season * region
    np.clip(noise, -NOISE_BOUND, NOISE_BOUND, out=noise)
    return Forcing(months, precip, tair, pump, region, annual, lsm_bias, noise)
