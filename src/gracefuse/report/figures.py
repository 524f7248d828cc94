"""Figures of a fusion run (matplotlib, Agg backend): Sun et al. (2019) Figs. 4–8."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from gracefuse.data.grid import region_mean  # noqa: E402
from gracefuse.evaluate.seasonal import SEASONS, empirical_cdf, seasonal_means  # noqa: E402
from gracefuse.io import atomic_path  # noqa: E402

COLORS = {
    "grace": "black",
    "lsm": "tab:orange",
    "segnet_lite": "tab:blue",
    "segnet_pool": "tab:cyan",
    "unet": "tab:green",
    "vgg16": "tab:purple",
    "vgg16_scratch": "tab:purple",
    "vgg16_unet": "tab:pink",
    "ridge+segnet_pool": "tab:red",
    "cell_ridge": "tab:brown",
    "lsm_regression": "tab:olive",
    "climatology_trend": "tab:gray",
}


def save(fig: plt.Figure, path: Path) -> Path:
    """Save a figure atomically as PNG and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _map(ax, da: xr.DataArray, title: str, cmap: str = "RdBu_r", vmin=None, vmax=None):
    im = ax.pcolormesh(
        da["lon"], da["lat"], da.values, cmap=cmap, vmin=vmin, vmax=vmax, shading="auto"
    )
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    return im


def mismatch_seasons(mismatch: xr.DataArray, path: Path) -> Path:
    """Fig. 4: seasonal mean maps of the mismatch S = LSM − GRACE and their histograms."""
    seas = seasonal_means(mismatch)
    lim = float(np.nanpercentile(np.abs(seas.values), 98)) or 1.0
    fig, axes = plt.subplots(2, 4, figsize=(13, 6), gridspec_kw={"height_ratios": [3, 1.4]})
    for k, s in enumerate(SEASONS):
        im = _map(axes[0, k], seas.sel(season=s), f"S = LSM − GRACE, {s}", vmin=-lim, vmax=lim)
        v = seas.sel(season=s).values.ravel()
        axes[1, k].hist(v[np.isfinite(v)], bins=30, color="tab:gray")
        axes[1, k].set_xlabel("mm", fontsize=8)
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.7, label="mm")
    return save(fig, path)


def region_series(
    times: pd.DatetimeIndex,
    grace: xr.DataArray,
    grace_sd: xr.DataArray | None,
    lsm: xr.DataArray,
    corrected: dict[str, xr.DataArray],
    boundary: pd.Timestamp,
    path: Path,
    band: tuple[xr.DataArray, xr.DataArray] | None = None,
    title: str = "Region-mean TWSA",
) -> Path:
    """Fig. 5a / 8: region-mean series of GRACE (± 1.96σ), the LSM and corrected TWSA."""
    fig, ax = plt.subplots(figsize=(12, 4))
    if band is not None:
        ax.fill_between(
            times,
            band[0],
            band[1],
            color=COLORS.get(next(iter(corrected)), "tab:blue"),
            alpha=0.2,
            label="95 % interval (conformal)",
        )
    if grace_sd is not None:
        ax.fill_between(
            times,
            grace - 1.96 * grace_sd,
            grace + 1.96 * grace_sd,
            color="0.7",
            alpha=0.5,
            label="GRACE ± 1.96σ (mean cell σ)",
        )
    ax.plot(times, grace, color=COLORS["grace"], lw=1.6, label="GRACE", marker=".", ms=3)
    ax.plot(times, lsm, color=COLORS["lsm"], lw=1.2, label="LSM")
    for name, series in corrected.items():
        ax.plot(times, series, color=COLORS.get(name), lw=1.2, label=f"corrected ({name})")
    ax.axvline(boundary, color="k", ls="--", lw=1)
    ax.text(boundary, ax.get_ylim()[1], "  train | test", va="top", fontsize=8)
    ax.set_ylabel("TWSA (mm)")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=3, loc="lower left")
    return save(fig, path)


def skill_cdfs(maps: dict[str, xr.Dataset], path: Path) -> Path:
    """Fig. 5b,c: CDFs of grid-cell r and NSE on the test months."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, lo in ((axes[0], "r", -0.2), (axes[1], "nse", -1.0)):
        for name, ds in maps.items():
            v, p = empirical_cdf(ds[metric])
            ax.plot(v, p, color=COLORS.get(name), label=name)
        ax.set_xlim(lo, 1)
        ax.set_xlabel(f"grid-cell {metric.upper()} (test)")
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path)


def skill_maps(maps: dict[str, xr.Dataset], best: str, path: Path) -> Path:
    """Fig. 6: maps of r and NSE for the LSM and the best model, and their improvement."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 8))
    for row, metric in enumerate(("r", "nse")):
        lo = 0.0 if metric == "r" else -1.0
        _map(axes[row, 0], maps["lsm"][metric], f"LSM {metric.upper()}", "viridis", lo, 1)
        im = _map(axes[row, 1], maps[best][metric], f"{best} {metric.upper()}", "viridis", lo, 1)
        fig.colorbar(im, ax=axes[row, :2].tolist(), shrink=0.8)
        gain = maps[best][metric] - maps["lsm"][metric]
        lim = float(np.nanpercentile(np.abs(gain.values), 95)) or 0.1
        im2 = _map(axes[row, 2], gain, f"Δ{metric.upper()} ({best} − LSM)", "RdBu", -lim, lim)
        fig.colorbar(im2, ax=axes[row, 2], shrink=0.8)
    return save(fig, path)


def well_figure(wells: pd.DataFrame, models: list[str], mask: xr.DataArray, path: Path) -> Path:
    """Fig. 7: correlation of Ŝ with in-situ well anomalies, per well, on a map and histogram."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    axes[0].contour(mask["lon"], mask["lat"], mask.values.astype(float), levels=[0.5], colors="0.5")
    sc = axes[0].scatter(
        wells["lon"],
        wells["lat"],
        c=wells[models[0]],
        cmap="RdBu",
        vmin=-1,
        vmax=1,
        s=30,
        edgecolor="k",
    )
    fig.colorbar(sc, ax=axes[0], label=f"r(Ŝ {models[0]}, well anomaly)")
    axes[0].set_aspect("equal")
    for m in models:
        axes[1].hist(wells[m].dropna(), bins=15, alpha=0.5, label=m, color=COLORS.get(m))
    axes[1].set_xlabel("correlation of Ŝ with well anomalies")
    axes[1].legend(fontsize=8)
    return save(fig, path)


def training_curves(histories: dict[str, list[dict]], path: Path) -> Path:
    """Training and validation loss per epoch for every model."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, hist in histories.items():
        e = [h["epoch"] for h in hist]
        ax.plot(e, [h["train_loss"] for h in hist], color=COLORS.get(name), label=f"{name} train")
        ax.plot(
            e,
            [h["val_loss"] for h in hist],
            color=COLORS.get(name),
            ls="--",
            label=f"{name} validation",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    return save(fig, path)


def region(da: xr.DataArray, mask: xr.DataArray) -> xr.DataArray:
    """Area-weighted region mean inside ``mask``."""
    return region_mean(da.where(mask), mask)
