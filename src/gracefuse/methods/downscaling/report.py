"""Figures and report of a downscaling run: coarse input, truth and every method's fine map
side by side; error maps; a reliability diagram of the intervals; test scores."""

from __future__ import annotations

import html
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gracefuse.io import write_text
from gracefuse.methods.downscaling.scoring import reliability
from gracefuse.report.figures import save
from gracefuse.report.htmlpage import figure_html, page, table_html


def _panel(ax, lat, lon, values, title, vmin, vmax, cmap="RdBu_r"):
    im = ax.pcolormesh(lon, lat, values, cmap=cmap, vmin=vmin, vmax=vmax, shading="auto")
    ax.set_title(title, fontsize=8)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    return im


def maps_figure(result, path: Path) -> Path:
    """The last test month: coarse input, fine truth (twin) and each method."""
    p = result.problem
    k = int(np.nonzero(p.months_of("test"))[0][-1])
    panels = [("coarse input", p.lat_coarse, p.lon_coarse, p.coarse[k])]
    if p.truth is not None:
        panels.append(("fine truth", p.lat, p.lon, p.truth[k]))
    panels += [(m, p.lat, p.lon, f["gwsa"][k]) for m, f in result.fields.items()]
    lim = np.nanpercentile(np.abs(panels[0][3]), 98) * 1.3
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9), squeeze=False)
    for ax, (title, lat, lon, v) in zip(axes[0], panels, strict=True):
        im = _panel(ax, lat, lon, v, title, -lim, lim)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="GWSA (mm)")
    fig.suptitle(f"{p.months[k]:%Y-%m}", fontsize=9)
    return save(fig, path)


def error_figure(result, path: Path) -> Path:
    """Mean absolute error per fine cell over the test months, per method."""
    p = result.problem
    test = p.months_of("test")
    with warnings.catch_warnings():  # cells off land are NaN throughout
        warnings.simplefilter("ignore", RuntimeWarning)
        maes = {m: np.nanmean(np.abs(f["gwsa"][test] - p.truth[test]), 0)
                for m, f in result.fields.items()}  # fmt: skip
    vmax = np.nanpercentile(maes["nearest"], 98)
    fig, axes = plt.subplots(1, len(maes), figsize=(2.6 * len(maes), 2.9), squeeze=False)
    for ax, (m, v) in zip(axes[0], maes.items(), strict=True):
        im = _panel(ax, p.lat, p.lon, v, f"{m}: {np.nanmean(v):.1f} mm", 0, vmax, "magma_r")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="MAE over test months (mm)")
    return save(fig, path)


def reliability_figure(result, path: Path) -> Path:
    """Observed against nominal coverage on the test months (calibrated on validation)."""
    p = result.problem
    test = p.months_of("test")
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0.5, 1], [0.5, 1], color="k", lw=0.8, ls="--")
    for m, f in result.fields.items():
        pts = reliability(f["gwsa"][test], p.truth[test], f["scale"][test], f["q"])
        ax.plot(*zip(*pts, strict=True), marker="o", ms=3, label=m)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage (test months)")
    ax.legend(fontsize=7)
    return save(fig, path)


def shap_figure(importance: pd.DataFrame, path: Path, top: int = 10) -> Path:
    """Each learned downscaler's ``top`` predictors by mean |SHAP| (mm)."""
    models = list(importance.model.unique())
    fig, axes = plt.subplots(1, len(models), figsize=(3.0 * len(models), 3.4), squeeze=False)
    for ax, m in zip(axes[0], models, strict=True):
        t = importance[importance.model == m].nsmallest(top, "rank")[::-1]
        ax.barh(t.predictor, t.mean_abs_shap)
        ax.set_title(m, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("mean |SHAP| (mm)", fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def _scores(table: pd.DataFrame) -> pd.DataFrame:
    t = table[table.split == "test"]
    return t.pivot_table(index="model", columns="metric", values="value", sort=False)


def _against_baseline(comparison: pd.DataFrame | None) -> list[tuple[str, str]]:
    """The comparison with the best baseline, each network that does not beat it flagged."""
    if comparison is None or comparison.empty:
        return []
    keep = ["model", "value", "baseline", "baseline_value", "gain", "ci_low", "ci_high",
            "p_value", "significant"]  # fmt: skip
    losers = comparison.loc[~comparison.beats.astype(bool), "model"].tolist()
    note = (f"<p class='note'>⚠ not better than the best baseline: {html.escape(', '.join(losers))}"
            "</p>" if losers else "")  # fmt: skip
    head = "MAE against the best baseline (gain in mm, block bootstrap over test months)"
    return [(head, note + table_html(comparison[keep].set_index("model")))]


def write_downscaling_report(folder: Path, result, table: pd.DataFrame, info: dict,
                             comparison: pd.DataFrame | None = None) -> Path:  # fmt: skip
    """Figures and ``report.html``."""
    figs = [(maps_figure(result, folder / "maps.png"), "coarse input, truth and each method")]
    if result.problem.truth is not None:
        figs.append((error_figure(result, folder / "errors.png"), "error maps (test months)"))
        figs.append((reliability_figure(result, folder / "reliability.png"),
                     "reliability of the intervals on the test months"))  # fmt: skip
    if result.importance is not None:
        write_text(folder / "shap.csv", result.importance.to_csv(index=False))
        figs.append((shap_figure(result.importance, folder / "shap.png"),
                     "SHAP importance of the predictors (test months)"))  # fmt: skip
    chosen = (f"<p>Model chosen on {html.escape(info['selected_on'])}: "
              f"<b>{html.escape(info['selected_model'])}</b></p>" if "selected_model" in info
              else "")  # fmt: skip
    sections = [("", f"<p class='note'>{html.escape(info.get('source', ''))}</p>" + chosen),
                ("Test scores", table_html(_scores(table)))]  # fmt: skip
    sections += _against_baseline(comparison)
    sections += [("", figure_html(p, c)) for p, c in figs]
    return write_text(folder / "report.html", page("gracefuse downscaling run", sections))
