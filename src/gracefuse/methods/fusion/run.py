"""A fusion run end to end (Sun et al. 2019): learn the LSM–GRACE mismatch, correct the LSM.

``run_fusion(recipe, out_dir)`` writes one run folder:

- ``config.toml`` (the resolved recipe), ``checkpoints/<model>/{last,best}.pt``
- ``predictions.nc``: corrected TWSA, predicted mismatch Ŝ and 95 % intervals per model and
  baseline for every LSM month (also months without GRACE and the GRACE/GRACE-FO gap)
- ``metrics.csv``: ``model,split,scale,metric,value`` for every network and baseline
- ``comparison.csv``: each network against the best baseline, with significance
- ``figures/*.png``, ``report.html``, ``run.log``, ``run_info.json``
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gracefuse.config import GraceOnlySource, Recipe, TwinSource, dump_recipe
from gracefuse.data.inputs import Inputs, check_sources, load_inputs
from gracefuse.errors import ConfigError
from gracefuse.evaluate.baselines import cell_ridge_crossfit
from gracefuse.io import write_netcdf, write_text
from gracefuse.methods.fusion.baselines import fusion_baselines
from gracefuse.methods.fusion.evaluate import metrics_table, select_model
from gracefuse.methods.fusion.outputs import predictions_dataset, well_correlations
from gracefuse.methods.fusion.train import ModelRun, run_label, train_model
from gracefuse.models import DOWNSAMPLING
from gracefuse.runfolder import prepare_run_folder
from gracefuse.samples import FusionSamples, build_samples, stack_lags
from gracefuse.train import choose_device

log = logging.getLogger(__name__)


@dataclass
class FusionResult:
    """What :func:`run_fusion` returns besides the run folder."""

    table: pd.DataFrame
    comparison: pd.DataFrame
    info: dict
    runs: list[ModelRun]
    samples: FusionSamples
    data: Inputs
    baselines: dict[str, np.ndarray]
    recipe: Recipe


def check_recipe(recipe: Recipe) -> None:
    """Fail fast, before a run folder exists or data loads, on settings that cannot work."""
    if isinstance(recipe.data, GraceOnlySource):
        raise ConfigError(
            "fusion learns the LSM–GRACE mismatch: data.kind must be 'twin' or 'files'"
        )
    if any(m.name == "convlstm" for m in recipe.models):
        raise ConfigError("convlstm is a reconstruction model (method = 'reconstruction')")
    size = recipe.data.size if isinstance(recipe.data, TwinSource) else recipe.samples.image_size
    for m in recipe.models:
        k = DOWNSAMPLING[m.name] if m.name != "unet" else 2 ** (m.depth or 5)
        if size % k:
            raise ConfigError(f"{m.name} needs an image size divisible by {k}; got {size}")
    check_sources(recipe.data)


def split_dates(samples: FusionSamples) -> dict[str, dict]:
    """Number, first and last month of each split."""
    out = {}
    for name, idx in (
        ("train", samples.train),
        ("validation", samples.val),
        ("calibration", samples.cal),
        ("test", samples.test),
    ):
        t = samples.times[idx]
        out[name] = {
            "months": int(len(idx)),
            "first": f"{t[0]:%Y-%m}" if len(t) else None,
            "last": f"{t[-1]:%Y-%m}" if len(t) else None,
        }
    return out


def _residual_inputs(samples: FusionSamples) -> tuple[np.ndarray, np.ndarray]:
    """The cross-fitted ridge (mm) a residual network builds on, and the same as an input
    block (normalised on training months, with its lags)."""
    observed = samples.to_mm(samples.y)
    ridge = cell_ridge_crossfit(samples.x, observed, samples.train, samples.val).prediction
    mu = float(np.nanmean(ridge[samples.train]))
    sd = float(np.nanstd(ridge[samples.train])) or 1.0
    z = np.where(samples.mask[None] & np.isfinite(ridge), (ridge - mu) / sd, 0.0)
    return ridge, stack_lags(z, samples.lags).astype(np.float32)


def _train_all(recipe, samples, out, progress) -> list[ModelRun]:
    residual = None
    runs = []
    for mcfg in recipe.models:
        base = extra = None
        if mcfg.residual == "cell_ridge":
            residual = residual or _residual_inputs(samples)
            base, extra = residual
        log.info("training %s (%d member(s))", run_label(mcfg), mcfg.ensemble)
        runs.append(train_model(mcfg, recipe, samples, out, base, extra, progress))
    return runs


def _info(recipe, data, samples, runs, selected, binfo) -> dict:
    return {
        "recipe": recipe.name,
        "source": data.source,
        "device": str(choose_device(recipe.train.device)),
        "splits": split_dates(samples),
        "selected_model": selected,
        "selected_on": "validation grid-median NSE",
        "cell_ridge_alpha": binfo["cell_ridge_alpha"],
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


def run_fusion(
    recipe: Recipe,
    out_dir: str | Path,
    progress: bool = True,
    figures: bool = True,
    overwrite: bool = False,
) -> FusionResult:
    """Run a fusion recipe end to end and write the run folder.

    The recipe and its files are checked before the folder is created; a folder that holds
    the run of another recipe is refused unless ``overwrite`` (then its checkpoints go).
    """
    from gracefuse.report.fusion import write_fusion_report

    check_recipe(recipe)
    out = prepare_run_folder(out_dir, dump_recipe(recipe), overwrite)
    t0 = time.perf_counter()
    handler = logging.FileHandler(out / "run.log", mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("gracefuse")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        write_text(out / "config.toml", dump_recipe(recipe))
        data = load_inputs(recipe.data, "image", recipe.samples.image_size)
        samples = build_samples(data.observed, recipe.samples)
        log.info("splits: %s", split_dates(samples))
        img = data.observed
        lsm = img["twsa_lsm"].where(img["land_mask"]).values
        grace = img["twsa_grace"].where(img["land_mask"]).values
        baselines, binfo = fusion_baselines(lsm, grace, samples)
        runs = _train_all(recipe, samples, out, progress)
        table, comparison = metrics_table(img, samples, runs, baselines)
        selected = select_model(table, [r.name for r in runs])
        write_text(out / "metrics.csv", table.to_csv(index=False, float_format="%.6g"))
        write_text(out / "comparison.csv", comparison.to_csv(index=False, float_format="%.6g"))
        preds = predictions_dataset(data, samples, runs, baselines)
        write_netcdf(preds, out / "predictions.nc")
        info = _info(recipe, data, samples, runs, selected, binfo)
        result = FusionResult(table, comparison, info, runs, samples, data, baselines, recipe)
        if figures:
            write_fusion_report(out, result, preds, well_correlations(data, runs))
        info["seconds"] = round(time.perf_counter() - t0, 1)
        write_text(out / "run_info.json", json.dumps(info, indent=2))
        log.info("run finished in %.1f s", info["seconds"])
        return result
    finally:
        root.removeHandler(handler)
        handler.close()
