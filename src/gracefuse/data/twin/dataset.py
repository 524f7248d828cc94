"""The twin as an ``xarray.Dataset``: which variables a user of real products would have,
which are truth, and the region-mean skill table of the raw LSM."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.anomalies import GRACE_BASELINE
from gracefuse.data.grid import region_mean
from gracefuse.data.twin.calibrate import CALIBRATION_WINDOW, TRAIN_FRACTION, split_skill
from gracefuse.data.twin.grace import baseline_anomaly, grace_available

if TYPE_CHECKING:
    from gracefuse.data.twin.build import Rendering
    from gracefuse.data.twin.config import TwinConfig

#: what a user of a real LSM and real GRACE has: the LSM's states and its own forcing,
#: GRACE with its gaps and stated uncertainty, a land mask. Everything else is truth.
OBSERVABLE = (
    "twsa_lsm",
    "lsm_soil_moisture",
    "lsm_swe",
    "lsm_canopy",
    "lsm_precip",
    "tair",
    "twsa_grace",
    "twsa_grace_uncertainty",
    "land_mask",
)
#: the truth: for scoring only, never a model input
TRUTH = (
    "soil_moisture",
    "swe",
    "canopy",
    "surface_water",
    "groundwater",
    "precip",
    "et",
    "runoff",
    "recharge",
    "tws_true",
    "twsa_true",
    "gwsa_true",
    "twsa_grace_clean",
    "depletion_region",
)


def _attrs(units: str, long_name: str) -> dict:
    return {"units": units, "long_name": long_name}


def _variables(world: Rendering, lsm: dict[str, np.ndarray]) -> dict[str, tuple]:
    """name → (array, units, long_name) of every gridded variable."""
    t, f, g = world.truth, world.forcing, world.grace
    lsm_soil = lsm["sm"] + lsm["gw"]  # root zone + deep layer, like GLDAS's summed layers
    lsm_tws = lsm_soil + lsm["snow"] + lsm["canopy"]
    return {
        "soil_moisture": (t["sm"], "mm", "true soil moisture"),
        "swe": (t["snow"], "mm", "true snow water equivalent"),
        "canopy": (t["canopy"], "mm", "true canopy storage"),
        "surface_water": (t["sw"], "mm", "true surface water storage"),
        "groundwater": (t["gw"], "mm", "true groundwater storage"),
        "precip": (f.precip, "mm/month", "true precipitation"),
        "et": (t["et"], "mm/month", "true evapotranspiration"),
        "runoff": (t["runoff"], "mm/month", "true runoff leaving the cell"),
        "recharge": (t["recharge"], "mm/month", "true groundwater recharge"),
        "tair": (f.tair + 273.15, "K", "air temperature (the LSM's forcing)"),
        "lsm_precip": (lsm["lsm_precip"], "mm/month", "precipitation forcing the LSM"),
        "tws_true": (sum(t[k] for k in ("snow", "canopy", "sm", "sw", "gw")), "mm", "true TWS"),
        "lsm_soil_moisture": (lsm_soil, "mm", "LSM soil moisture (all layers)"),
        "lsm_swe": (lsm["snow"], "mm", "LSM snow water equivalent"),
        "lsm_canopy": (lsm["canopy"], "mm", "LSM canopy storage"),
        "twsa_true": (world.twsa_true, "mm", "true terrestrial water storage anomaly"),
        "gwsa_true": (
            baseline_anomaly(t["gw"], world.months),
            "mm",
            "true groundwater storage anomaly",
        ),
        "twsa_lsm": (
            baseline_anomaly(lsm_tws, world.months),
            "mm",
            "LSM terrestrial water storage anomaly (soil + snow + canopy)",
        ),
        "twsa_grace_clean": (
            g["clean"],
            "mm",
            "GRACE-like truth: true TWSA smoothed like GRACE, no noise, every month",
        ),
        "twsa_grace": (g["grace"], "mm", "synthetic GRACE terrestrial water storage anomaly"),
        "twsa_grace_uncertainty": (g["uncertainty"], "mm", "GRACE TWSA uncertainty (1 sigma)"),
    }


def assemble(cfg: TwinConfig, world: Rendering, lsm: dict[str, np.ndarray]) -> xr.Dataset:
    """The twin Dataset from a rendering and its LSM run, cut to ``cfg.start..cfg.end``."""
    months = world.months
    coords = {"time": months, "lat": world.lat, "lon": world.lon}
    land = xr.DataArray(
        world.mask, coords={"lat": world.lat, "lon": world.lon}, dims=("lat", "lon")
    )
    ds = xr.Dataset(
        {
            name: xr.DataArray(a, coords=coords, dims=("time", "lat", "lon"))
            .where(land)
            .assign_attrs(_attrs(units, long_name))
            for name, (a, units, long_name) in _variables(world, lsm).items()
        }
    )
    for name in ("twsa_true", "gwsa_true", "twsa_lsm", "twsa_grace_clean", "twsa_grace"):
        ds[name].attrs["anomaly_baseline"] = f"{GRACE_BASELINE[0]}..{GRACE_BASELINE[1]}"
    available = grace_available(months)
    epochs = np.where(available, months + pd.Timedelta(days=14), pd.NaT)
    ds = ds.assign_coords(grace_epoch=("time", pd.DatetimeIndex(epochs).values))
    ds["land_mask"] = land.assign_attrs(long_name="land mask (true on land)")
    ds["depletion_region"] = (land & (world.forcing.region > 0.5)).assign_attrs(
        long_name="irrigation-driven groundwater depletion region"
    )
    skill = calibration_table(ds)
    ds = ds.sel(time=slice(pd.Timestamp(cfg.start), pd.Timestamp(cfg.end)))
    kept = pd.DatetimeIndex(ds.time.values)
    ds.attrs = {
        "title": "gracefuse synthetic twin",
        "source_product": "gracefuse_twin",
        "anomaly_baseline": f"{GRACE_BASELINE[0]}..{GRACE_BASELINE[1]}",
        "twin_config": cfg.model_dump_json(),
        "lsm_skill": json.dumps(skill.to_dict(orient="index")),
        "observable_variables": " ".join(OBSERVABLE),
        "truth_variables": " ".join(TRUTH),
        "missing_months": ", ".join(f"{t:%Y-%m}" for t in kept[~grace_available(kept)]),
    }
    return ds


def calibration_table(twin: xr.Dataset, train_fraction: float = TRAIN_FRACTION) -> pd.DataFrame:
    """Region-mean skill of the raw LSM against GRACE, as in Sun et al. (2019) Table 1 row 1.

    The months are those of the calibration window (2002-04..2017-12) that the twin holds;
    the first ``train_fraction`` of its GRACE months are ``train``, the rest ``test``.

    Returns
    -------
    pandas.DataFrame
        Index ``train, test``; columns ``r``, ``nse``, ``n`` (months).
    """
    window = slice(*(pd.Timestamp(m) for m in CALIBRATION_WINDOW))
    part = twin[["twsa_lsm", "twsa_grace", "land_mask"]].sel(time=window)
    lsm = region_mean(part["twsa_lsm"], part["land_mask"]).values
    grace = region_mean(part["twsa_grace"], part["land_mask"]).values
    skill = split_skill(lsm, grace, train_fraction)
    n = int(np.isfinite(grace).sum())
    counts = {"train": int(round(train_fraction * n)), "test": n - int(round(train_fraction * n))}
    return pd.DataFrame(
        [{"split": s, **skill[s], "n": counts[s]} for s in ("train", "test")]
    ).set_index("split")
