"""The twin's monthly bucket model: snow, canopy, soil, surface water and groundwater.

One function runs both the truth (every store, with pumping) and the land-surface model
(no surface water, no groundwater, no pumping). States broadcast: the same code runs a
``(lat, lon)`` grid or a ``(parameter set, land cell)`` batch, which is how the LSM's error
parameters are calibrated quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: outputs of :func:`simulate`: stores at the end of each month, then the month's fluxes
OUTPUTS = ("snow", "canopy", "sm", "sw", "gw", "et", "runoff", "recharge")


@dataclass
class BucketParams:
    """Parameters of the bucket model (mm, per month, or 1).

    ``smax`` and ``cmax`` are soil and canopy capacities (arrays that broadcast against
    the state); ``melt`` the degree-month melt factor (mm/°C/month); ``f_sw`` the share of
    quick flow routed through surface water, ``k_sw`` and ``k_gw`` the surface-water and
    groundwater outflow rates (1/month); ``k_rech`` the drainage rate below the soil;
    ``rech_share`` the share of that drainage kept in the groundwater (slow) store, the
    rest leaving as runoff; ``pet_scale`` scales potential ET.
    """

    smax: np.ndarray
    cmax: np.ndarray
    melt: float
    f_sw: float
    k_sw: float
    k_gw: float
    k_rech: float
    rech_share: float | np.ndarray = 1.0
    pet_scale: float | np.ndarray = 1.0
    gw_ref: float = 2000.0
    snow_cap: float = 400.0
    keep: tuple[str, ...] = field(default=OUTPUTS)


def _drivers(p: np.ndarray, tc: np.ndarray, prm: BucketParams) -> dict[str, np.ndarray]:
    """Everything of a block of months that depends on the forcing alone, vectorised."""
    pet = prm.pet_scale * np.maximum(0.0, 4.2 * (tc + 6.0))
    frac_snow = np.clip((1.0 - tc) / 3.0, 0.0, 1.0)
    return {
        "pet": pet,
        "snowfall": p * frac_snow,
        "rain": p * (1.0 - frac_snow),
        "melt_potential": prm.melt * np.maximum(tc, 0.0),
        "can_frac": np.minimum(0.85, pet / (pet + 15.0)),
    }


def _step(state: dict, f: dict, pump, prm: BucketParams, smax) -> dict:
    """One month: updates ``state`` in place and returns the month's fluxes (mm/month).

    ``f`` holds the month's :func:`_drivers`.
    """
    pumped = 0.0
    if pump is not None:  # groundwater abstraction for irrigation, applied to the soil
        pumped = np.minimum(pump, np.maximum(state["gw"], 0.0))
        state["gw"] = state["gw"] - pumped
    snow = state["snow"] + f["snowfall"]
    melt = np.minimum(snow, f["melt_potential"])
    snow = snow - melt
    # firn/glacier flow: snow above a cap leaves as runoff (keeps the plateau bounded)
    glacier = np.maximum(snow - prm.snow_cap, 0.0) * 0.2
    state["snow"] = snow - glacier
    intercept = np.minimum(f["rain"], prm.cmax - state["canopy"])
    canopy = state["canopy"] + intercept
    e_can = canopy * f["can_frac"]
    state["canopy"] = canopy - e_can
    water_in = f["rain"] - intercept + melt + pumped
    sm = state["sm"]
    wet = np.clip(sm / smax, 0.0, 1.0)
    quick = water_in * wet * wet
    sm = sm + water_in - quick
    e_soil = np.minimum(sm, (f["pet"] - e_can) * np.clip(sm / (0.75 * smax), 0.0, 1.0))
    sm = sm - e_soil
    recharge = prm.k_rech * sm * np.clip(sm / smax, 0.0, 1.0) ** 3
    sm = sm - recharge
    over = np.maximum(sm - smax, 0.0)
    state["sm"] = sm - over
    quick = quick + over
    # surface water (rivers, lakes, wetlands) and groundwater as linear reservoirs
    sw = state["sw"] + prm.f_sw * quick
    sw_out = prm.k_sw * sw
    state["sw"] = sw - sw_out
    kept = prm.rech_share * recharge
    gw = state["gw"] + kept
    baseflow = prm.k_gw * np.maximum(gw - prm.gw_ref, 0.0)
    state["gw"] = gw - baseflow
    runoff = (1.0 - prm.f_sw) * quick + sw_out + baseflow + glacier + (recharge - kept)
    return {"et": e_can + e_soil, "runoff": runoff, "recharge": kept}


#: months whose forcing-only terms are computed at once (bounds the memory they take)
_BLOCK = 60


def with_spinup(a: np.ndarray, n_spinup: int) -> np.ndarray:
    """``a`` with its first ``n_spinup`` months repeated in front (spin-up of the stores)."""
    return np.concatenate([a[:n_spinup], a])


def simulate(
    precip: np.ndarray,
    tair_c: np.ndarray,
    pump: np.ndarray | None,
    prm: BucketParams,
    n_spinup: int,
    capacity: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Run the bucket model month by month; the first ``n_spinup`` months are not returned.

    Parameters
    ----------
    precip, tair_c
        ``(time, ...)`` precipitation (mm/month) and air temperature (°C).
    pump
        ``(time, ...)`` groundwater abstraction (mm/month), or ``None`` for none.
    prm
        Parameters; arrays broadcast against ``precip.shape[1:]``.
    capacity
        Optional ``(time, ...)`` multiplier of the soil capacity per month (a drifting
        parameter), broadcast like ``precip``.

    Returns
    -------
    dict
        ``(time − n_spinup, ...)`` arrays for the names in ``prm.keep``: stores (mm) at the
        end of each month and the month's fluxes (mm/month). Mass closes: the change of
        ``snow + canopy + sm + sw + gw`` equals ``precip − et − runoff`` every month.
    """
    nt = precip.shape[0]
    shape = np.broadcast_shapes(precip.shape[1:], np.shape(prm.smax))
    smax0 = prm.smax * (1.0 if capacity is None else capacity[0])
    state = {
        "snow": np.zeros(shape),
        "canopy": np.zeros(shape),
        "sm": np.broadcast_to(0.5 * smax0, shape).copy(),
        "sw": np.zeros(shape),
        "gw": np.full(shape, prm.gw_ref + 200.0 if prm.gw_ref else 0.0),
    }
    out = {k: np.empty((nt - n_spinup, *shape)) for k in prm.keep}
    for t in range(nt):
        if t % _BLOCK == 0:
            block = _drivers(precip[t : t + _BLOCK], tair_c[t : t + _BLOCK], prm)
        f = {k: v[t % _BLOCK] for k, v in block.items()}
        smax = prm.smax if capacity is None else prm.smax * capacity[t]
        fluxes = _step(state, f, None if pump is None else pump[t], prm, smax)
        if t >= n_spinup:
            i = t - n_spinup
            for k in prm.keep:
                out[k][i] = state[k] if k in state else fluxes[k]
    return out
