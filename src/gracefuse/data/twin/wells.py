"""The wells of the twin: an observation operator on the fine grid's groundwater."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.twin.config import TwinConfig


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
