"""Fusion (Sun et al. 2019): learn the LSM–GRACE mismatch with CNNs and correct the LSM.

``run_fusion(recipe, out_dir)`` writes one run folder:

- ``config.toml`` (the resolved recipe), ``checkpoints/<model>/{last,best}.pt``
- ``predictions.nc``: corrected TWSA, predicted mismatch Ŝ and 95 % intervals per model for
  every LSM month (also months without GRACE, the GRACE/GRACE-FO gap, years before 2002)
- ``metrics.csv``: ``model,split,scale,metric,value`` (the paper's Table 1 plus the LSM)
- ``figures/*.png`` and ``report.html``; ``run.log``
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from gracefuse.config import FileSource, Recipe, TwinSource, dump_recipe
from gracefuse.data.grace import open_grace
from gracefuse.data.grid import Box, check_same_grid, region_mean, regrid_conservative
from gracefuse.data.grid import to_image_grid as _to_image
from gracefuse.data.lsm import open_lsm
from gracefuse.data.synthetic import make_twin, make_wells
from gracefuse.data.tables import open_wells
from gracefuse.errors import ConfigError, InputError
from gracefuse.evaluate.metrics import pearson_r
from gracefuse.evaluate.regions import skill_rows
from gracefuse.evaluate.stats import williams_test
from gracefuse.evaluate.uncertainty import conformal_quantile
from gracefuse.io import write_netcdf, write_text
from gracefuse.losses import mismatch_loss
from gracefuse.models import DOWNSAMPLING, build_model, count_parameters
from gracefuse.samples import FusionSamples, build_samples
from gracefuse.train import choose_device, fit, predict, seed_everything

log = logging.getLogger(__name__)
TABLE_METRICS = ("r", "nse", "rmse", "kge")


@dataclass
class FusionData:
    """The study area on the N×N image grid, plus the native GRACE grid for outputs."""

    image: xr.Dataset  # twsa_lsm, twsa_grace, twsa_grace_uncertainty?, precip, tair, land_mask
    native: xr.Dataset | None = None  # GRACE grid when it differs from the image grid
    wells: pd.DataFrame | None = None  # well_id, lat, lon, time, value
    source: str = "twin"


@dataclass
class ModelRun:
    """Everything one trained architecture produced."""

    name: str
    parameters: int
    trainable: int
    mismatch: np.ndarray  # (T, H, W) mm
    mismatch_sd: np.ndarray | None  # MC-dropout spread, mm
    lower: np.ndarray = field(default_factory=lambda: np.empty(0))
    upper: np.ndarray = field(default_factory=lambda: np.empty(0))
    lower_rmse: np.ndarray = field(default_factory=lambda: np.empty(0))
    upper_rmse: np.ndarray = field(default_factory=lambda: np.empty(0))
    seconds: float = 0.0
    epochs: int = 0
    best_epoch: int = 0
    seconds_per_epoch: float = 0.0
    history: list[dict] = field(default_factory=list)  # losses per epoch (first member)


# ----------------------------------------------------------------------------- data
def load_data(recipe: Recipe) -> FusionData:
    """Read or make the inputs named by ``recipe.data`` and bring them to the image grid."""
    src = recipe.data
    if isinstance(src, TwinSource):
        twin = make_twin(size=src.size, seed=src.seed, start=src.start, end=src.end)
        image = twin[["twsa_lsm", "twsa_grace", "twsa_grace_uncertainty", "precip", "tair"]]
        image = image.assign(land_mask=twin["land_mask"], twsa_true=twin["twsa_true"])
        wells = make_wells(twin, n_wells=40).rename(columns={"head_anomaly_m": "value"})
        return FusionData(image=image, wells=wells, source="twin")
    return _load_files(src, recipe.samples.image_size)


def _load_files(src: FileSource, size: int) -> FusionData:
    box = Box(*src.box)
    grace = open_grace(src.grace, src.grace_scale_factors, src.grace_land_mask, box=box)
    lsm = open_lsm(src.lsm, src.lsm_model, box=box)
    if grace.sizes["lat"] < 2 or lsm.sizes["lat"] < 2:
        raise InputError(src.grace, f"the box {src.box} holds fewer than 2 grid rows")
    lsm_img = _to_image(lsm[[v for v in ("twsa", "precip", "tair") if v in lsm]], box, size)
    keep = [v for v in ("twsa", "twsa_uncertainty") if v in grace]
    grace_img = _to_image(grace[keep], box, size).reindex(time=lsm_img["time"])
    image = xr.Dataset(
        {
            "twsa_lsm": lsm_img["twsa"],
            "twsa_grace": grace_img["twsa"],
            **({"precip": lsm_img["precip"]} if "precip" in lsm_img else {}),
            **({"tair": lsm_img["tair"]} if "tair" in lsm_img else {}),
        }
    )
    if "twsa_uncertainty" in grace_img:
        image["twsa_grace_uncertainty"] = grace_img["twsa_uncertainty"]
    observed = image["twsa_grace"].notnull().any("time") & image["twsa_lsm"].notnull().any("time")
    image["land_mask"] = observed
    if int(observed.sum()) == 0:
        raise InputError(src.grace, "GRACE and the LSM have no valid cell in common in the box")
    wells = None
    if src.wells:
        w = open_wells(src.wells, src.wells_value)
        name = w.attrs["value_variable"]
        wells = (
            w[name].to_dataframe().reset_index().rename(columns={name: "value", "well": "well_id"})
        ).dropna(subset=["value"])
    image = image.load()
    return FusionData(image=image, native=grace.load(), wells=wells, source="files")


def check_recipe(recipe: Recipe) -> None:
    """Fail fast, before any training, on settings that cannot work."""
    size = recipe.data.size if isinstance(recipe.data, TwinSource) else recipe.samples.image_size
    for m in recipe.models:
        k = DOWNSAMPLING[m.name] if m.name != "unet" else 2 ** (m.depth or 5)
        if size % k:
            raise ConfigError(f"{m.name} needs an image size divisible by {k}; got {size}")
    if isinstance(recipe.data, FileSource):
        d = recipe.data
        for p in (d.grace, d.grace_scale_factors, d.grace_land_mask, d.wells, d.land_mask):
            if p is not None and not Path(p).exists():
                raise InputError(p, "file not found (named in the recipe)")


# ----------------------------------------------------------------------------- training
def train_model(
    name: str,
    recipe: Recipe,
    samples: FusionSamples,
    out_dir: Path,
    progress: bool = True,
    stop_after: int | None = None,
) -> ModelRun:
    """Train one architecture (``ensemble`` members) and predict every month with intervals.

    Members differ only in their seed; their predictions are averaged, and the spread used
    for the interval combines each member's MC-dropout variance with the variance between
    members (a deep ensemble).
    """
    mcfg = next(m for m in recipe.models if m.name == name)
    device = choose_device(recipe.train.device)
    if recipe.train.num_threads:
        torch.set_num_threads(recipe.train.num_threads)
    x = torch.as_tensor(samples.x, device=device)
    y = torch.as_tensor(samples.y, device=device)
    cell_mean = torch.as_tensor(samples.cell_mean, device=device)
    loss_w = recipe.train.loss_weight

    def loss_fn(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mismatch_loss(pred, target, cell_mean, loss_w)

    means, variances, results, model = [], [], [], None
    for k in range(mcfg.ensemble):
        tcfg = recipe.train.model_copy(update={"seed": recipe.train.seed + k})
        seed_everything(tcfg.seed)
        model = build_model(
            name,
            samples.n_predictors,
            samples.lags + 1,
            base_filters=mcfg.base_filters,
            depth=mcfg.depth,
            dropout=mcfg.dropout,
            pretrained=mcfg.pretrained,
        ).to(device)
        folder = out_dir / "checkpoints" / (name if mcfg.ensemble == 1 else f"{name}/member{k}")
        label = name if mcfg.ensemble == 1 else f"{name}[{k}]"
        res = fit(
            model,
            x,
            y,
            samples.train,
            samples.val,
            loss_fn,
            tcfg,
            folder,
            epochs=mcfg.epochs or tcfg.epochs,
            label=f"{label:9s}",
            progress=progress,
            stop_after=stop_after,
        )
        det, spread = predict(model, x, batch_size=8, mc_samples=tcfg.mc_samples, seed=tcfg.seed)
        means.append(det)
        variances.append(np.zeros_like(det) if spread is None else spread**2)
        results.append(res)
    mean = np.mean(means, axis=0)
    has_spread = recipe.train.mc_samples > 0 or mcfg.ensemble > 1
    spread = np.sqrt(np.mean(variances, axis=0) + np.var(means, axis=0)) if has_spread else None
    seconds = sum(r.seconds for r in results)
    epochs_new = sum(
        r.epochs_run - ((r.resumed_from + 1) if r.resumed_from is not None else 0) for r in results
    )
    run = ModelRun(
        name=name,
        parameters=count_parameters(model) * mcfg.ensemble,
        trainable=count_parameters(model, trainable_only=True) * mcfg.ensemble,
        mismatch=samples.to_mm(mean),
        mismatch_sd=None if spread is None else spread * samples.target_std,
        seconds=seconds,
        epochs=sum(r.epochs_run for r in results),
        best_epoch=results[0].best_epoch,
        seconds_per_epoch=seconds / max(1, epochs_new),
        history=results[0].history,
    )
    _intervals(run, samples)
    return run


def _intervals(run: ModelRun, samples: FusionSamples) -> None:
    """Two 95 % intervals for the corrected TWSA (GRACE-like):

    - ``*_rmse`` (the paper's): ±1.96 × the per-cell RMSE of the training misfit;
    - the default: MC-dropout spread scaled by a split-conformal quantile calibrated on the
      validation months (falls back to the RMSE interval without MC sampling).
    """
    s_obs = samples.to_mm(samples.y)
    fit_idx = samples.fit_months
    with warnings.catch_warnings():  # ocean cells: all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        rmse = np.sqrt(np.nanmean((run.mismatch[fit_idx] - s_obs[fit_idx]) ** 2, axis=0))
    rmse = np.nan_to_num(rmse, nan=float(np.nanmean(rmse)))
    # corrected = LSM − Ŝ, so an interval on Ŝ maps to one on the corrected storage
    run.lower_rmse = -run.mismatch - 1.96 * rmse[None]
    run.upper_rmse = -run.mismatch + 1.96 * rmse[None]
    if run.mismatch_sd is None or len(samples.val) == 0:
        run.lower, run.upper = run.lower_rmse, run.upper_rmse
        return
    # scores |S − Ŝ| / s on the validation months; s = spread + its median (kept off zero)
    scale = run.mismatch_sd + np.nanmedian(run.mismatch_sd[samples.val])
    val = samples.val
    q = conformal_quantile(np.abs(s_obs[val] - run.mismatch[val]) / scale[val])
    half = q * scale
    run.lower, run.upper = -run.mismatch - half, -run.mismatch + half


# ----------------------------------------------------------------------------- evaluation
def metrics_table(image: xr.Dataset, samples: FusionSamples, runs: list[ModelRun]) -> pd.DataFrame:
    """Long table ``model,split,scale,metric,value`` against GRACE (the paper's Table 1)."""
    mask = image["land_mask"]
    grace = image["twsa_grace"].where(mask)
    lsm = image["twsa_lsm"].where(mask)
    rows: list[dict] = []
    splits = {"train": samples.fit_months, "test": samples.test}
    candidates = {"lsm": lsm}
    for run in runs:
        candidates[run.name] = lsm - xr.DataArray(run.mismatch, coords=lsm.coords, dims=lsm.dims)
    g_region = region_mean(grace, mask)
    l_region = region_mean(lsm, mask)
    for name, sim in candidates.items():
        s_region = region_mean(sim, mask)
        for split, idx in splits.items():
            if len(idx) == 0:
                continue
            rows += skill_rows(
                name, split, sim.isel(time=idx), grace.isel(time=idx), mask, TABLE_METRICS
            )
            if name != "lsm":
                a, b, c = (
                    s_region.isel(time=idx),
                    g_region.isel(time=idx),
                    l_region.isel(time=idx),
                )
                r12, r13, r23 = (
                    float(pearson_r(a, b)),
                    float(pearson_r(c, b)),
                    float(pearson_r(a, c)),
                )
                ok = int((a.notnull() & b.notnull()).sum())
                _, p = williams_test(r12, r13, r23, ok)
                rows.append(
                    dict(model=name, split=split, scale="region", metric="williams_p", value=p)
                )
    for run in runs:
        for split, idx in splits.items():
            obs = grace.isel(time=idx).values - lsm.isel(time=idx).values  # = −S
            for metric, lo, hi in (
                ("coverage95", run.lower, run.upper),
                ("coverage95_rmse", run.lower_rmse, run.upper_rmse),
            ):
                inside = (obs >= lo[idx]) & (obs <= hi[idx])
                valid = np.isfinite(obs)
                cov = float(inside[valid].mean()) if valid.any() else float("nan")
                rows.append(
                    dict(model=run.name, split=split, scale="grid", metric=metric, value=cov)
                )
    return pd.DataFrame(rows, columns=["model", "split", "scale", "metric", "value"])


def predictions_dataset(
    data: FusionData, samples: FusionSamples, runs: list[ModelRun]
) -> xr.Dataset:
    """CF Dataset of corrected TWSA, Ŝ and intervals per model on the image grid."""
    img = data.image
    lsm = img["twsa_lsm"].where(img["land_mask"])
    dims = ("model", "time", "lat", "lon")
    coords = {"model": [r.name for r in runs], **{k: img[k] for k in ("time", "lat", "lon")}}

    def stack(attr: str, sign: float = 1.0, offset: bool = False) -> xr.DataArray:
        arr = np.stack([sign * getattr(r, attr) for r in runs])
        da = xr.DataArray(arr, coords=coords, dims=dims)
        return (da + lsm if offset else da).where(img["land_mask"])

    split = np.zeros(len(samples.times), dtype="i1")
    split[samples.train], split[samples.val], split[samples.test] = 1, 2, 3
    ds = xr.Dataset(
        {
            "twsa_corrected": stack("mismatch", -1.0, offset=True).assign_attrs(
                units="mm", long_name="corrected TWSA (LSM − predicted mismatch)"
            ),
            "mismatch_predicted": stack("mismatch").assign_attrs(
                units="mm", long_name="predicted mismatch Ŝ = TWSA_LSM − TWSA_GRACE"
            ),
            "twsa_corrected_lower": stack("lower", offset=True).assign_attrs(
                units="mm", long_name="2.5 % bound (MC dropout + split conformal)"
            ),
            "twsa_corrected_upper": stack("upper", offset=True).assign_attrs(
                units="mm", long_name="97.5 % bound (MC dropout + split conformal)"
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
                {"flag_values": [0, 1, 2, 3], "flag_meanings": "none train validation test"},
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


def well_correlations(data: FusionData, runs: list[ModelRun]) -> pd.DataFrame | None:
    """Correlation of each model's Ŝ at a well's cell with the well's anomalies (Fig. 7)."""
    if data.wells is None or not runs:
        return None
    img = data.image
    rows = []
    for wid, w in data.wells.groupby("well_id"):
        i = int(np.abs(img["lat"].values - w["lat"].iloc[0]).argmin())
        j = int(np.abs(img["lon"].values - w["lon"].iloc[0]).argmin())
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
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the run
def run_fusion(
    recipe: Recipe, out_dir: str | Path, progress: bool = True, figures: bool = True
) -> dict:
    """Run a fusion recipe end to end and write the run folder. Returns a summary dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    handler = logging.FileHandler(out / "run.log", mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("gracefuse")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        check_recipe(recipe)
        write_text(out / "config.toml", dump_recipe(recipe))
        data = load_data(recipe)
        samples = build_samples(data.image, recipe.samples)
        log.info(
            "samples: %d months (%d train, %d validation, %d test), %d×%d cells, device %s",
            len(samples.times),
            len(samples.train),
            len(samples.val),
            len(samples.test),
            *samples.mask.shape,
            choose_device(recipe.train.device),
        )
        runs = [train_model(m.name, recipe, samples, out, progress) for m in recipe.models]
        table = metrics_table(data.image, samples, runs)
        write_text(out / "metrics.csv", table.to_csv(index=False, float_format="%.6g"))
        preds = predictions_dataset(data, samples, runs)
        write_netcdf(preds, out / "predictions.nc")
        wells = well_correlations(data, runs)
        info = {
            "recipe": recipe.name,
            "source": data.source,
            "device": str(choose_device(recipe.train.device)),
            "months": {
                "train": len(samples.train),
                "validation": len(samples.val),
                "test": len(samples.test),
                "total": len(samples.times),
            },
            "models": {
                r.name: {
                    "parameters": r.parameters,
                    "trainable": r.trainable,
                    "epochs": r.epochs,
                    "best_epoch": r.best_epoch,
                    "seconds": round(r.seconds, 1),
                    "seconds_per_epoch": round(r.seconds_per_epoch, 2),
                }
                for r in runs
            },
        }
        if figures:
            from gracefuse.report import write_fusion_report

            write_fusion_report(out, data, samples, runs, table, preds, wells, info)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        write_text(out / "run_info.json", json.dumps(info, indent=2))
        log.info("run finished in %.1f s", info["seconds"])
        return {"table": table, "info": info, "runs": runs, "samples": samples, "data": data}
    finally:
        root.removeHandler(handler)
        handler.close()
