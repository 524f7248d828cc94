"""Figures and report of a reconstruction / gap-filling run (Yu et al. 2021, Figs. 11, 12, 17)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.evaluate.metrics import pearson_r, rmse
from gracefuse.io import write_text
from gracefuse.methods.reconstruction.baselines import BASELINES
from gracefuse.report.comparison import comparison_section
from gracefuse.report.figures import _map, region, save
from gracefuse.report.htmlpage import figure_html, page, table_html


def _da(a: np.ndarray, like: xr.DataArray) -> xr.DataArray:
    return xr.DataArray(a, coords=like.coords, dims=like.dims)


def cc_rmse_maps(result, path: Path) -> Path:
    """Fig. 11: per-cell correlation and RMSE on the test months for each model."""
    grid = result.data.grid
    like, mask = grid["twsa_grace"], grid["land_mask"]
    idx = result.splits.test
    names = [m for m in result.predictions if m not in ("persistence", "linear_interp")]
    obs = like.isel(time=idx)
    cc, err = {}, {}
    for name in names:
        sim = _da(result.predictions[name], like).isel(time=idx)
        cc[name], err[name] = pearson_r(sim, obs).where(mask), rmse(sim, obs).where(mask)
    vmax = float(np.nanpercentile(np.concatenate([e.values.ravel() for e in err.values()]), 95))
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 6), squeeze=False)
    for k, name in enumerate(names):
        im1 = _map(axes[0, k], cc[name], f"{name}: CC", "viridis", 0, 1)
        im2 = _map(axes[1, k], err[name], f"{name}: RMSE (mm)", "magma_r", 0, vmax or 1)
    fig.colorbar(im1, ax=axes[0].tolist(), shrink=0.8)
    fig.colorbar(im2, ax=axes[1].tolist(), shrink=0.8)
    return save(fig, path)


def region_shaded(
    result, path: Path, models: list[str], title: str, reference: bool = False
) -> Path:
    """Fig. 12 / 17: region-mean series with train and test months shaded."""
    grid = result.data.grid
    like, mask = grid["twsa_grace"], grid["land_mask"]
    times = pd.DatetimeIndex(grid["time"].values)
    fig, ax = plt.subplots(figsize=(12, 4))
    for idx, color, label in (
        (result.splits.test, "tab:red", "test"),
        (result.splits.hidden_block, "tab:purple", "hidden block"),
        (result.splits.hidden_single, "tab:olive", "hidden single"),
    ):
        for k in idx:
            ax.axvspan(
                times[k],
                times[k] + pd.offsets.MonthEnd(1),
                color=color,
                alpha=0.12,
                lw=0,
                label=label if k == idx[0] else None,
            )
    if reference and result.data.reference is not None:
        ax.plot(
            times,
            region(_da(result.data.reference, like), mask),
            color="0.5",
            lw=1,
            label="GRACE-like truth (twin)",
        )
    ax.plot(times, region(like, mask), color="k", lw=1.5, marker=".", ms=3, label="GRACE")
    for name in models:
        ax.plot(times, region(_da(result.predictions[name], like), mask), lw=1.1, label=name)
    ax.set_ylabel("TWSA (mm)")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=4, loc="lower left")
    return save(fig, path)


def example_fills(result, path: Path) -> Path:
    """Observed (hidden) GRACE vs the fill model for months of the hidden block."""
    grid = result.data.grid
    like, mask = grid["twsa_grace"], grid["land_mask"]
    idx = result.splits.hidden_block if len(result.splits.hidden_block) else result.splits.test
    pick = idx[[0, len(idx) // 2, -1]] if len(idx) >= 3 else idx
    best = _da(result.predictions[result.fill_model], like)
    lim = float(np.nanpercentile(np.abs(like.isel(time=pick).values), 98)) or 1
    fig, axes = plt.subplots(2, len(pick), figsize=(3.6 * len(pick), 6.5), squeeze=False)
    for k, t in enumerate(pick):
        label = f"{pd.Timestamp(like.time.values[t]):%Y-%m}"
        _map(
            axes[0, k], like.isel(time=t).where(mask), f"GRACE (hidden) {label}", "RdBu", -lim, lim
        )
        im = _map(
            axes[1, k],
            best.isel(time=t).where(mask),
            f"{result.fill_model} {label}",
            "RdBu",
            -lim,
            lim,
        )
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, label="mm")
    return save(fig, path)


def _figures(result, figdir: Path, learned: list[str]) -> list[tuple[Path, str]]:
    """Yu et al.'s Figs. 11, 12 and 17 and example filled months."""
    figs = [
        (
            cc_rmse_maps(result, figdir / "fig11_cc_rmse_maps.png"),
            "Fig. 11 — per-cell correlation and RMSE against GRACE on the test months.",
        ),
        (
            region_shaded(
                result,
                figdir / "fig12_region_series.png",
                [*(["lsm"] if "lsm" in result.predictions else []), *learned],
                "Region-mean TWSA; shaded: test and hidden months",
            ),
            "Fig. 12 — region-mean series of GRACE and the reconstructions.",
        ),
        (
            example_fills(result, figdir / "example_filled_months.png"),
            f"Filled months of the hidden 11-month block: GRACE (withheld) and {result.fill_model}.",
        ),
    ]
    if len(result.splits.hindcast):
        figs.append(
            (
                region_shaded(
                    result,
                    figdir / "fig17_before_2002.png",
                    learned,
                    "Reconstruction before GRACE",
                    reference=True,
                ),
                "Fig. 17 — reconstruction before 2002 (scored against the twin's truth).",
            )
        )
    return figs


def _rmse_verdicts(t, learned: list[str]) -> list[str]:
    """HTML list items: each network against the best baseline in grid-median RMSE."""
    wide = t[t.scale.isin(["region", "grid_median"]) & ~t.metric.str.startswith("nse_gain")]
    wide = wide.pivot_table(index=["split", "model"], columns=["scale", "metric"], values="value")
    verdicts = []
    for split in ("hidden_block", "hidden_single", "test", "forecast_1m"):
        sub = t[(t.split == split) & (t.scale == "grid_median") & (t.metric == "rmse")]
        if sub.empty:
            continue
        base = sub[sub.model.isin(BASELINES)]
        for name in learned:
            row = sub[sub.model == name]
            if row.empty or base.empty:
                continue
            best_base = base.sort_values("value").iloc[0]
            beats = float(row.value.iloc[0]) < float(best_base.value)
            style = "" if beats else ' style="color:#a00"'
            verdicts.append(
                f"<li{style}>{html.escape(split)}: "
                f"<b>{html.escape(name)}</b> "
                f"{'beats' if beats else 'does <b>not</b> beat'} the best baseline "
                f"({html.escape(best_base.model)}, grid-median RMSE {best_base.value:.1f} mm vs "
                f"{float(row.value.iloc[0]):.1f} mm)</li>"
            )
    return verdicts


def write_reconstruction_report(out: Path, result, info: dict) -> Path:
    """Figures and ``report.html`` of a reconstruction run."""
    learned = [m for m in result.parameters]
    figs = _figures(result, out / "figures", learned)
    t = result.table
    verdicts = _rmse_verdicts(t, learned)
    wide = t[t.scale.isin(["region", "grid_median"]) & ~t.metric.str.startswith("nse_gain")]
    wide = wide.pivot_table(index=["split", "model"], columns=["scale", "metric"], values="value")
    cov = t[t.metric == "coverage95"].set_index(["model", "split"])[["value"]]
    params = t[t.scale == "model"].pivot_table(index="model", columns="metric", values="value")
    sections = [
        (
            "",
            f"<p>Recipe <b>{html.escape(info['recipe'])}</b> on {html.escape(info['source'])} "
            f"data. Gaps are filled by <b>{html.escape(result.fill_model)}</b>, the lowest "
            "grid-median RMSE on the validation block (a block as long as the GRACE/GRACE-FO "
            "gap that no model trained on; the reported hidden block played no part in the "
            "choice); months outside the training span (the hindcast) by "
            f"<b>{html.escape(result.hindcast_model)}</b>. Test months are never an input of a scored prediction; the one-month-"
            "ahead forecasts (forecast_1m) use the months before by design. Months: "
            + ", ".join(f"{k} {v}" for k, v in info["months"].items())
            + ".</p>",
        ),
        (
            "Does each network beat the best baseline? (reported hidden block, NSE)",
            comparison_section(result.comparison, "hidden_block"),
        ),
        ("… and on the test months (NSE)", comparison_section(result.comparison, "test")),
        ("Against the baselines (grid-median RMSE)", f"<ul>{''.join(verdicts)}</ul>"),
        ("Skill against GRACE (hindcast: against the GRACE-like truth)", table_html(wide)),
        (
            "Coverage of the 95 % fill interval",
            "<p>Months inside the training span get intervals calibrated on the validation "
            "block and the hidden months (never on early-stopping months); months before or "
            "after it (hindcasts, the end of the record) get wider ones calibrated on the test "
            "months at both ends. Each coverage below is measured on months its interval was "
            "not calibrated on.</p>" + table_html(cov),
        ),
        ("Parameters and seconds per training epoch", table_html(params)),
        ("Figures", "".join(figure_html(p, c) for p, c in figs)),
    ]
    return write_text(out / "report.html", page(f"gracefuse — {info['recipe']}", sections))
