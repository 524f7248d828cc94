"""The synthetic twin: a physically consistent world with known truth.

A monthly bucket model (snow, canopy, soil, surface water, groundwater) is driven by
monsoon-like precipitation and seasonal temperature over the India box of Sun et al.
(2019). Its water balance closes to numerical precision: for every cell and month,
``ΔTWS = P − ET − runoff``. Groundwater carries an irrigation-driven depletion trend in a
north-western region (pumped water is applied to the soil and evaporates) and drops in the
real Indian drought years.

From the truth the twin derives

- an "LSM": soil moisture + snow + canopy only, from the same bucket model run with its
  own parameter and forcing errors (no surface water, no groundwater, no pumping);
- a "GRACE": the true TWSA smoothed to ~3° over land, plus spatially correlated noise of
  known size, with the real GRACE missing-month pattern and the GRACE/GRACE-FO gap as NaN;
- wells sampling the fine groundwater with specific-yield scaling, noise and a seasonal
  sampling calendar;
- a fine grid (``fine_factor`` ×) of groundwater whose area-weighted block mean is the
  coarse field, carrying the heterogeneity that downscaling must recover.

Every random field is defined in continuous coordinates (sums of Gaussian bumps) and every
month draws from its own random stream, so the same seed gives the same world at any grid
size and for any start/end dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.ndimage import gaussian_filter

from gracefuse.data.anomalies import GRACE_BASELINE, anomalies, monthly_index
from gracefuse.data.grace import GRACE_MISSING_MONTHS
from gracefuse.data.grid import Box, coarsen_mean, region_mean, regular_grid

#: the simulation always starts here (after spin-up) so that any start date sees one world
SIM_START = "1979-01"
SPINUP_YEARS = 10
#: real Indian monsoon droughts: weaker monsoon in these years
DROUGHT_YEARS = {1979: 0.8, 1987: 0.8, 2002: 0.8, 2009: 0.78, 2014: 0.88, 2015: 0.86}
#: share of annual precipitation per calendar month (Indian summer monsoon)
MONSOON = np.array([0.02, 0.02, 0.03, 0.03, 0.05, 0.13, 0.24, 0.22, 0.13, 0.07, 0.03, 0.03])
WINTER = np.array([0.13, 0.14, 0.14, 0.11, 0.07, 0.04, 0.04, 0.04, 0.05, 0.06, 0.08, 0.10])


class TwinConfig(BaseModel):
    """Parameters of the synthetic twin. Defaults reproduce Sun et al.'s Table 1, row 1."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(32, ge=8, description="cells per side of the coarse grid")
    seed: int = 0
    start: str = "2002-04"
    end: str = "2017-12"
    south: float = 7.75
    north: float = 47.75
    west: float = 60.0
    east: float = 100.0
    fine_factor: int = Field(4, ge=1)
    make_fine: bool = True
    n_wells: int = Field(60, ge=0)
    grace_fwhm_deg: float = Field(3.0, gt=0, description="GRACE smoothing (Gaussian FWHM)")
    grace_noise_mm: float = Field(18.0, ge=0, description="typical GRACE noise (1 sigma)")
    depletion_mm_per_year: float = Field(34.0, ge=0, description="peak pumping, true GW")
    surface_water_share: float = Field(0.096, ge=0, le=1)
    recharge_coef: float = Field(0.312, ge=0)
    lsm_precip_bias: float = 0.097
    lsm_capacity_scale: float = 0.927
    lsm_melt_scale: float = 1.067
    lsm_precip_noise: float = Field(0.443, ge=0, description="monthly LSM forcing error (log)")

    @field_validator("start", "end")
    @classmethod
    def _month(cls, v: str) -> str:
        ts = pd.Timestamp(v)
        if ts < pd.Timestamp(SIM_START):
            raise ValueError(f"the twin starts at {SIM_START} at the earliest")
        return f"{ts:%Y-%m}"

    @property
    def box(self) -> Box:
        return Box(self.south, self.north, self.west, self.east)


# --------------------------------------------------------------------------- random fields
def _bumps(
    rng: np.random.Generator,
    lat: np.ndarray,
    lon: np.ndarray,
    box: Box,
    n: int,
    width: tuple[float, float],
    lead: tuple[int, ...] = (),
) -> np.ndarray:
    """Sum of ``n`` Gaussian bumps with random centres/widths/signs, evaluated at lat × lon.

    Separable: each bump is ``exp(-dy²/w²) exp(-dx²/w²)``, so the cost is
    ``n (ny + nx)`` exponentials plus one einsum. Returns shape ``lead + (ny, nx)``,
    normalised to unit standard deviation over the box for a reference bump density.
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


def _month_rng(seed: int, stream: int, month: pd.Timestamp) -> np.random.Generator:
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


def _elevation_km(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Himalaya and Tibetan plateau, smooth."""
    plateau = 4.6 / (1 + np.exp(-(y - 29.0) / 0.8)) / (1 + np.exp((y - 38.0) / 1.5))
    plateau *= 1 / (1 + np.exp(-(x - 74.0) / 1.5)) / (1 + np.exp((x - 99.0) / 1.5))
    hindukush = 2.5 * np.exp(-(((y - 35.5) / 2.0) ** 2) - ((x - 70.0) / 4.0) ** 2)
    return plateau + hindukush


# --------------------------------------------------------------------------- bucket model
class _Params(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    smax: np.ndarray
    cmax: np.ndarray
    melt: float
    f_sw: float
    k_sw: float
    k_gw: float
    k_rech: float
    pet_scale: float
    gw_ref: float = 2000.0
    snow_cap: float = 400.0


def _simulate(
    precip: np.ndarray,
    tair_c: np.ndarray,
    pump: np.ndarray,
    prm: _Params,
    n_spinup: int,
) -> dict[str, np.ndarray]:
    """Run the monthly bucket model; ``n_spinup`` leading steps are dropped from the output.

    All stores and fluxes in mm (per month for fluxes). Returns arrays of shape
    ``(time, ny, nx)`` for the stores at the end of each month and the month's fluxes.
    """
    nt, ny, nx = precip.shape
    snow = np.zeros((ny, nx))
    canopy = np.zeros((ny, nx))
    sm = 0.5 * prm.smax
    sw = np.zeros((ny, nx))
    gw = np.full((ny, nx), prm.gw_ref + 200.0)
    keys = ("snow", "canopy", "sm", "sw", "gw", "et", "runoff", "recharge")
    out = {k: np.empty((nt - n_spinup, ny, nx)) for k in keys}
    for t in range(nt):
        p, tc = precip[t], tair_c[t]
        pet = prm.pet_scale * np.maximum(0.0, 4.2 * (tc + 6.0))
        # groundwater abstraction for irrigation (moves water from gw to the soil)
        pumped = np.minimum(pump[t], np.maximum(gw, 0.0))
        gw = gw - pumped
        # snow
        frac_snow = np.clip((1.0 - tc) / 3.0, 0.0, 1.0)
        snow = snow + p * frac_snow
        melt = np.minimum(snow, prm.melt * np.maximum(tc, 0.0))
        snow = snow - melt
        # firn/glacier flow: snow above a cap leaves as runoff (keeps the plateau bounded)
        glacier = np.maximum(snow - prm.snow_cap, 0.0) * 0.2
        snow = snow - glacier
        rain = p * (1.0 - frac_snow)
        # canopy interception, evaporated first
        intercept = np.minimum(rain, prm.cmax - canopy)
        canopy = canopy + intercept
        e_can = canopy * np.minimum(0.85, pet / (pet + 15.0))
        canopy = canopy - e_can
        # soil
        water_in = rain - intercept + melt + pumped
        sat = np.clip(sm / prm.smax, 0.0, 1.0)
        quick = water_in * sat**2
        sm = sm + water_in - quick
        e_soil = np.minimum(sm, (pet - e_can) * np.clip(sm / (0.75 * prm.smax), 0.0, 1.0))
        sm = sm - e_soil
        recharge = prm.k_rech * sm * np.clip(sm / prm.smax, 0.0, 1.0) ** 3
        sm = sm - recharge
        over = np.maximum(sm - prm.smax, 0.0)
        sm = sm - over
        quick = quick + over
        # surface water (rivers, lakes, wetlands) and groundwater as linear reservoirs
        sw = sw + prm.f_sw * quick
        sw_out = prm.k_sw * sw
        sw = sw - sw_out
        gw = gw + recharge
        baseflow = prm.k_gw * np.maximum(gw - prm.gw_ref, 0.0)
        gw = gw - baseflow
        if t >= n_spinup:
            i = t - n_spinup
            out["snow"][i], out["canopy"][i], out["sm"][i] = snow, canopy, sm
            out["sw"][i], out["gw"][i] = sw, gw
            out["et"][i] = e_can + e_soil
            out["runoff"][i] = (1.0 - prm.f_sw) * quick + sw_out + baseflow + glacier
            out["recharge"][i] = recharge
    return out


# --------------------------------------------------------------------------- forcing
def _forcing(cfg: TwinConfig, lat: np.ndarray, lon: np.ndarray, months: pd.DatetimeIndex):
    """True precipitation (mm/month), temperature (°C), pumping (mm/month), LSM precip."""
    box = cfg.box
    y, x = np.meshgrid(lat, lon, indexing="ij")
    rng = np.random.default_rng([cfg.seed, 0])
    pattern = _bumps(rng, lat, lon, box, 24, (3.0, 8.0))
    east = np.clip(((x - 64.0) / 30.0) * 0.75 + ((30.0 - y) / 22.0) * 0.35, 0.0, 1.3)
    annual = (200.0 + 1900.0 * east) * np.clip(1.0 + 0.2 * pattern, 0.5, 1.6)
    annual = np.where(y > 36.0, annual * 0.45, annual)
    winter_share = 1.0 / (1.0 + np.exp(-(y - 31.0) / 2.0)) * (x < 80.0)
    elev = _elevation_km(y, x)
    t_mean = 27.0 - 0.42 * np.clip(y - 8.0, 0.0, None) - 4.5 * elev
    t_amp = 2.0 + 0.38 * np.clip(y - 8.0, 0.0, None)
    lsm_bias = 1.0 + cfg.lsm_precip_bias * _bumps(rng, lat, lon, box, 16, (4.0, 10.0))
    lsm_bias = np.clip(lsm_bias, 0.5, 1.6)

    # depletion region: north-western India (Punjab, Haryana, Rajasthan)
    region = np.exp(-(((y - 29.5) / 3.2) ** 2) - ((x - 75.5) / 3.5) ** 2)

    nt = len(months)
    precip = np.empty((nt, *y.shape))
    tair = np.empty_like(precip)
    pump = np.empty_like(precip)
    lsm_p = np.empty_like(precip)
    years = sorted(set(months.year))
    year_factor = {}
    for yr in years:
        r = np.random.default_rng([cfg.seed, 1, yr])
        field = _bumps(r, lat, lon, box, 10, (4.0, 10.0))
        strength = DROUGHT_YEARS.get(yr, 1.0) * (1.0 + 0.08 * r.normal())
        year_factor[yr] = np.clip(strength * (1.0 + 0.12 * field), 0.4, 1.8)
    for i, m in enumerate(months):
        r = _month_rng(cfg.seed, 2, m)
        share = (1 - winter_share) * MONSOON[m.month - 1] + winter_share * WINTER[m.month - 1]
        noise = np.exp(0.35 * _bumps(r, lat, lon, box, 12, (2.0, 6.0)) - 0.06)
        precip[i] = annual * share * year_factor[m.year] * noise
        phase = np.cos(2 * np.pi * (m.month - 6.0) / 12.0)
        tair[i] = t_mean + t_amp * phase + 1.2 * _bumps(r, lat, lon, box, 6, (5.0, 12.0))
        rl = _month_rng(cfg.seed, 3, m)
        lsm_noise = np.exp(cfg.lsm_precip_noise * _bumps(rl, lat, lon, box, 10, (2.0, 6.0)))
        lsm_p[i] = precip[i] * lsm_bias * lsm_noise
        # pumping ramps up from 1975 to 2000, concentrated in the dry season (rabi)
        ramp = np.clip((m.year + (m.month - 1) / 12 - 1975.0) / 25.0, 0.0, 1.0)
        season = 1.6 if m.month in (11, 12, 1, 2, 3, 4, 5) else 0.16
        pump[i] = cfg.depletion_mm_per_year / 12.0 * ramp * season * region * 1.0
    return precip, tair, pump, lsm_p, region, annual


def _smooth_over_land(field: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing restricted to land (normalised convolution), per time step."""
    w = gaussian_filter(mask.astype(float), sigma_px, mode="nearest")
    out = np.empty_like(field)
    for t in range(field.shape[0]):
        num = gaussian_filter(np.where(mask, field[t], 0.0), sigma_px, mode="nearest")
        out[t] = np.where(mask, num / np.maximum(w, 1e-9), np.nan)
    return out


def _attrs(units: str, long_name: str, **extra) -> dict:
    return {"units": units, "long_name": long_name, **extra}


# --------------------------------------------------------------------------- the twin
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
        dims ``(time, lat, lon)``, all storage in mm, fluxes in mm/month:

        - truth stores ``soil_moisture``, ``swe``, ``canopy``, ``surface_water``,
          ``groundwater``, ``tws_true``; fluxes ``precip``, ``et``, ``runoff``, ``recharge``;
          ``tair`` (K); anomalies ``twsa_true``, ``gwsa_true``;
        - the LSM: ``twsa_lsm`` and its components ``lsm_soil_moisture``, ``lsm_swe``,
          ``lsm_canopy``; its forcing ``lsm_precip``;
        - GRACE: ``twsa_grace`` (NaN in missing months) and ``twsa_grace_uncertainty``;
          ``twsa_grace_clean``, what a noise-free GRACE would see in every month;
        - masks: ``land_mask``, ``depletion_region``.

        The fine grid and wells come from :func:`make_fine_grid` and :func:`make_wells`.
        Anomalies are relative to 2004-01..2009-12.

    Examples
    --------
    >>> twin = make_twin(size=16, seed=1, make_fine=False)
    >>> sorted(twin.sizes.items())
    [('lat', 16), ('lon', 16), ('time', 189)]
    """
    base = config.model_dump() if config is not None else {"size": size, "seed": seed}
    cfg = TwinConfig(**{**base, **overrides})
    grid = regular_grid(cfg.box, cfg.size)
    lat, lon = grid["lat"].values, grid["lon"].values
    mask = land_mask(lat, lon)

    sim_end = max(pd.Timestamp(cfg.end), pd.Timestamp("2017-12"))
    months = monthly_index(SIM_START, f"{sim_end:%Y-%m}")
    spin = monthly_index(SIM_START, f"{pd.Timestamp(SIM_START).year + SPINUP_YEARS - 1}-12")
    precip, tair, pump, lsm_p, region, annual = _forcing(cfg, lat, lon, months)
    # spin-up: repeat the first decade's forcing (without pumping)
    n_spin = len(spin)

    def drive(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[:n_spin], a])

    pump_spin = np.concatenate([np.zeros_like(pump[:n_spin]), pump])

    rng = np.random.default_rng([cfg.seed, 4])
    soil_field = _bumps(rng, lat, lon, cfg.box, 20, (2.0, 6.0))
    smax = np.clip(260.0 + 90.0 * soil_field + 0.05 * annual, 120.0, 520.0)
    cmax = 0.3 + 1.7 * np.clip(annual / 2000.0, 0.0, 1.0)
    truth_p = _Params(
        smax=smax,
        cmax=cmax,
        melt=25.0,
        f_sw=cfg.surface_water_share,
        k_sw=0.35,
        k_gw=0.035,
        k_rech=cfg.recharge_coef,
        pet_scale=1.0,
    )
    lsm_prm = _Params(
        smax=smax * cfg.lsm_capacity_scale,
        cmax=cmax * 1.5,
        melt=25.0 * cfg.lsm_melt_scale,
        f_sw=0.0,
        k_sw=0.0,
        k_gw=0.0,
        k_rech=cfg.recharge_coef,
        pet_scale=1.12,
    )
    # pumping = the cell's natural recharge (a no-pumping pass over the spin-up decade)
    # plus the net depletion wanted, so that abstraction outpaces recharge where irrigated
    natural = _simulate(precip[:n_spin], tair[:n_spin], np.zeros_like(pump[:n_spin]), truth_p, 0)
    mean_recharge = natural["recharge"].mean(axis=0) * 12.0
    pump_spin = pump_spin * (1.0 + mean_recharge / max(cfg.depletion_mm_per_year, 1e-9))
    truth = _simulate(drive(precip), drive(tair), pump_spin, truth_p, n_spin)
    lsm = _simulate(drive(lsm_p), drive(tair), np.zeros_like(pump_spin), lsm_prm, n_spin)

    coords = {"time": months, "lat": lat, "lon": lon}
    dims = ("time", "lat", "lon")
    land = xr.DataArray(mask, coords={"lat": lat, "lon": lon}, dims=("lat", "lon"))

    def var(a: np.ndarray, units: str, name: str) -> xr.DataArray:
        return xr.DataArray(a, coords=coords, dims=dims, attrs=_attrs(units, name)).where(land)

    ds = xr.Dataset(
        {
            "soil_moisture": var(truth["sm"], "mm", "true soil moisture"),
            "swe": var(truth["snow"], "mm", "true snow water equivalent"),
            "canopy": var(truth["canopy"], "mm", "true canopy storage"),
            "surface_water": var(truth["sw"], "mm", "true surface water storage"),
            "groundwater": var(truth["gw"], "mm", "true groundwater storage"),
            "precip": var(precip, "mm/month", "precipitation"),
            "et": var(truth["et"], "mm/month", "true evapotranspiration"),
            "runoff": var(truth["runoff"], "mm/month", "true runoff leaving the cell"),
            "recharge": var(truth["recharge"], "mm/month", "true groundwater recharge"),
            "tair": var(tair + 273.15, "K", "air temperature"),
            "lsm_precip": var(lsm_p, "mm/month", "precipitation forcing the LSM"),
        }
    )
    ds["tws_true"] = sum(
        ds[k] for k in ("soil_moisture", "swe", "canopy", "surface_water", "groundwater")
    ).assign_attrs(_attrs("mm", "true terrestrial water storage"))
    lsm_tws = var(lsm["sm"] + lsm["snow"] + lsm["canopy"], "mm", "LSM TWS")
    ds["lsm_soil_moisture"] = var(lsm["sm"], "mm", "LSM soil moisture")
    ds["lsm_swe"] = var(lsm["snow"], "mm", "LSM snow water equivalent")
    ds["lsm_canopy"] = var(lsm["canopy"], "mm", "LSM canopy storage")

    ds["twsa_true"] = anomalies(ds["tws_true"], GRACE_BASELINE).assign_attrs(
        _attrs("mm", "true terrestrial water storage anomaly")
    )
    ds["gwsa_true"] = anomalies(ds["groundwater"], GRACE_BASELINE).assign_attrs(
        _attrs("mm", "true groundwater storage anomaly")
    )
    ds["twsa_lsm"] = anomalies(lsm_tws, GRACE_BASELINE).assign_attrs(
        _attrs("mm", "LSM terrestrial water storage anomaly (soil + snow + canopy)")
    )

    # GRACE: smoothed truth + correlated noise, real missing months
    res = (cfg.north - cfg.south) / cfg.size
    sigma_px = cfg.grace_fwhm_deg / 2.3548 / res
    smooth = _smooth_over_land(ds["twsa_true"].fillna(0.0).values, mask, sigma_px)
    y, x = np.meshgrid(lat, lon, indexing="ij")
    unc = cfg.grace_noise_mm * (0.8 + 0.5 * _elevation_km(y, x) / 4.6 + 0.15 * (y - 8.0) / 40.0)
    noise = np.empty_like(smooth)
    for i, m in enumerate(months):
        r = _month_rng(cfg.seed, 5, m)
        noise[i] = unc * (0.9 * _bumps(r, lat, lon, cfg.box, 14, (1.5, 4.0)))
        noise[i] += unc * 0.3 * r.normal(size=mask.shape)
    ds["twsa_grace_clean"] = anomalies(
        var(smooth, "mm", "GRACE-like truth"), GRACE_BASELINE
    ).assign_attrs(
        _attrs("mm", "GRACE-like truth: true TWSA smoothed like GRACE, no noise, every month")
    )
    grace = smooth + noise
    available = grace_available(months)
    grace[~available] = np.nan
    ds["twsa_grace"] = anomalies(var(grace, "mm", "GRACE TWSA"), GRACE_BASELINE).assign_attrs(
        _attrs("mm", "synthetic GRACE terrestrial water storage anomaly")
    )
    unc_t = np.where(available[:, None, None], unc[None], np.nan) * np.ones_like(grace)
    ds["twsa_grace_uncertainty"] = var(unc_t, "mm", "GRACE TWSA uncertainty (1 sigma)")
    epochs = np.where(available, months + pd.Timedelta(days=14), pd.NaT)
    ds = ds.assign_coords(grace_epoch=("time", pd.DatetimeIndex(epochs).values))
    ds["land_mask"] = land.assign_attrs(long_name="land mask (true on land)")
    ds["depletion_region"] = (land & (region > 0.5)).assign_attrs(
        long_name="irrigation-driven groundwater depletion region"
    )
    ds = ds.sel(time=slice(pd.Timestamp(cfg.start), pd.Timestamp(cfg.end)))
    ds.attrs = {
        "title": "gracefuse synthetic twin",
        "source_product": "gracefuse_twin",
        "anomaly_baseline": f"{GRACE_BASELINE[0]}..{GRACE_BASELINE[1]}",
        "twin_config": cfg.model_dump_json(),
        "missing_months": ", ".join(
            f"{t:%Y-%m}" for t in pd.DatetimeIndex(ds.time.values)[~grace_available(ds.time.values)]
        ),
    }
    return ds


def grace_available(times) -> np.ndarray:
    """True for months with a GRACE/GRACE-FO solution (before 2002-04: False)."""
    idx = pd.DatetimeIndex(times)
    missing = set(GRACE_MISSING_MONTHS)
    return np.array(
        [t >= pd.Timestamp("2002-04") and f"{t:%Y-%m}" not in missing for t in idx], dtype=bool
    )


def make_fine_grid(twin: xr.Dataset, factor: int | None = None) -> xr.Dataset:
    """Groundwater on a ``factor ×`` finer grid whose block means are the coarse field.

    The fine anomaly is the bilinear-interpolated coarse anomaly modulated by a fine
    aquifer field (specific-yield-like heterogeneity, widths 0.3°–1.5°), then corrected so
    that its area-weighted block mean equals ``gwsa_true`` exactly.

    Returns
    -------
    xr.Dataset
        ``gwsa_true`` (time, lat, lon) in mm, ``aquifer_heterogeneity`` (lat, lon),
        ``land_mask`` (lat, lon).
    """
    cfg = TwinConfig.model_validate_json(twin.attrs["twin_config"])
    f = factor or cfg.fine_factor
    grid = regular_grid(cfg.box, cfg.size * f)
    lat, lon = grid["lat"].values, grid["lon"].values
    rng = np.random.default_rng([cfg.seed, 6])
    het = np.tanh(0.6 * _bumps(rng, lat, lon, cfg.box, 400, (0.3, 1.5)))
    coarse = twin["gwsa_true"]
    mask_c = twin["land_mask"]
    mask_f = np.repeat(np.repeat(mask_c.values, f, axis=0), f, axis=1)
    up = np.repeat(np.repeat(coarse.fillna(0.0).values, f, axis=1), f, axis=2)
    smooth_up = np.stack([gaussian_filter(a, f / 2.0, mode="nearest") for a in up])
    fine = smooth_up * (1.0 + 0.6 * het)
    coords = {"time": twin["time"].values, "lat": lat, "lon": lon}
    da = xr.DataArray(fine, coords=coords, dims=("time", "lat", "lon")).where(mask_f)
    block = coarsen_mean(da, f)
    corr = (coarse - block.assign_coords(lat=coarse.lat, lon=coarse.lon)).fillna(0.0).values
    da = da + np.repeat(np.repeat(corr, f, axis=1), f, axis=2)
    da = da.where(mask_f)
    out = xr.Dataset(
        {
            "gwsa_true": da.assign_attrs(_attrs("mm", "true groundwater storage anomaly (fine)")),
            "aquifer_heterogeneity": xr.DataArray(
                het, coords={"lat": lat, "lon": lon}, dims=("lat", "lon")
            ).assign_attrs(_attrs("1", "fine aquifer heterogeneity (specific-yield modulation)")),
            "land_mask": xr.DataArray(
                mask_f, coords={"lat": lat, "lon": lon}, dims=("lat", "lon")
            ).assign_attrs(long_name="land mask (true on land)"),
        }
    )
    out.attrs = {**twin.attrs, "title": "gracefuse synthetic twin, fine grid", "factor": f}
    return out


def make_wells(fine: xr.Dataset, n_wells: int | None = None, seed: int | None = None):
    """Wells that sample fine groundwater: head anomaly (m) = GWSA (mm) / 1000 / Sy + noise.

    Wells are measured four times a year (January, May, August, November: the pre- and
    post-monsoon campaigns of India's groundwater board), with 10 % of readings missing.

    Returns
    -------
    pandas.DataFrame
        columns ``well_id, lat, lon, time, head_anomaly_m, specific_yield``.
    """
    cfg = TwinConfig.model_validate_json(fine.attrs["twin_config"])
    n = cfg.n_wells if n_wells is None else n_wells
    rng = np.random.default_rng([cfg.seed if seed is None else seed, 7])
    land = np.argwhere(fine["land_mask"].values)
    pick = land[rng.choice(len(land), size=min(n, len(land)), replace=False)]
    times = pd.DatetimeIndex(fine["time"].values)
    campaign = times[times.month.isin([1, 5, 8, 11])]
    rows = []
    for k, (i, j) in enumerate(pick):
        sy = rng.uniform(0.03, 0.2)
        series = fine["gwsa_true"].isel(lat=i, lon=j).sel(time=campaign).values
        head = series / 1000.0 / sy + rng.normal(0.0, 0.15, size=series.shape)
        keep = rng.uniform(size=series.shape) > 0.1
        for t, h, ok in zip(campaign, head, keep, strict=True):
            if ok and np.isfinite(h):
                rows.append(
                    (
                        f"W{k:03d}",
                        float(fine.lat[i]),
                        float(fine.lon[j]),
                        t,
                        float(h),
                        round(sy, 4),
                    )
                )
    cols = ["well_id", "lat", "lon", "time", "head_anomaly_m", "specific_yield"]
    return pd.DataFrame(rows, columns=cols)


def calibration_table(twin: xr.Dataset, train_fraction: float = 0.7) -> pd.DataFrame:
    """Region-mean LSM vs GRACE skill, first ``train_fraction`` of GRACE months for training.

    This is the first row of Sun et al. (2019) Table 1 (NOAH vs GRACE over India).
    """
    from gracefuse.evaluate.metrics import nse, pearson_r

    lsm = region_mean(twin["twsa_lsm"], twin["land_mask"])
    grace = region_mean(twin["twsa_grace"], twin["land_mask"])
    valid = np.flatnonzero(grace.notnull().values)
    n_train = int(round(train_fraction * len(valid)))
    rows = []
    for split, idx in (("train", valid[:n_train]), ("test", valid[n_train:])):
        s, o = lsm.isel(time=idx), grace.isel(time=idx)
        rows.append(
            {"split": split, "r": float(pearson_r(s, o)), "nse": float(nse(s, o)), "n": len(idx)}
        )
    return pd.DataFrame(rows).set_index("split")
