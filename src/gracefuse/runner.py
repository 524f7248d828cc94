"""The life of a run, the same for every method family.

``run_recipe(recipe, out)``: the family checks the recipe (before anything exists), the run
folder is prepared (:mod:`gracefuse.runfolder`), then ``config.toml`` (the resolved recipe),
the family's prepare → fit/predict → outputs, and the runner writes ``metrics.csv``
(``model,variable,split,scale,metric,value``), ``comparison.csv``, the family's netCDF
outputs, its figures and ``report.html``, and ``run_info.json``; ``run.log`` records it all.
Every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from gracefuse import __version__
from gracefuse.config import RecipeBase, dump_recipe
from gracefuse.io import write_netcdf, write_text
from gracefuse.machine import machine_facts
from gracefuse.methods import METRIC_COLUMNS, get_method
from gracefuse.multiseed import run_seeds
from gracefuse.runfolder import prepare_run_folder, run_log
from gracefuse.training import choose_device
from gracefuse.training.determinism import reproducible
from gracefuse.training.distributed import Ranks, barrier, process_group

log = logging.getLogger(__name__)


def _add_run_info(recipe: RecipeBase, info: dict, reproducibility: dict) -> None:
    """Put the facts of every run first in ``info`` (in place: the family's result holds
    the same dict): the machine, and how the run was seeded and pinned."""
    merged = {
        "recipe": recipe.name,
        "method": recipe.method,
        "gracefuse": __version__,
        "torch": torch.__version__,
        "device": str(choose_device(recipe.train.device)),
        "machine": machine_facts(),
        "reproducibility": reproducibility,
        **info,
    }
    info.clear()
    info.update(merged)


def run_recipe(
    recipe: RecipeBase,
    out_dir: str | Path,
    *,
    progress: bool = True,
    figures: bool = True,
    overwrite: bool = False,
) -> Any:
    """Run any recipe end to end and write its run folder; returns the family's result.

    The recipe and its files are checked before the folder is created; a folder that holds
    the run of another recipe is refused unless ``overwrite`` (then its checkpoints go).
    A recipe with ``train.seeds`` runs once per seed (:func:`gracefuse.multiseed.run_seeds`)
    and returns a :class:`~gracefuse.multiseed.SeedsResult`. Started by ``torchrun`` with
    several processes, every process prepares and trains (DDP,
    :mod:`gracefuse.training.distributed`); rank 0 alone writes the run folder and returns
    the result, the others return ``None``.
    """
    with process_group() as ranks:
        if recipe.train.seeds:
            return run_seeds(
                recipe, out_dir, progress=progress, figures=figures, overwrite=overwrite
            )
        if not ranks.main:
            return _train_only(recipe, Path(out_dir), ranks)
        return _run_single(recipe, out_dir, ranks, progress, figures, overwrite)


def _train_only(recipe: RecipeBase, folder: Path, ranks: Ranks) -> None:
    """What a rank other than 0 does: prepare and train beside rank 0, write nothing."""
    method = get_method(recipe.method)
    method.check(recipe)
    barrier(ranks)  # rank 0 has prepared the run folder
    with reproducible(recipe.train):
        prepared = method.prepare(recipe)
        method.fit_predict(recipe, prepared, folder, False)
    barrier(ranks)  # rank 0 has written the run folder


def _run_single(recipe: RecipeBase, out_dir: str | Path, ranks: Ranks, progress: bool,
                figures: bool, overwrite: bool) -> Any:  # fmt: skip
    """One run of ``recipe`` into ``out_dir`` (on rank 0 when several processes train)."""
    method = get_method(recipe.method)
    method.check(recipe)
    text = dump_recipe(recipe)
    folder = prepare_run_folder(out_dir, text, overwrite)
    barrier(ranks)
    t0 = time.perf_counter()
    with run_log(folder):
        log.info("%s run of recipe %s", recipe.method, recipe.name)
        write_text(folder / "config.toml", text)
        with reproducible(recipe.train) as facts:
            prepared = method.prepare(recipe)
            fitted = method.fit_predict(recipe, prepared, folder, progress)
            output = method.outputs(recipe, prepared, fitted)
        _add_run_info(recipe, output.info, {**facts, "processes": ranks.world})
        table = output.table[METRIC_COLUMNS]
        write_text(folder / "metrics.csv", table.to_csv(index=False, float_format="%.6g"))
        csv = output.comparison.to_csv(index=False, float_format="%.6g")
        write_text(folder / "comparison.csv", csv)
        for name, ds in output.files.items():
            write_netcdf(ds, folder / name)
        if figures:
            method.report(folder, output)
        output.info["seconds"] = round(time.perf_counter() - t0, 1)
        write_text(folder / "run_info.json", json.dumps(output.info, indent=2))
        log.info("run finished in %.1f s", output.info["seconds"])
    barrier(ranks)
    return output.result
