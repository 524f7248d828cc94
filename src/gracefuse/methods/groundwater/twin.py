"""The groundwater twin: what an analyst of real products has, made from the twin's world.

GRACE-like TWSA (smoothed truth plus correlated noise, the real missing months) with its
stated 1σ, and an ensemble of LSMs (soil moisture with its deep layer, snow, canopy) that
stand for GLDAS's Noah, CLSM and VIC: each member runs the twin's calibrated LSM with its
own soil capacity, ET scale and drainage (log-spread ``parameter_spread``) and a forcing
error that shares ``shared_forcing`` of its correlation with the others' (the GLDAS models
share their forcing). None of them holds surface water or groundwater. True groundwater
(and the depletion region) are kept for scoring only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from gracefuse.data.grid import region_mean
from gracefuse.data.twin.build import render, solved_lsm_errors
from gracefuse.data.twin.config import TwinConfig
from gracefuse.data.twin.forcing import make_forcing
from gracefuse.data.twin.grace import baseline_anomaly
from gracefuse.data.twin.lsm import run_lsm
from gracefuse.methods.groundwater.config import GroundwaterTwinSource
from gracefuse.methods.groundwater.inputs import GroundwaterInputs

#: the first GRACE month
GRACE_START = "2002-04"
#: the LSM stores each member gives (the deep layer is summed into soil moisture)
STORES = {"sm": ("sm", "gw"), "swe": ("snow",), "canopy": ("canopy",)}


def _members(src: GroundwaterTwinSource, cfg: TwinConfig, world) -> list[dict]:
    """Each member's stores ``(time, lat, lon)`` (mm, absolute) and its precipitation."""
    errors = solved_lsm_errors(cfg, world)
    f, shape = world.forcing, world.mask.shape
    rng = np.random.default_rng([src.seed, 53])
    flat = lambda a: a.reshape(a.shape[0], -1) if a.ndim == 3 else a.reshape(-1)  # noqa: E731
    out = []
    for k in range(src.lsm_members):
        own = make_forcing(src.seed + 1000 * (k + 1), cfg.box, world.lat, world.lon,
                           world.months, cfg.depletion_mm_per_year).lsm_noise  # fmt: skip
        rho = src.shared_forcing
        noise = rho * f.lsm_noise + np.sqrt(1 - rho**2) * own
        z = rng.standard_normal(3) * src.parameter_spread
        e = errors.model_copy(update={"capacity": errors.capacity * np.exp(z[0]),
                                      "pet": errors.pet * np.exp(0.5 * z[1]),
                                      "drainage": errors.drainage * np.exp(z[2])})  # fmt: skip
        run = run_lsm(flat(f.precip), flat(f.tair), flat(f.lsm_bias), flat(noise),
                      flat(world.smax), flat(world.cmax), world.months, world.n_spinup,
                      [e], cfg.recharge_coef)  # fmt: skip
        out.append({k2: run[k2][:, 0].reshape(-1, *shape) for k2 in run})
    return out


def load_groundwater_twin(src: GroundwaterTwinSource) -> GroundwaterInputs:
    """Render the world of ``src.seed`` and observe it with GRACE and an LSM ensemble.

    Components are the ensemble-mean anomalies; their errors are the ensemble's spread
    (standard deviation over members; with one member, the recipe's stated fraction)."""
    cfg = TwinConfig(size=src.size, seed=src.seed, make_fine=False, n_wells=0)
    world = render(cfg, src.size)
    months, m = world.months, world.mask
    coords = {"time": months, "lat": world.lat, "lon": world.lon}
    dims = ("time", "lat", "lon")

    def grid(a: np.ndarray, name: str) -> xr.DataArray:
        return xr.DataArray(np.where(m[None], a, np.nan), coords=coords, dims=dims,
                            name=name, attrs={"units": "mm"})  # fmt: skip

    members = _members(src, cfg, world)
    mask = xr.DataArray(m, coords={"lat": world.lat, "lon": world.lon}, dims=("lat", "lon"))
    comps, errs, area = {}, {}, {}
    for name, keys in STORES.items():
        each = np.stack([baseline_anomaly(np.where(m[None], sum(mb[k] for k in keys), np.nan),
                                          months) for mb in members])  # fmt: skip
        comps[name] = grid(each.mean(0), name)
        if len(members) > 1:
            errs[name] = grid(each.std(0, ddof=1), f"{name}_spread")
            means = [region_mean(grid(e, name), mask) for e in each]
            area[name] = xr.concat(means, "member").std("member", ddof=1)
    precip = np.mean([mb["lsm_precip"] for mb in members], axis=0)
    swe = comps["swe"].values
    melt = np.clip(-np.diff(swe, axis=0, prepend=swe[:1]), 0.0, None)
    drivers = {"precipitation": grid(precip, "precipitation"),
               "soil_moisture": comps["sm"], "snowmelt": grid(melt, "snowmelt")}  # fmt: skip
    gw = baseline_anomaly(np.where(m[None], world.truth["gw"], np.nan), months)
    truth = {"gwsa": grid(gw, "gwsa_true"),
             "depletion_region": xr.DataArray(m & (world.forcing.region > 0.5),
                                              coords={"lat": world.lat, "lon": world.lon},
                                              dims=("lat", "lon"))}  # fmt: skip
    note = (f"groundwater twin seed {src.seed}, {src.size}×{src.size} cells, "
            f"{src.lsm_members} LSMs (forcing-error correlation {src.shared_forcing}, "
            f"parameter log-spread {src.parameter_spread}); GRACE smoothed to "
            f"{cfg.grace_fwhm_deg}° with its stated 1σ")  # fmt: skip
    inputs = GroundwaterInputs(
        source=f"groundwater twin seed {src.seed}", space="grid",
        twsa=grid(world.grace["grace"], "twsa"),
        twsa_error=grid(world.grace["uncertainty"], "twsa_uncertainty"),
        components=comps, component_errors=errs, area_errors=area, drivers=drivers, truth=truth,
        mask=mask, notes=[note],
    )  # fmt: skip
    return keep_months(inputs, slice(GRACE_START, None))


def keep_months(inputs: GroundwaterInputs, months: slice) -> GroundwaterInputs:
    """``inputs`` with every series cut to ``months`` (the twin runs from 1979 for its
    spin-up; GRACE starts in 2002-04)."""
    cut = lambda da: da.sel(time=months) if "time" in da.dims else da  # noqa: E731
    inputs.twsa, inputs.twsa_error = cut(inputs.twsa), cut(inputs.twsa_error)
    for d in (inputs.components, inputs.component_errors, inputs.area_errors, inputs.drivers,
              inputs.truth):  # fmt: skip
        for k in d:
            d[k] = cut(d[k])
    return inputs
