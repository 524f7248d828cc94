"""The outputs of a fusion run: predictions (CF netCDF) and the comparison with wells."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grid import check_same_grid, regrid_conservative
from gracefuse.data.inputs import Inputs
from gracefuse.data.wells import grid_cells
from gracefuse.methods.fusion.samples import FusionSamples
from gracefuse.methods.fusion.train import ModelRun

log = logging.getLogger(__name__)


def predictions_dataset(
    data: Inputs,
    samples: FusionSamples,
    runs: list[ModelRun],
    baselines: dict[str, np.ndarray],
) -> xr.Dataset:
    """CF Dataset of corrected TWSA, Ŝ and intervals per model (networks, then baselines,
    whose bounds are NaN) for every month, on the GRACE grid when it differs."""
    img = data.observed
    lsm = img["twsa_lsm"].where(img["land_mask"])
    dims = ("model", "time", "lat", "lon")
    names = [r.name for r in runs] + list(baselines)
    coords = {"model": names, **{k: img[k] for k in ("time", "lat", "lon")}}
    nan = np.full(lsm.shape, np.nan)

    def stack(attr: str, sign: float = 1.0, offset: bool = False) -> xr.DataArray:
        arr = [sign * getattr(r, attr) for r in runs]
        arr += [sign * v if attr == "mismatch" else nan for v in baselines.values()]
        da = xr.DataArray(np.stack(arr), coords=coords, dims=dims)
        return (da + lsm if offset else da).where(img["land_mask"])

    split = np.zeros(len(samples.times), dtype="i1")
    split[samples.train], split[samples.val] = 1, 2
    split[samples.cal], split[samples.test] = 3, 4
    ds = xr.Dataset(
        {
            "twsa_corrected": stack("mismatch", -1.0, offset=True).assign_attrs(
                units="mm", long_name="corrected TWSA (LSM − predicted mismatch)"
            ),
            "mismatch_predicted": stack("mismatch").assign_attrs(
                units="mm", long_name="predicted mismatch Ŝ = TWSA_LSM − TWSA_GRACE"
            ),
            "twsa_corrected_lower": stack("lower", offset=True).assign_attrs(
                units="mm", long_name="2.5 % bound (ensemble spread, split conformal)"
            ),
            "twsa_corrected_upper": stack("upper", offset=True).assign_attrs(
                units="mm", long_name="97.5 % bound (ensemble spread, split conformal)"
            ),
            "twsa_corrected_lower_rmse": stack("lower_rmse", offset=True).assign_attrs(
                units="mm", long_name="lower bound, ±1.96 × training RMSE (Sun et al.)"
            ),
            "twsa_corrected_upper_rmse": stack("upper_rmse", offset=True).assign_attrs(
                units="mm", long_name="upper bound, ±1.96 × training RMSE (Sun et al.)"
            ),
            "twsa_lsm": lsm.assign_attrs(units="mm", long_name="LSM TWSA"),
            "twsa_grace": img["twsa_grace"]
            .where(img["land_mask"])
            .assign_attrs(units="mm", long_name="GRACE TWSA"),
            "land_mask": img["land_mask"],
        },
        coords={
            "split": (
                "time",
                split,
                {
                    "flag_values": [0, 1, 2, 3, 4],
                    "flag_meanings": "none train validation calibration test",
                },
            )
        },
    )
    ds.attrs = {
        "title": "gracefuse fusion predictions (Sun et al. 2019 method)",
        "source_product": "gracefuse_fusion",
        "anomaly_baseline": img["twsa_lsm"].attrs.get("anomaly_baseline", "2004-01..2009-12"),
    }
    if data.native is not None:  # back to the GRACE grid
        native = regrid_conservative(ds.drop_vars("land_mask"), data.native)
        check_same_grid(native, data.native, "predictions on the GRACE grid")
        native["land_mask"] = data.native["twsa"].notnull().any("time")
        native.attrs = ds.attrs
        return native
    return ds


def well_correlations(data: Inputs, runs: list[ModelRun]) -> pd.DataFrame | None:
    """Correlation of each model's Ŝ at a well's cell with the well's anomalies (Fig. 7).
    Wells outside the grid are left out (logged), not matched to the edge cell."""
    if data.wells is None or not runs:
        return None
    img = data.observed
    sites = data.wells.groupby("well_id")[["lat", "lon"]].first()
    rows_of, cols_of, inside = grid_cells(sites.lat, sites.lon, img["lat"].values,
                                          img["lon"].values)  # fmt: skip
    outside = [str(w) for w, ok in zip(sites.index, inside, strict=True) if not ok]
    rows = []
    for (wid, w), i, j, on_grid in zip(data.wells.groupby("well_id"), rows_of, cols_of, inside,
                                       strict=True):  # fmt: skip
        if not on_grid:
            continue
        t = pd.DatetimeIndex(w["time"]).to_period("M").to_timestamp()
        pos = img.indexes["time"].get_indexer(t)
        ok = pos >= 0
        if ok.sum() < 6:
            continue
        row = {"well_id": wid, "lat": w["lat"].iloc[0], "lon": w["lon"].iloc[0], "n": int(ok.sum())}
        for run in runs:
            s = run.mismatch[pos[ok], i, j]
            v = w["value"].to_numpy()[ok]
            row[run.name] = float(np.corrcoef(s, v)[0, 1]) if np.std(s) > 0 else float("nan")
        rows.append(row)
    if outside:
        log.warning("%d wells lie outside the grid and are not scored: %s", len(outside),
                    ", ".join(outside[:5]) + (" …" if len(outside) > 5 else ""))  # fmt: skip
    return pd.DataFrame(rows)
