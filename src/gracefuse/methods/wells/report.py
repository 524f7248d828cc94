"""Figures and report of a wells run: per-well anomaly correlations, predicted against
observed depth, and the series of a few held-out wells."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gracefuse.io import write_text
from gracefuse.methods.wells.scoring import per_well_r
from gracefuse.report.figures import save
from gracefuse.report.htmlpage import figure_html, page, table_html


def well_r_figure(problem, preds: dict, path: Path) -> Path:
    """Each held-out well's anomaly r, per model (k-fold)."""
    obs = problem.targets["dgwl_anomaly"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for k, p in enumerate(preds["dgwl_anomaly"].values()):
        r = np.array(list(per_well_r(p, obs, problem.well).values()))
        ax.scatter(np.full(len(r), k) + np.linspace(-0.15, 0.15, len(r)), r, s=10)
        ax.hlines(np.median(r), k - 0.3, k + 0.3, color="k")
    ax.set_xticks(range(len(preds["dgwl_anomaly"])), list(preds["dgwl_anomaly"]), fontsize=8)
    ax.set_ylabel("anomaly r at each held-out well")
    ax.axhline(0.8, ls="--", lw=0.8, color="grey")
    return save(fig, path)


def scatter_figure(problem, preds: dict, path: Path) -> Path:
    """Predicted against observed depth at held-out wells, per model (k-fold)."""
    obs = problem.targets["dgwl"]
    models = list(preds["dgwl"])
    fig, axes = plt.subplots(1, len(models), figsize=(2.6 * len(models), 2.8), squeeze=False)
    hi = np.nanmax(obs)
    for ax, m in zip(axes[0], models, strict=True):
        ax.scatter(obs, preds["dgwl"][m], s=2, alpha=0.3)
        ax.plot([0, hi], [0, hi], color="k", lw=0.8)
        ax.set_title(m, fontsize=8)
        ax.set_xlabel("observed depth (m)", fontsize=7)
    axes[0][0].set_ylabel("predicted depth (m)", fontsize=7)
    return save(fig, path)


def series_figure(problem, preds: dict, path: Path, n: int = 4) -> Path:
    """Observed and predicted depth at the first ``n`` wells (k-fold)."""
    wells = problem.wells[:n]
    fig, axes = plt.subplots(n, 1, figsize=(7, 1.8 * n), sharex=True, squeeze=False)
    time = problem.table["time"].values
    for ax, w in zip(axes[:, 0], wells, strict=True):
        k = problem.well == w
        ax.plot(time[k], problem.targets["dgwl"][k], color="k", lw=1.2, label="observed")
        for m, p in preds["dgwl"].items():
            ax.plot(time[k], p[k], lw=0.8, label=m)
        ax.set_title(w, fontsize=8)
        ax.invert_yaxis()
    axes[0, 0].legend(fontsize=6, ncol=5)
    return save(fig, path)


def write_wells_report(folder: Path, problem, fitted: dict, table: pd.DataFrame,
                       info: dict) -> Path:  # fmt: skip
    """Figures and ``report.html``."""
    preds = fitted["kfold"]
    figs = [(well_r_figure(problem, preds, folder / "well_r.png"), "anomaly r per held-out well"),
            (scatter_figure(problem, preds, folder / "depth_scatter.png"),
             "depth at held-out wells"),
            (series_figure(problem, preds, folder / "well_series.png"), "series at four wells")]  # fmt: skip
    view = table[table.metric.isin(["r", "nse", "rmse"])].pivot_table(
        index="model", columns=["split", "variable", "metric"], values="value", sort=False
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in info.get("notes", []))
    sections = [("Data", f"<ul>{notes}</ul>"), ("Scores at held-out wells", table_html(view))]
    sections += [("", figure_html(p, c)) for p, c in figs]
    return write_text(folder / "report.html", page("gracefuse wells run", sections))
