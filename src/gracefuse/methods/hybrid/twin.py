"""The hybrid twin: the synthetic world's truth as a hybrid modeller sees it.

Forcing: precipitation, air temperature and a shortwave-radiation proxy (top-of-atmosphere
insolation dimmed by rain), per cell. Observed: GRACE-like TWS (smoothed, noisy, with the
real missing months), ET, runoff and SWE with multiplicative errors (a static bias per
cell and monthly noise). Kept for scoring only: true groundwater, soil moisture, snow and
storage. Each land cell is one sequence; ``time_step = "day"`` spreads each month over its
days (precipitation on random wet days), the targets staying monthly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gracefuse.data.grid import cell_area
from gracefuse.data.twin.build import render
from gracefuse.data.twin.config import TwinConfig
from gracefuse.methods.hybrid.config import HybridTwinSource
from gracefuse.methods.hybrid.series import HybridData, climate_statics


def radiation(lat: np.ndarray, months: pd.DatetimeIndex, precip: np.ndarray) -> np.ndarray:
    """``(time, cells)`` shortwave proxy (W m⁻²): daily-mean top-of-atmosphere insolation
    at mid-month, times a clearness that falls with the month's rain."""
    doy = np.asarray(months.day_of_year) + 14
    decl = 0.409 * np.sin(2 * np.pi * (doy - 81) / 365.0)
    phi = np.radians(lat)[None, :]
    d = decl[:, None]
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(d), -1.0, 1.0))
    toa = 1367.0 / np.pi * (ws * np.sin(phi) * np.sin(d) + np.cos(phi) * np.cos(d) * np.sin(ws))
    return toa * (0.75 - 0.35 * precip / (precip + 150.0))


def _observe(truth: np.ndarray, error: float, rng: np.random.Generator) -> np.ndarray:
    """``truth`` with a static multiplicative bias per cell and monthly noise (≥ 0)."""
    bias = np.exp(0.5 * error * rng.standard_normal(truth.shape[1]))
    noise = 1.0 + error * rng.standard_normal(truth.shape)
    return np.maximum(truth * bias[None] * noise, 0.0)


def bioclimatic_groups(tair: np.ndarray, precip: np.ndarray) -> np.ndarray:
    """Groups of cells by climate: ``cold`` (mean air temperature < 5 °C), else by the
    ratio of potential ET (the twin's temperature form) to precipitation: ``arid`` (> 2),
    ``subhumid`` (> 1), ``humid``."""
    pet = np.maximum(0.0, 4.2 * (tair + 6.0)).mean(0)
    ratio = pet / np.maximum(precip.mean(0), 1e-6)
    groups = np.where(ratio > 2, "arid", np.where(ratio > 1, "subhumid", "humid"))
    return np.where(tair.mean(0) < 5.0, "cold", groups)


def _daily(months: pd.DatetimeIndex, forcing: np.ndarray, seed: int):
    """Monthly ``(time, cells, F)`` forcing (precipitation first) spread over days:
    precipitation on random wet days (its monthly total kept), the rest repeated."""
    days = pd.date_range(months[0], months[-1] + pd.offsets.MonthEnd(0), freq="D")
    step_month = (days.year - months[0].year) * 12 + days.month - months[0].month
    rng = np.random.default_rng([seed, 31])
    out = forcing[step_month].copy()
    weights = rng.exponential(size=out.shape[:2]) * (rng.random(out.shape[:2]) < 0.4) + 1e-3
    sums = np.zeros((len(months), out.shape[1]))
    np.add.at(sums, step_month, weights)
    out[..., 0] = forcing[step_month, :, 0] * weights / np.maximum(sums[step_month], 1e-12)
    return days, np.asarray(step_month), out


def load_hybrid_twin(src: HybridTwinSource) -> HybridData:
    """Render the world of ``src.seed`` on a ``src.size`` grid and observe it."""
    cfg = TwinConfig(size=src.size, seed=src.seed, start="2002-04", end=src.end,
                     make_fine=False, n_wells=0)  # fmt: skip
    world = render(cfg, src.size)
    months = world.months[world.months <= pd.Timestamp(src.end)]
    nm = len(months)
    m = world.mask
    rows, cols = np.nonzero(m)
    lat2, lon2 = np.meshgrid(world.lat, world.lon, indexing="ij")
    lat, lon = lat2[m], lon2[m]

    def cells(a: np.ndarray) -> np.ndarray:
        return a[:nm][:, m]

    precip, tair = cells(world.forcing.precip), cells(world.forcing.tair)
    rad = radiation(lat, months, precip)
    tr = {k: cells(v) for k, v in world.truth.items()}
    rng = np.random.default_rng([src.seed, 29])
    year = np.asarray(months.year)
    et_obs = _observe(tr["et"], src.et_error, rng)
    et_obs[(year < src.et_years[0]) | (year > src.et_years[1])] = np.nan
    targets = {
        "twsa": cells(world.grace["grace"]),
        "et": et_obs,
        "q": _observe(tr["runoff"], src.q_error, rng),
        "swe": _observe(tr["snow"], src.swe_error, rng),
    }
    truth = {"gw": tr["gw"], "cwd": tr["sm"], "swe": tr["snow"], "twsa": cells(world.twsa_true)}
    forcing = np.stack([precip, tair, rad], axis=2)
    steps, step_month = months, np.arange(nm)
    if src.time_step == "day":
        steps, step_month, forcing = _daily(months, forcing, src.seed)
    stat = climate_statics(precip.T, {}, months)
    stat["mean_tair"] = tair.mean(0)
    stat["abs_latitude"] = np.abs(lat)
    area = cell_area(world.lat, world.lon).values[m]
    return HybridData(
        ids=np.array([f"{a:.2f},{b:.2f}" for a, b in zip(lat, lon, strict=True)]),
        steps=pd.DatetimeIndex(steps), months=months, step_month=step_month,
        forcing=forcing.transpose(1, 0, 2), forcing_names=["P", "T", "SW"],
        precip=forcing[..., 0].T, statics=np.column_stack(list(stat.values())),
        static_names=list(stat), targets={k: v.T for k, v in targets.items()},
        lat=lat, lon=lon, region=bioclimatic_groups(tair, precip), area=area,
        truth={k: v.T for k, v in truth.items()},
        grid=(world.lat, world.lon, rows, cols), source=f"hybrid twin seed {src.seed}",
    )  # fmt: skip
