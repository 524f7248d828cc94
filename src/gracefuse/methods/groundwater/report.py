"""Figures and report of a groundwater run: the GWSA series with its band, the TCH bars,
trend and hotspot maps (or basin bars), STL panels and driver bars."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gracefuse.data.grid import region_mean
from gracefuse.io import write_text
from gracefuse.report.figures import _map, save
from gracefuse.report.htmlpage import figure_html, page, table_html

Z95 = 1.959964


def series_figure(result, path: Path) -> Path:
    """The analysed storage averaged over the area, its 95 % band, TWSA and the stores,
    and the reference (NASA's estimate or the twin's truth)."""
    inp, mean = result.inputs, result.area_mean
    fig, ax = plt.subplots(figsize=(10, 3.8))
    t = mean["time"].values
    s = mean["storage"]
    if "uncertainty" in mean:
        u = Z95 * mean["uncertainty"]
        ax.fill_between(t, s - u, s + u, color="tab:blue", alpha=0.25, label="95 % band")
    ax.plot(t, s, color="tab:blue", lw=1.2, label=result.analysed)
    ref = inp.truth.get("gwsa", inp.reference.get("gwsa"))
    if ref is not None:
        r = region_mean(ref, inp.mask) if inp.space == "grid" else ref
        label = "true GWSA" if "gwsa" in inp.truth else "NASA's GWSA"
        ax.plot(r["time"], r, color="black", lw=1, ls="--", label=label)
    if result.separation is not None:
        sep = result.separation
        for k in ["twsa", *inp.components]:
            v = region_mean(sep[k], inp.mask) if inp.space == "grid" else sep[k]
            v = v.mean("basin") if "basin" in v.dims else v
            ax.plot(v["time"], v, lw=0.7, label=k)
    ax.set_ylabel("mm")
    ax.legend(fontsize=7, ncol=4)
    ax.set_title(f"{result.analysed}, area mean; trend {result.area_trend}".replace(
        "per yr", "mm/yr"), fontsize=9)  # fmt: skip
    return save(fig, path)


def tch_figure(result, path: Path) -> Path:
    """Median TCH noise of each product, the combination and the equal-weight mean
    (bars: interquartile range over locations), and a product's TCH noise against its own
    stated uncertainty."""
    tch = result.tch
    own = result.inputs.own_uncertainty
    fig, axes = plt.subplots(1, 2 if own else 1, figsize=(11 if own else 6, 3.8), squeeze=False)
    ax = axes[0, 0]
    values = {str(p): tch["noise_std"].sel(product=p).values.ravel() for p in tch["product"].values}
    values["equal-weight mean"] = tch["mean_noise_std"].values.ravel()
    names = list(values)
    med = [np.nanmedian(values[n]) for n in names]
    q = np.array([np.nanpercentile(values[n], [25, 75]) for n in names])
    ax.bar(names, med, yerr=[np.subtract(med, q[:, 0]), q[:, 1] - med], capsize=3,
           color=["tab:gray"] * (len(names) - 2) + ["tab:red", "tab:orange"])  # fmt: skip
    ax.set_ylabel("TCH noise σ (mm)")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    ax.set_title("three-cornered hat: noise per product (median, IQR)", fontsize=9)
    for k, (p, da) in enumerate(own.items()):
        a = tch["noise_std"].sel(product=p).values
        b = da.mean("time").values
        axes[0, 1].scatter(b, a, s=10, color=plt.cm.tab10(k), label=p)
    if own:
        axes[0, 1].set_xlabel("own stated uncertainty, mean (mm)")
        axes[0, 1].set_ylabel("TCH noise (mm)")
        axes[0, 1].legend(fontsize=7)
    return save(fig, path)


def trend_figure(result, path: Path) -> Path:
    """Grids: slope and hotspot maps; basins: slopes with their intervals, sorted."""
    tr = result.trends
    if "lat" in tr.dims:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        lim = float(np.nanpercentile(np.abs(tr.slope), 98)) or 1.0
        im = _map(axes[0], tr.slope, f"Sen slope ({tr.attrs.get('period')})", vmin=-lim, vmax=lim)
        fig.colorbar(im, ax=axes[0], label="mm/yr", shrink=0.8)
        im = _map(axes[1], tr.p_value, f"Mann-Kendall p ({tr.attrs.get('mann_kendall')})",
                  cmap="viridis_r", vmin=0, vmax=0.2)  # fmt: skip
        fig.colorbar(im, ax=axes[1], shrink=0.8)
        hot = tr.hotspot.astype(float).where(np.isfinite(tr.slope))
        _map(axes[2], hot, f"hotspots: p < {tr.hotspot.attrs.get('alpha')}, slope < "
             f"{tr.hotspot.attrs.get('threshold')} mm/yr", cmap="Reds", vmin=0, vmax=1)  # fmt: skip
        boxes = result.regions["box"] if "box" in result.regions else []
        for s, n, w, e in boxes:
            axes[2].plot([w, e, e, w, w], [s, s, n, n, s], color="black", lw=0.8)
        return save(fig, path)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    if "basin" in tr.dims:
        order = np.argsort(tr.slope.values)
        x = np.arange(len(order))
        lo, hi = tr.slope_lower.values[order], tr.slope_upper.values[order]
        ax.vlines(x, lo, hi, color="0.6", lw=1)
        ax.scatter(x, tr.slope.values[order], s=8,
                   c=np.where(tr.significant.values[order], "tab:red", "tab:blue"))  # fmt: skip
        ax.set_xlabel("basins, sorted (red: significant)")
    else:
        ax.errorbar([0], [float(tr.slope)], yerr=[[float(tr.slope - tr.slope_lower)],
                                                  [float(tr.slope_upper - tr.slope)]], fmt="o")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("Sen slope, 95 % interval (mm/yr)")
    return save(fig, path)


def stl_figure(result, path: Path) -> Path:
    """STL of the area-mean storage: observed, trend, seasonal, residual."""
    stl = result.stl
    fig, axes = plt.subplots(4, 1, figsize=(10, 6.5), sharex=True)
    obs = stl.trend + stl.seasonal + stl.resid
    for ax, (name, v) in zip(axes, [("observed", obs), ("trend", stl.trend),
                                    ("seasonal", stl.seasonal), ("residual", stl.resid)],
                             strict=True):  # fmt: skip
        ax.plot(stl["time"], v, lw=0.9)
        ax.set_ylabel(f"{name} (mm)", fontsize=8)
    filled = stl["time"].values[stl.filled.values]
    axes[0].scatter(filled, obs.sel(time=filled), s=8, color="tab:red", label="gap filled")
    axes[0].legend(fontsize=7)
    return save(fig, path)


def driver_figure(drivers: pd.DataFrame, path: Path) -> Path:
    """Median r (over locations) of each driver's STL trend and seasonal parts."""
    local = drivers[drivers.location != "area_mean"]
    med = local.groupby(["driver", "component"]).r.median().unstack("component")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    med.plot.bar(ax=ax, rot=0)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("median r at the best lag")
    ax.set_title("drivers per time scale (STL parts)", fontsize=9)
    return save(fig, path)


def _headline(table: pd.DataFrame) -> pd.DataFrame:
    sub = table[table.model.isin(["separation", "twsa_only", "trend", "season", "combined",
                                  "mean_of_products"]) | table.metric.isin(
        ["noise_std", "spearman_own_uncertainty"])]  # fmt: skip
    return sub[["model", "variable", "split", "scale", "metric", "value"]]


def write_groundwater_report(folder: Path, result, table: pd.DataFrame, info: dict) -> Path:
    """Figures and ``report.html``."""
    figs = [(series_figure(result, folder / "gwsa_series.png"),
             f"{result.analysed} averaged over the area with its 95 % band")]  # fmt: skip
    if result.tch is not None:
        figs.append((tch_figure(result, folder / "tch_noise.png"), "three-cornered hat"))
    figs.append((trend_figure(result, folder / "trends.png"), "trends and hotspots"))
    if result.stl is not None:
        figs.append((stl_figure(result, folder / "stl.png"), "STL of the area mean"))
    if not result.drivers.empty:
        figs.append((driver_figure(result.drivers, folder / "drivers.png"), "drivers"))
    sections = [("", f"<p class='note'>{html.escape(info.get('source', ''))}: "
                     f"{html.escape(' | '.join(result.inputs.notes))}</p>"),
                ("Headline numbers", table_html(_headline(table)))]  # fmt: skip
    if not result.regions.empty:
        sections.append(("Regions", table_html(result.regions.drop(columns=["text", "box"]))))
    if not result.drivers.empty:
        drv = table[table.model == "drivers"]
        sections.append(("Drivers per time scale", table_html(drv)))
    sections += [("", figure_html(p, c)) for p, c in figs]
    return write_text(folder / "report.html", page("gracefuse groundwater run", sections))
