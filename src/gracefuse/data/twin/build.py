"""Assemble the synthetic twin: forcing → truth → GRACE, then the calibrated LSM."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import monthly_index
from gracefuse.data.grid import cell_area, regular_grid
from gracefuse.data.twin.bucket import BucketParams, simulate, with_spinup
from gracefuse.data.twin.calibrate import CALIBRATION_SIZE, CalibrationWorld, calibrate_lsm
from gracefuse.data.twin.config import SIM_START, SPINUP_YEARS, TwinConfig
from gracefuse.data.twin.dataset import assemble
from gracefuse.data.twin.forcing import Forcing, make_forcing
from gracefuse.data.twin.geography import bumps, land_mask
from gracefuse.data.twin.grace import baseline_anomaly, grace_available, observe_grace  # noqa: F401
from gracefuse.data.twin.lsm import LSMErrors, run_lsm

TRUTH_STORES = ("snow", "canopy", "sm", "sw", "gw")


@dataclass
class Rendering:
    """One world on one grid: forcing, true stores and fluxes, GRACE (numpy, mm)."""

    lat: np.ndarray
    lon: np.ndarray
    mask: np.ndarray
    forcing: Forcing
    smax: np.ndarray
    cmax: np.ndarray
    truth: dict[str, np.ndarray]
    twsa_true: np.ndarray
    grace: dict[str, np.ndarray]
    n_spinup: int

    @property
    def months(self) -> pd.DatetimeIndex:
        return self.forcing.months


def _truth(cfg: TwinConfig, f: Forcing, smax, cmax, n_spin: int) -> dict[str, np.ndarray]:
    """Run the true bucket model. Pumping is the cell's natural recharge (a no-pumping pass
    over the spin-up decade) plus the net depletion wanted, so that abstraction outpaces
    recharge where irrigated. The spin-up repeats the first decade, without pumping."""
    prm = BucketParams(
        smax=smax,
        cmax=cmax,
        melt=25.0,
        f_sw=cfg.surface_water_share,
        k_sw=0.35,
        k_gw=0.035,
        k_rech=cfg.recharge_coef,
    )
    p, t = f.precip, f.tair
    natural = simulate(p[:n_spin], t[:n_spin], None, prm, 0)
    mean_recharge = natural["recharge"].mean(axis=0) * 12.0
    pump = f.pump_shape * (1.0 + mean_recharge / max(cfg.depletion_mm_per_year, 1e-9))
    pump = np.concatenate([np.zeros_like(pump[:n_spin]), pump])

    return simulate(with_spinup(p, n_spin), with_spinup(t, n_spin), pump, prm, n_spin)


def render(cfg: TwinConfig, size: int) -> Rendering:
    """The world of ``cfg`` (its seed) on a ``size × size`` grid, from 1979 on."""
    grid = regular_grid(cfg.box, size)
    lat, lon = grid["lat"].values, grid["lon"].values
    mask = land_mask(lat, lon)
    sim_end = max(pd.Timestamp(cfg.end), pd.Timestamp("2017-12"))
    months = monthly_index(SIM_START, f"{sim_end:%Y-%m}")
    n_spin = SPINUP_YEARS * 12
    f = make_forcing(cfg.seed, cfg.box, lat, lon, months, cfg.depletion_mm_per_year)
    soil_field = bumps(np.random.default_rng([cfg.seed, 4]), lat, lon, cfg.box, 20, (2.0, 6.0))
    smax = np.clip(260.0 + 90.0 * soil_field + 0.05 * f.annual, 120.0, 520.0)
    cmax = 0.3 + 1.7 * np.clip(f.annual / 2000.0, 0.0, 1.0)
    truth = _truth(cfg, f, smax, cmax, n_spin)
    tws = sum(truth[k] for k in TRUTH_STORES)
    twsa = baseline_anomaly(np.where(mask[None], tws, np.nan), months)
    grace = observe_grace(
        twsa, mask, lat, lon, months, cfg.box, cfg.seed, cfg.grace_fwhm_deg, cfg.grace_noise_mm
    )
    return Rendering(lat, lon, mask, f, smax, cmax, truth, twsa, grace, n_spin)


def calibration_world(cfg: TwinConfig, world: Rendering) -> CalibrationWorld:
    """The land cells of a rendering, as :func:`calibrate_lsm` needs them."""
    m = world.mask
    w = cell_area(world.lat, world.lon).values[m]
    g = world.grace["grace"][:, m]
    ok = np.isfinite(g)
    grace = np.where(ok.any(1), np.nansum(g * w, axis=1) / (ok * w).sum(1).clip(1e-12), np.nan)
    return CalibrationWorld(
        months=world.months,
        precip=world.forcing.precip[:, m],
        tair=world.forcing.tair[:, m],
        lsm_noise=world.forcing.lsm_noise[:, m],
        lsm_bias=world.forcing.lsm_bias[m],
        smax=world.smax[m],
        cmax=world.cmax[m],
        weights=w,
        grace=grace,
        n_spinup=world.n_spinup,
        recharge_coef=cfg.recharge_coef,
    )


def solve_lsm_errors(cfg: TwinConfig, world: Rendering | None = None) -> LSMErrors:
    """The LSM errors of this world, solved on its 32×32 rendering (the same at any size)."""
    if world is None or len(world.lat) != CALIBRATION_SIZE:
        world = render(cfg, CALIBRATION_SIZE)
    errors, _ = calibrate_lsm(calibration_world(cfg, world), cfg.lsm_targets)
    return errors


#: settings that the LSM solve does not read (it renders its own 32×32 grid from 1979)
_NOT_SOLVED_ON = {"size", "start", "end", "fine_factor", "make_fine", "n_wells", "lsm_errors"}
#: how many worlds' solved errors one process keeps (see :func:`solved_lsm_errors`)
MEMO_SIZE = 16
#: this process's solved errors, by :func:`calibration_key` (a memo of a pure function)
_MEMO: OrderedDict[str, LSMErrors] = OrderedDict()


def calibration_key(cfg: TwinConfig) -> str:
    """The settings that :func:`solve_lsm_errors` reads, as JSON: everything in ``cfg`` but
    the grid size, the period's start, the fine grid and the wells; the period's end only
    where it runs past 2017-12 (the rendering runs to the later of the two).

    Examples
    --------
    >>> calibration_key(TwinConfig(size=16)) == calibration_key(TwinConfig(size=64))
    True
    >>> calibration_key(TwinConfig(seed=1)) == calibration_key(TwinConfig(seed=2))
    False
    """
    fields = cfg.model_dump(mode="json", exclude=_NOT_SOLVED_ON)
    fields["sim_end"] = f"{max(pd.Timestamp(cfg.end), pd.Timestamp('2017-12')):%Y-%m}"
    return json.dumps(fields, sort_keys=True)


def solved_lsm_errors(
    cfg: TwinConfig, world: Rendering | None = None, memo: OrderedDict | None = None
) -> LSMErrors:
    """:func:`solve_lsm_errors`, solved once per world and process.

    The solve is a pure function of :func:`calibration_key` (a few seconds to tens of
    seconds); a run that builds the same world at another size or period, or again, reads
    the errors back. ``memo`` is the store (default: this module's, holding the last
    :data:`MEMO_SIZE` worlds); a copy is returned, so callers cannot change it.
    """
    memo = _MEMO if memo is None else memo
    key = calibration_key(cfg)
    if key not in memo:
        memo[key] = solve_lsm_errors(cfg, world)
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
    memo.move_to_end(key)
    return memo[key].model_copy(deep=True)


def _lsm_grid(cfg: TwinConfig, world: Rendering, errors: LSMErrors) -> dict[str, np.ndarray]:
    """Run the calibrated LSM on every cell of the grid: ``(time, lat, lon)`` arrays."""
    f, ny, nx = world.forcing, len(world.lat), len(world.lon)

    def flat(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], -1) if a.ndim == 3 else a.reshape(-1)

    out = run_lsm(
        flat(f.precip),
        flat(f.tair),
        flat(f.lsm_bias),
        flat(f.lsm_noise),
        flat(world.smax),
        flat(world.cmax),
        world.months,
        world.n_spinup,
        [errors],
        cfg.recharge_coef,
    )
    return {k: v[:, 0].reshape(-1, ny, nx) for k, v in out.items()}


def make_twin(
    size: int = 32, seed: int = 0, config: TwinConfig | None = None, **overrides
) -> xr.Dataset:
    """Build the synthetic twin on a ``size × size`` grid.

    Parameters
    ----------
    size, seed
        Grid cells per side and random seed (same seed, same world, at any size).
    config
        Full :class:`TwinConfig`; ``overrides`` replace individual fields.

    Returns
    -------
    xr.Dataset
        dims ``(time, lat, lon)``, storage in mm, fluxes in mm/month (see
        :data:`gracefuse.data.twin.dataset.OBSERVABLE` for what a user of real products
        would have; everything else is truth, for scoring only). The solved LSM errors
        are in ``attrs["twin_config"]``, the skill they reach in ``attrs["lsm_skill"]``.

    Examples
    --------
    >>> twin = make_twin(size=16, seed=1, make_fine=False)
    >>> sorted(twin.sizes.items())
    [('lat', 16), ('lon', 16), ('time', 189)]
    """
    base = config.model_dump() if config is not None else {"size": size, "seed": seed}
    cfg = TwinConfig(**{**base, **overrides})
    world = render(cfg, cfg.size)
    if cfg.lsm_errors is None:
        cfg = cfg.model_copy(update={"lsm_errors": solved_lsm_errors(cfg, world)})
    lsm = _lsm_grid(cfg, world, cfg.lsm_errors)
    return assemble(cfg, world, lsm)


__all__ = [
    "calibration_key",
    "grace_available",
    "make_twin",
    "render",
    "solve_lsm_errors",
    "solved_lsm_errors",
]
