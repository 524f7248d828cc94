"""Figures and the self-contained HTML report of a fusion run (Sun et al. 2019, Figs. 4–8)."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import xarray as xr

from gracefuse.evaluate.regions import grid_skill
from gracefuse.io import write_text
from gracefuse.methods.fusion.baselines import BASELINES
from gracefuse.methods.fusion.config import SamplesConfig
from gracefuse.report import figures as fg
from gracefuse.report.comparison import comparison_section
from gracefuse.report.htmlpage import figure_html, page, table_html

#: Sun et al. (2019): region-mean skill over India on the test months
PAPER_ROWS = {
    "noah": "NOAH against GRACE (Table 1, row 1): train r 0.776, NSE 0.600; test r 0.825, "
    "NSE 0.568",
    "twsa": "SegNet with NOAH TWSA alone: test r 0.946, NSE 0.875",
    "twsa_p_t": "Segnet-3 with NOAH TWSA, P and T: test r 0.945, NSE 0.889",
}


def paper_row(cfg: SamplesConfig) -> str:
    """Which row of Sun et al. (2019) matches a run's inputs."""
    extra = cfg.memory or cfg.memory_efolding
    base = "twsa_p_t" if set(cfg.predictors) >= {"precip", "tair"} else "twsa"
    text = PAPER_ROWS[base] if set(cfg.predictors) in ({"twsa"}, {"twsa", "precip", "tair"}) else ""
    if extra:
        text = (text + ". " if text else "") + (
            "This run adds memory inputs beyond the paper's "
            f"({', '.join(cfg.memory) or ''}{' ' if cfg.memory else ''}"
            f"{'e-folding ' + str(cfg.memory_efolding) if cfg.memory_efolding else ''}), "
            "so no paper row matches it exactly"
        )
    return text or "no paper row matches these inputs"


def table1(metrics: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1, widened: one row per model (baselines first) and split, region
    and grid-median columns."""
    t = metrics[metrics.scale.isin(["region", "grid_median"])]
    t = t[t.metric.isin(["r", "nse", "rmse", "kge", "kge_anomaly"])]
    wide = t.pivot_table(index=["model", "split"], columns=["scale", "metric"], values="value")
    present = list(dict.fromkeys(t.model))
    order = [m for m in BASELINES if m in present] + [m for m in present if m not in BASELINES]
    wide = wide.reindex(order, level=0)
    return wide.reindex(["train", "validation", "test"], level=1)


def _figures(out: Path, result, preds) -> list[tuple[Path, str]]:
    """Sun et al.'s Figs. 4, 5a, 5b,c, 6 and 8 for the model chosen on validation."""
    figdir, img, s = out / "figures", result.data.observed, result.samples
    mask = img["land_mask"]
    lsm, grace = img["twsa_lsm"].where(mask), img["twsa_grace"].where(mask)
    times = pd.DatetimeIndex(img["time"].values)
    boundary = times[s.test[0]] if len(s.test) else times[-1]
    corrected = {
        r.name: lsm - xr.DataArray(r.mismatch, coords=lsm.coords, dims=lsm.dims)
        for r in result.runs
    }
    ridge = lsm - xr.DataArray(result.baselines["cell_ridge"], coords=lsm.coords, dims=lsm.dims)
    sd = img["twsa_grace_uncertainty"] if "twsa_grace_uncertainty" in img else None
    # the series figures show the GRACE era (from a year before the first GRACE month); the
    # months before it are in predictions.nc
    era = slice(max(0, int(s.train[0]) - 12), None)
    times = times[era]
    lsm_r, grace_r = fg.region(lsm, mask).isel(time=era), fg.region(grace, mask).isel(time=era)
    sd_r = None if sd is None else fg.region(sd, mask).isel(time=era)
    region = {
        k: fg.region(v, mask).isel(time=era) for k, v in {**corrected, "cell_ridge": ridge}.items()
    }
    test = s.test
    maps = {
        k: grid_skill(v.isel(time=test), grace.isel(time=test), mask, ("r", "nse"))
        for k, v in {"lsm": lsm, "cell_ridge": ridge, **corrected}.items()
    }
    figs = [
        (
            fg.mismatch_seasons((lsm - grace).isel(time=s.train), figdir / "fig4_mismatch_seasons.png"),
            "Fig. 4 — seasonal mean mismatch S = TWSA_LSM − TWSA_GRACE (training months) and "
            "its distribution over cells.",
        ),
        (
            fg.region_series(
                times, grace_r, sd_r, lsm_r, region, boundary,
                figdir / "fig5a_region_series.png",
            ),
            "Fig. 5a — area-weighted mean TWSA: GRACE with its uncertainty, the LSM, the "
            "per-cell ridge and the corrected TWSA of each network; dashed line: test months "
            "begin.",
        ),
        (
            fg.skill_cdfs(maps, figdir / "fig5bc_cdf_r_nse.png"),
            "Fig. 5b,c — CDFs of grid-cell correlation and NSE on the test months.",
        ),
    ]  # fmt: skip
    chosen = result.info.get("selected_model")
    if chosen:
        run = next(r for r in result.runs if r.name == chosen)
        like = lsm.coords, lsm.dims
        lo = fg.region(lsm + xr.DataArray(run.lower, coords=like[0], dims=like[1]), mask)
        hi = fg.region(lsm + xr.DataArray(run.upper, coords=like[0], dims=like[1]), mask)
        lo, hi = lo.isel(time=era), hi.isel(time=era)
        figs += [
            (
                fg.skill_maps(maps, chosen, figdir / "fig6_skill_maps.png"),
                f"Fig. 6 — grid-cell r and NSE on test months: LSM, {chosen} (chosen on "
                "validation months), and the gain.",
            ),
            (
                fg.region_series(
                    times, grace_r, None, lsm_r,
                    {chosen: region[chosen]}, boundary, figdir / "fig8_prediction_interval.png",
                    band=(lo, hi), title=f"Prediction beyond the training data ({chosen})",
                ),
                "Fig. 8 — corrected TWSA (also in months without GRACE and the GRACE/GRACE-FO "
                "gap) with its 95 % interval (region mean of the bounds); predictions.nc holds "
                "every LSM month, also those before GRACE.",
            ),
        ]  # fmt: skip
    return figs


def _intro(result) -> str:
    info = result.info
    spans = ", ".join(
        f"{name} {v['first']}..{v['last']} ({v['months']} months)"
        for name, v in info["splits"].items()
        if v["months"]
    )
    return (
        f"<p>Recipe <b>{html.escape(info['recipe'])}</b> on {html.escape(info['source'])} "
        f"data, device {html.escape(info['device'])}. Months: {html.escape(spans)}.</p>"
        "<p>Networks take gradient steps on training months, stop early on validation "
        "months, and their intervals are calibrated on the calibration months alone. Every "
        "choice (the ridge's penalty; the model to use, here "
        f"<b>{html.escape(str(info['selected_model']))}</b>, by {html.escape(info['selected_on'])}"
        ") is made on validation months; test months play no part in any of them.</p>"
        f"<p>Sun et al. (2019): {html.escape(PAPER_ROWS['noah'])}. For these inputs: "
        f"{html.escape(paper_row(result.recipe.samples))}.</p>"
    )


def models_table(info: dict) -> pd.DataFrame:
    """Parameter counts and timings (formatted by kind in :func:`table_html`)."""
    keys = {"parameters": "parameters", "trainable": "trainable", "epochs": "epochs",
            "best epoch": "best_epoch", "seconds": "seconds",
            "seconds per epoch": "seconds_per_epoch"}  # fmt: skip
    rows = {name: {col: m[k] for col, k in keys.items()} for name, m in info["models"].items()}
    return pd.DataFrame(rows).T


def write_fusion_report(out: Path, result, preds, wells: pd.DataFrame | None) -> Path:
    """All figures of a fusion run and ``report.html`` in ``out``."""
    metrics = result.table
    figs = _figures(out, result, preds)
    names = [r.name for r in result.runs]
    if wells is not None and len(wells):
        figs.append(
            (
                fg.well_figure(wells, names, result.data.observed["land_mask"],
                               out / "figures" / "fig7_wells.png"),
                "Fig. 7 — correlation of the predicted mismatch Ŝ with in-situ well anomalies "
                "(Ŝ ≈ −(groundwater + surface water) anomaly, so r < 0 is expected).",
            )
        )  # fmt: skip
    figs.append(
        (
            fg.training_curves({r.name: r.history for r in result.runs},
                               out / "figures" / "training_curves.png"),
            "Training and validation loss per epoch (first ensemble member).",
        )
    )  # fmt: skip
    cov = metrics[metrics.metric.str.startswith("coverage")].pivot_table(
        index=["model", "split"], columns="metric", values="value"
    )
    will = metrics[metrics.metric == "williams_p"].pivot_table(
        index="model", columns="split", values="value"
    )
    note = (
        "<p class='note'>Metrics against GRACE; <b>region</b> = the area-weighted mean series, "
        "<b>grid_median</b> = median over cells of the per-cell metric. <b>kge</b> is the "
        "published form of Kling et al. (2012); <b>kge_anomaly</b> replaces its bias ratio, "
        "ill-conditioned for anomalies, by the mean error in units of σ<sub>obs</sub>. "
        "Baselines: the raw LSM, the LSM regressed on GRACE per cell, GRACE's climatology "
        "and trend, and a per-cell ridge of the mismatch on exactly the networks' inputs "
        "(<b>cell_ridge</b>, penalty chosen on validation months).</p>"
    )
    sections = [
        ("", _intro(result)),
        ("Does each network beat the best baseline? (test months)",
         comparison_section(result.comparison)),
        ("Table 1 — skill against GRACE", table_html(table1(metrics)) + note),
        ("Significance of the correlation gain over the LSM (Williams' test p-values)",
         table_html(will, "{:.2g}")),
        ("Coverage of the 95 % intervals (share of cell-months inside)", table_html(cov)),
        ("Models", table_html(models_table(result.info))),
        ("Figures", "".join(figure_html(p, c) for p, c in figs)),
    ]  # fmt: skip
    return write_text(out / "report.html", page(f"gracefuse — {result.info['recipe']}", sections))
