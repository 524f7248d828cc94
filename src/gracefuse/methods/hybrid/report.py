"""Figures and report of a hybrid run (Kraft et al. 2020, Figs. 3, 4 and 5)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gracefuse.evaluate.compare import region_mean
from gracefuse.io import write_text
from gracefuse.report.comparison import comparison_section
from gracefuse.report.figures import save, training_curves
from gracefuse.report.htmlpage import figure_html, page, table_html

COLORS = {"observed": "black", "hybrid": "tab:red", "lstm": "tab:blue",
          "conceptual": "tab:green", "hybrid_trend": "tab:orange", "lstm_trend": "tab:cyan",
          "truth": "black"}  # fmt: skip


def fig3_series(result, path: Path) -> Path:
    """Fig. 3: observed against simulated, mean over each region's samples, per target."""
    data, split, preds = result.data, result.splits[0], result.predictions[0]
    variables = [v for v in ("twsa", "et", "q", "swe") if v in data.targets]
    groups = list(np.unique(data.region))
    fig, axes = plt.subplots(len(variables), len(groups), squeeze=False,
                             figsize=(3.4 * len(groups), 2.3 * len(variables)))  # fmt: skip
    t = data.months
    for i, var in enumerate(variables):
        for j, g in enumerate(groups):
            sel = data.region == g
            ax = axes[i, j]
            obs = data.targets[var][sel]
            ax.plot(t, region_mean(obs.T, data.area[sel]), color="black", lw=1, label="observed")
            for name in ("hybrid", "lstm", "conceptual", "hybrid_trend", "lstm_trend"):
                if name in preds and var in preds[name]:
                    sim = np.where(np.isfinite(obs), preds[name][var][sel], np.nan)
                    ax.plot(t, region_mean(sim.T, data.area[sel]), lw=0.9, color=COLORS[name],
                            label=name)  # fmt: skip
            if split.score_months.any():
                ax.axvspan(t[split.score_months][0], t[split.score_months][-1], color="0.9")
            ax.set_title(f"{var} · {g} ({int(sel.sum())})", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"observed and simulated, region means; shaded: {split.name} months")
    return save(fig, path)


def fig4_latent(result, path: Path) -> Path:
    """Fig. 4: latent stores and fluxes of the hybrid across its runs (ensemble members and
    the spatial-fold model), mean over samples; the twin's truth where known."""
    data, runs = result.data, result.hybrid_runs
    names = ["gw", "cwd", "swe", "q_base", "frac_et_soil"]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.9 * len(names)), sharex=True)
    w = data.area
    for ax, name in zip(axes, names, strict=True):
        for k, (label, run) in enumerate(runs.items()):
            if name in run:
                s = region_mean(run[name].T, w)
                ax.plot(data.months, s - (s.mean() if name in ("gw", "cwd") else 0), lw=0.9,
                        color=plt.cm.tab10(k), label=label)  # fmt: skip
        if name in data.truth:
            s = region_mean(data.truth[name].T, w)
            ax.plot(data.months, s - s.mean(), color="black", lw=1.2, label="truth")
        ax.set_ylabel(name + (" anomaly" if name in ("gw", "cwd") else ""), fontsize=8)
    axes[0].legend(fontsize=7, ncol=4)
    fig.suptitle("hybrid latent stores and fluxes across runs (area-weighted mean)")
    return save(fig, path)


def fig5_partition(result, path: Path) -> Path:
    """Fig. 5: density of the partition fractions against the soil deficit (normalised per
    sample by its range), pooled over samples and months."""
    m = result.splits_models[0].get("hybrid")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
    if m is None:
        return save(fig, path)
    c = m.monthly["cwd"]
    span = np.nanmax(c, 1, keepdims=True) - np.nanmin(c, 1, keepdims=True)
    cn = (c - np.nanmin(c, 1, keepdims=True)) / np.maximum(span, 1e-9)
    for ax, name, label in zip(axes, ("frac_fast", "frac_soil", "frac_gw"),
                               ("α_qf (fast runoff)", "α_c (soil)", "α_g (groundwater)"),
                               strict=True):  # fmt: skip
        f = m.monthly[name]
        ok = np.isfinite(f) & np.isfinite(cn)
        ax.hist2d(cn[ok], f[ok], bins=40, cmap="Greys", range=[[0, 1], [0, 1]])
        ax.set_xlabel("soil deficit c (0 driest … 1 wettest, per sample)")
        ax.set_title(label)
    axes[0].set_ylabel("fraction of liquid water input")
    return save(fig, path)


def _headline(table: pd.DataFrame, split: str, scale: str) -> pd.DataFrame:
    sub = table[(table.split == split) & (table.scale == scale) & table.metric.isin(
        ["nse", "r", "kge", "rmse", "iav_nse"])]  # fmt: skip
    return sub.pivot_table(index=["variable", "model"], columns="metric", values="value")


def write_hybrid_report(folder: Path, result, info: dict) -> Path:
    """Figures and ``report.html``."""
    figs = [
        (fig3_series(result, folder / "fig3_observed_vs_simulated.png"),
         "Fig. 3: observed and simulated per region and target"),
        (fig4_latent(result, folder / "fig4_latent_stores.png"),
         "Fig. 4: latent stores and fluxes across runs"),
        (fig5_partition(result, folder / "fig5_partition_vs_deficit.png"),
         "Fig. 5: partition fractions against the soil deficit"),
        (training_curves(result.histories, folder / "training_curves.png"),
         "training and validation loss (temporal split)"),
    ]  # fmt: skip
    scale = "grid_median" if result.data.grid is not None else "basin_median"
    sections = []
    for split in result.splits:
        sections.append((f"Does the network beat the baselines? ({split.name})",
                         comparison_section(result.comparison, split.name)))  # fmt: skip
        sections.append((f"Skill, {split.name} ({scale})",
                         table_html(_headline(result.table, split.name, scale).reset_index())))  # fmt: skip
    robust = result.table[result.table.split == "runs"]
    if not robust.empty:
        sections.append(("Latent stores across runs", table_html(robust)))
    sections += [("", figure_html(p, c)) for p, c in figs]
    note = html.escape(f"source: {result.data.source}; {info.get('samples')} samples")
    sections.insert(0, ("", f"<p class='note'>{note}</p>"))
    return write_text(folder / "report.html", page("gracefuse hybrid run", sections))
