"""The twin's fine grid: 4× finer groundwater with aquifer heterogeneity (the wells that
sample it are :mod:`gracefuse.data.twin.wells`)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter

from gracefuse.data.grid import coarsen_mean, regular_grid
from gracefuse.data.twin.config import TwinConfig
from gracefuse.data.twin.geography import bumps


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
    het = np.tanh(0.6 * bumps(rng, lat, lon, cfg.box, 400, (0.3, 1.5)))
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
            "gwsa_true": da.assign_attrs(
                units="mm", long_name="true groundwater storage anomaly (fine)"
            ),
            "aquifer_heterogeneity": xr.DataArray(
                het, coords={"lat": lat, "lon": lon}, dims=("lat", "lon")
            ).assign_attrs(
                units="1", long_name="fine aquifer heterogeneity (specific-yield modulation)"
            ),
            "land_mask": xr.DataArray(
                mask_f, coords={"lat": lat, "lon": lon}, dims=("lat", "lon")
            ).assign_attrs(long_name="land mask (true on land)"),
        }
    )
    out.attrs = {**twin.attrs, "title": "gracefuse synthetic twin, fine grid", "factor": f}
    return out
