"""The metrics of a groundwater run as long rows (``model, variable, split, scale, metric,
value``): the separation against a reference (NASA's estimate, the twin's truth) beside
the no-separation baseline (TWSA taken as GWSA), the TCH noises beside the equal-weight
mean, trends, hotspots, seasons and drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from gracefuse.analysis.trends import amplitude_phase, trend_dataset
from gracefuse.data.grid import region_mean
from gracefuse.evaluate.metrics import bias, pearson_r, rmse
from gracefuse.methods.groundwater.analyse import GroundwaterResult

Z95 = 1.959964


def _row(model, variable, scale, metric, value, split="all") -> dict:
    return {"model": model, "variable": variable, "split": split, "scale": scale,
            "metric": metric, "value": float(value)}  # fmt: skip


def scores(est: xr.DataArray, ref: xr.DataArray, sigma=None) -> dict[str, xr.DataArray]:
    """r, RMSE, bias (mm), months ``n`` and the 95 % coverage of ``est ± 1.96 σ``, over
    the months both hold, per location (:mod:`gracefuse.evaluate.metrics`)."""
    a, b = xr.align(est, ref)
    valid = a.notnull() & b.notnull()
    out = {"r": pearson_r(a, b), "rmse": rmse(a, b), "bias": bias(a, b), "n": valid.sum("time")}
    if sigma is not None:
        covered = (np.abs(a - b) <= Z95 * xr.align(sigma, a)[0]) & valid
        out["coverage95"] = covered.sum("time") / out["n"]
    return out


def median_scores(est: xr.DataArray, ref: xr.DataArray, sigma=None) -> dict[str, float]:
    """The median over locations of each location's :func:`scores`."""
    per_cell = scores(est, ref, sigma)
    held = per_cell["n"] > 0
    return {k: float(v.where(held).median()) for k, v in per_cell.items()}


def separation_rows(result: GroundwaterResult) -> list[dict]:
    """The separation (and TWSA as GWSA, the baseline) against NASA's or the true GWSA."""
    inp = result.inputs
    ref = inp.truth.get("gwsa", inp.reference.get("gwsa"))
    if ref is None or result.separation is None:
        return []
    sep = result.separation
    runs = {"separation": (sep["gwsa"], sep["gwsa_uncertainty"]),
            "twsa_only": (sep["twsa"], sep["twsa_uncertainty"])}  # fmt: skip
    rows = []
    for model, (est, sig) in runs.items():
        if inp.space == "grid":
            for k, v in median_scores(est, ref, sig).items():
                rows.append(_row(model, "gwsa", "grid_median", k, v))
            mean = lambda da: region_mean(da, inp.mask)  # noqa: E731
            area_sig = result.area_mean.get("uncertainty") if model == "separation" else None
            region = scores(mean(est), mean(ref), mean(sig) if area_sig is None else area_sig)
        else:
            region = scores(est, ref, sig)
        rows += [_row(model, "gwsa", "region", k, v) for k, v in region.items()]
    if "gwsa_uncertainty" in inp.reference:
        nasa = inp.reference["gwsa_uncertainty"]
        a, b = xr.align(sep["gwsa_uncertainty"], nasa)
        rel = np.abs(a - b) / b
        rows += [_row("separation", "gwsa_uncertainty", "region", "max_rel_diff", rel.max()),
                 _row("separation", "gwsa_uncertainty", "region", "median", a.median()),
                 _row("reference", "gwsa_uncertainty", "region", "median", b.median())]  # fmt: skip
    return rows


def trend_rows(result: GroundwaterResult) -> list[dict]:
    """The area-mean trend, the hotspot share, the named regions, and on the twin the
    error of every cell's trend against the true groundwater's."""
    var, rows = result.analysed, []
    tr = result.area_trend
    for k, v in (("slope", tr.slope), ("slope_lower", tr.lower), ("slope_upper", tr.upper),
                 ("p_value", tr.p_value)):  # fmt: skip
        rows.append(_row("trend", var, "region", k, v))
    if "hotspot" in result.trends:
        where = "grid" if "lat" in result.trends.dims else "basins"
        rows.append(_row("trend", var, where, "hotspot_share",
                         result.trends["hotspot"].where(np.isfinite(result.trends.slope)).mean()))  # fmt: skip
        rows.append(_row("trend", var, where, "significant_share",
                         result.trends["significant"].where(np.isfinite(result.trends.slope)).mean()))  # fmt: skip
    for _, r in result.regions.iterrows():
        for k in ("slope", "slope_lower", "slope_upper", "p_value", "hotspot_share",
                  "hotspot_found"):  # fmt: skip
            rows.append(_row("trend", var, str(r.region), k, r[k]))
    truth = result.inputs.truth
    if "gwsa" in truth and result.separation is not None:
        window = slice(*result.trends.attrs["period"].split(".."))  # what the trends cover
        true_slope = trend_dataset(truth["gwsa"].sel(time=window))["slope"]
        twsa_slope = trend_dataset(result.separation["twsa"].sel(time=window))["slope"]
        for model, slope in (("separation", result.trends["slope"]), ("twsa_only", twsa_slope)):
            rows.append(_row(model, "gwsa", "grid", "trend_rmse",
                             np.sqrt(((slope - true_slope) ** 2).mean())))  # fmt: skip
        region = truth.get("depletion_region")
        if region is not None and "hotspot" in result.trends:
            hot = result.trends["hotspot"].values
            land = result.inputs.mask.values
            rows.append(
                _row("trend", "gwsa", "grid", "hotspot_hit_rate", hot[region.values].mean())
            )
            rows.append(_row("trend", "gwsa", "grid", "hotspot_false_rate",
                             hot[land & ~region.values].mean()))  # fmt: skip
    amp, peak = amplitude_phase(result.area_mean["storage"])
    rows += [_row("season", var, "region", "amplitude", amp),
             _row("season", var, "region", "peak_month", peak)]  # fmt: skip
    return rows


def tch_rows(result: GroundwaterResult) -> list[dict]:
    """Each product's TCH noise (median over basins or cells), the combined product's and
    the equal-weight mean's (the baseline), and each product's own uncertainty against
    its TCH noise (Spearman across locations)."""
    tch = result.tch
    if tch is None:
        return []
    space = [d for d in tch["noise_std"].dims if d != "product"]
    scale = "basin_median" if space == ["basin"] else "grid_median"
    rows = []
    for p in tch["product"].values:
        noise = tch["noise_std"].sel(product=p)
        rows += [_row(str(p), "twsa", scale, "noise_std", noise.median()),
                 _row(str(p), "twsa", scale, "relative_noise",
                      tch["relative_noise"].sel(product=p).median()),
                 _row(str(p), "twsa", "locations", "negative_noise", (noise < 0).sum())]  # fmt: skip
    rows.append(
        _row("mean_of_products", "twsa", scale, "noise_std", tch["mean_noise_std"].median())
    )
    singles = tch["noise_std"].drop_sel(product="combined")
    comb = tch["noise_std"].sel(product="combined")
    ok = np.isfinite(comb)
    below = (comb < singles.min("product")).where(ok)
    rows.append(_row("combined", "twsa", "locations", "share_below_every_product", below.mean()))
    rows.append(_row("combined", "twsa", "locations", "share_below_mean_of_products",
                     (comb < tch["mean_noise_std"]).where(ok).mean()))  # fmt: skip
    rows.append(_row("combined", "twsa", "locations", "n", ok.sum()))
    for p, own in result.inputs.own_uncertainty.items():
        own_sd = own.mean("time")
        a, b = xr.align(tch["noise_std"].sel(product=p), own_sd)
        k = np.isfinite(a.values) & np.isfinite(b.values)
        rho = spearmanr(a.values[k], b.values[k]).statistic
        rows += [_row(p, "twsa", "locations", "spearman_own_uncertainty", rho),
                 _row(p, "twsa", scale, "own_uncertainty", float(np.median(b.values[k])))]  # fmt: skip
    return rows


def driver_rows(drivers: pd.DataFrame) -> list[dict]:
    """Per driver and component: the median |r| over locations with its median lag, the
    share of locations where the driver is the strongest, and the area-mean r."""
    if drivers.empty:
        return []
    rows = []
    local = drivers[drivers.location != "area_mean"].assign(abs_r=lambda d: d.r.abs())
    best = local.loc[local.groupby(["location", "component"]).abs_r.idxmax()]
    for (drv, comp), g in local.groupby(["driver", "component"]):
        share = (best[best.component == comp].driver == drv).mean()
        rows += [_row("drivers", drv, "median", "r", g.r.median(), comp),
                 _row("drivers", drv, "median", "lag_months", g.lag.median(), comp),
                 _row("drivers", drv, "locations", "strongest_share", share, comp)]  # fmt: skip
    for _, r in drivers[drivers.location == "area_mean"].iterrows():
        rows += [_row("drivers", r.driver, "region", "r", r.r, r.component),
                 _row("drivers", r.driver, "region", "lag_months", r.lag, r.component)]  # fmt: skip
    return rows


def metric_rows(result: GroundwaterResult) -> list[dict]:
    """Every metric row of a run, timings included."""
    rows = separation_rows(result) + tch_rows(result) + trend_rows(result)
    rows += driver_rows(result.drivers)
    rows += [_row("groundwater", "", "model", f"seconds_{k}", v) for k, v in result.timings.items()]
    return [r for r in rows if np.isfinite(r["value"])]
