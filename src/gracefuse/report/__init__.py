"""Figures and the self-contained HTML report of a run."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import xarray as xr

from gracefuse.evaluate.regions import grid_skill
from gracefuse.io import write_text
from gracefuse.report import figures as fg
from gracefuse.report.htmlpage import figure_html, page, table_html


def table1(metrics: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1: one row per model and split, region and grid-median columns."""
    t = metrics[metrics.scale.isin(["region", "grid_median"])]
    wide = t.pivot_table(index=["model", "split"], columns=["scale", "metric"], values="value")
    order = [m for m in ["lsm", "segnet", "unet", "vgg16"] if m in wide.index.get_level_values(0)]
    wide = wide.reindex(order, level=0)
    return wide.reindex(["train", "test"], level=1)


def write_fusion_report(out: Path, data, samples, runs, metrics, preds, wells, info) -> Path:
    """All figures of a fusion run and ``report.html`` in ``out``."""
    figdir = out / "figures"
    img = data.image
    mask = img["land_mask"]
    lsm = img["twsa_lsm"].where(mask)
    grace = img["twsa_grace"].where(mask)
    times = pd.DatetimeIndex(img["time"].values)
    test, fit_idx = samples.test, samples.fit_months
    boundary = times[test[0]] if len(test) else times[-1]
    corrected = {
        r.name: lsm - xr.DataArray(r.mismatch, coords=lsm.coords, dims=lsm.dims) for r in runs
    }
    figs: list[tuple[Path, str]] = []

    figs.append(
        (
            fg.mismatch_seasons(
                (lsm - grace).isel(time=fit_idx), figdir / "fig4_mismatch_seasons.png"
            ),
            "Fig. 4 — seasonal mean mismatch S = TWSA_LSM − TWSA_GRACE (training months) "
            "and its distribution over cells.",
        )
    )
    sd = img["twsa_grace_uncertainty"] if "twsa_grace_uncertainty" in img else None
    region = {k: fg.region(v, mask) for k, v in corrected.items()}
    figs.append(
        (
            fg.region_series(
                times,
                fg.region(grace, mask),
                None if sd is None else fg.region(sd, mask),
                fg.region(lsm, mask),
                region,
                boundary,
                figdir / "fig5a_region_series.png",
            ),
            "Fig. 5a — area-weighted mean TWSA: GRACE with its uncertainty, the LSM and the "
            "corrected TWSA of each model; dashed line: end of training.",
        )
    )
    maps = {"lsm": grid_skill(lsm.isel(time=test), grace.isel(time=test), mask, ("r", "nse"))}
    for k, v in corrected.items():
        maps[k] = grid_skill(v.isel(time=test), grace.isel(time=test), mask, ("r", "nse"))
    figs.append(
        (
            fg.skill_cdfs(maps, figdir / "fig5bc_cdf_r_nse.png"),
            "Fig. 5b,c — CDFs of grid-cell correlation and NSE on the test months.",
        )
    )
    t1 = table1(metrics)
    model_rows = [r.name for r in runs]
    best = max(model_rows, key=lambda m: t1.loc[(m, "test"), ("region", "nse")]) if runs else None
    if best:
        figs.append(
            (
                fg.skill_maps(maps, best, figdir / "fig6_skill_maps.png"),
                f"Fig. 6 — grid-cell r and NSE on test months: LSM, {best}, and the gain.",
            )
        )
    if wells is not None and len(wells):
        figs.append(
            (
                fg.well_figure(wells, model_rows, mask, figdir / "fig7_wells.png"),
                "Fig. 7 — correlation of the predicted mismatch Ŝ with in-situ well "
                "anomalies (Ŝ ≈ −(groundwater + surface water) anomaly, so r < 0 is expected).",
            )
        )
    if best:
        run = next(r for r in runs if r.name == best)
        lo = fg.region(lsm + xr.DataArray(run.lower, coords=lsm.coords, dims=lsm.dims), mask)
        hi = fg.region(lsm + xr.DataArray(run.upper, coords=lsm.coords, dims=lsm.dims), mask)
        figs.append(
            (
                fg.region_series(
                    times,
                    fg.region(grace, mask),
                    None,
                    fg.region(lsm, mask),
                    {best: region[best]},
                    boundary,
                    figdir / "fig8_prediction_interval.png",
                    band=(lo, hi),
                    title=f"Prediction beyond the training data ({best})",
                ),
                "Fig. 8 — corrected TWSA for every LSM month (also months without GRACE and "
                "the GRACE/GRACE-FO gap) with its 95 % interval (region mean of the cell bounds).",
            )
        )
    hist = {r.name: r.history for r in runs}
    figs.append(
        (
            fg.training_curves(hist, figdir / "training_curves.png"),
            "Training and validation loss per epoch.",
        )
    )

    cov = metrics[metrics.metric.str.startswith("coverage")].pivot_table(
        index=["model", "split"], columns="metric", values="value"
    )
    will = metrics[metrics.metric == "williams_p"].pivot_table(
        index="model", columns="split", values="value"
    )
    models = pd.DataFrame(info["models"]).T
    note = (
        "<p class='note'>Metrics against GRACE; <b>region</b> = the area-weighted mean series of "
        "the mask, <b>grid_median</b> = median over cells of the per-cell metric. KGE uses the "
        "bias term scaled by σ<sub>obs</sub> (well defined for anomalies). Training months "
        f"{len(fit_idx)} (of which {len(samples.val)} held out for early stopping and conformal "
        f"calibration), test months {len(test)}. Williams' test: H0 that the corrected TWSA "
        "correlates with GRACE no better than the LSM does (region series).</p>"
    )
    sections = [
        (
            "",
            f"<p>Recipe <b>{html.escape(info['recipe'])}</b> on {html.escape(info['source'])} "
            f"data, device {html.escape(info['device'])}.</p>" + note,
        ),
        ("Table 1 — skill against GRACE", table_html(t1)),
        (
            "Significance of the correlation gain (Williams' test p-values)",
            table_html(will, "{:.2g}"),
        ),
        ("Coverage of the 95 % intervals (share of cell-months inside)", table_html(cov)),
        ("Models", table_html(models)),
        ("Figures", "".join(figure_html(p, c) for p, c in figs)),
    ]
    doc = page(f"gracefuse — {info['recipe']}", sections)
    return write_text(out / "report.html", doc)


__all__ = ["table1", "write_fusion_report"]
