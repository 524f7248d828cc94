"""A recipe over several training seeds: each seed a whole run in ``seed<S>/``, then the
run folder's ``metrics.csv`` with per-seed and aggregated rows, ``comparison.csv`` with a
``seed`` column, the family's choices re-made on the seed-mean validation rows, and a
report of mean ± spread (:mod:`gracefuse.report.seeds`).

Only the training seed (``train.seed``: weights, data order, dropout, ensemble members)
changes between the runs; the data, the twin's world and the splits stay as the recipe
sets them. A killed run resumes: seeds whose run finished are read back, the others resume
from their checkpoints.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gracefuse.config import RecipeBase, dump_recipe
from gracefuse.errors import ConfigError
from gracefuse.evaluate.seeds import (
    SEED_COLUMNS,
    close_to_best,
    default_headlines,
    ranking,
    seed_summary,
    seed_table,
)
from gracefuse.io import write_text
from gracefuse.methods import METRIC_COLUMNS, get_method
from gracefuse.report.seeds import write_seed_report
from gracefuse.runfolder import prepare_run_folder, run_log
from gracefuse.training.distributed import barrier, current_ranks

log = logging.getLogger(__name__)


@dataclass
class SeedsResult:
    """What a multi-seed run found (also in its run folder)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    choices: dict[str, str]
    choices_per_seed: dict[int, dict[str, str]]
    info: dict
    #: the ``(split, scale, metric)`` rows ranked in the report and the summary
    headlines: list[tuple[str, str, str]] = field(default_factory=list)


def seed_recipe(recipe: RecipeBase, seed: int) -> RecipeBase:
    """``recipe`` as the single-seed run of ``seed``."""
    train = recipe.train.model_copy(update={"seed": seed, "seeds": []})
    return recipe.model_copy(update={"train": train})


def read_metrics(path: Path) -> pd.DataFrame:
    """A ``metrics.csv`` as written (the empty ``variable`` of model rows stays "")."""
    return pd.read_csv(path, keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})


def _run_seed(recipe: RecipeBase, seed: int, folder: Path, progress: bool, figures: bool,
              overwrite: bool) -> tuple[pd.DataFrame, pd.DataFrame, dict] | None:  # fmt: skip
    """Run (or read back) one seed: its metrics, comparison and run_info (``None`` on a
    rank other than 0 of a DDP run, which trains beside rank 0 and reads nothing)."""
    from gracefuse.runner import run_recipe

    sub, single = folder / f"seed{seed}", seed_recipe(recipe, seed)
    done = (sub / "run_info.json").is_file() and (sub / "config.toml").is_file()
    if done and (sub / "config.toml").read_text(encoding="utf-8") == dump_recipe(single):
        log.info("seed %d: finished before, read back from %s", seed, sub)
    else:
        log.info("seed %d: running into %s", seed, sub)
        run_recipe(single, sub, progress=progress, figures=figures, overwrite=overwrite)
    if not current_ranks().main:
        return None
    try:
        comp = pd.read_csv(sub / "comparison.csv")
    except pd.errors.EmptyDataError:  # a family without networks to compare
        comp = pd.DataFrame()
    return read_metrics(sub / "metrics.csv"), comp, json.loads((sub / "run_info.json").read_text())


def run_seeds(recipe: RecipeBase, out_dir: str | Path, *, progress: bool = True,
              figures: bool = True, overwrite: bool = False) -> SeedsResult | None:  # fmt: skip
    """Run ``recipe`` once per seed of ``recipe.train.seeds`` and aggregate (see module)."""
    method = get_method(recipe.method)
    if not method.trains:
        raise ConfigError(
            f"recipe {recipe.name!r}: train.seeds: the {recipe.method} family trains nothing, "
            "so every seed gives the same numbers; run it without --seeds"
        )
    method.check(recipe)
    seeds = list(recipe.train.seeds)
    ranks = current_ranks()
    if not ranks.main:  # a DDP rank other than 0: train beside rank 0, write nothing
        barrier(ranks)
        for s in seeds:
            _run_seed(recipe, s, Path(out_dir), False, False, False)
        return None
    text = dump_recipe(recipe)
    folder = prepare_run_folder(out_dir, text, overwrite)
    barrier(ranks)
    t0 = time.perf_counter()
    with run_log(folder):
        log.info("%s run of recipe %s over seeds %s", recipe.method, recipe.name, seeds)
        write_text(folder / "config.toml", text)
        tables, comps, infos = {}, [], {}
        for s in seeds:
            tables[s], comp, infos[s] = _run_seed(recipe, s, folder, progress, figures, overwrite)
            if not comp.empty:
                comps.append(comp.assign(seed=s))
        table = seed_table(tables)
        mean = table[table.seed == "mean"][METRIC_COLUMNS]
        choices = method.choices(recipe, mean)
        per_seed = {s: method.choices(recipe, t) for s, t in tables.items()}
        info = _info(infos, choices, per_seed, time.perf_counter() - t0)
        comparison = pd.concat(comps) if comps else pd.DataFrame()
        if "seed" in comparison:
            comparison = comparison[["seed", *[c for c in comparison if c != "seed"]]]
        write_text(
            folder / "metrics.csv", table[SEED_COLUMNS].to_csv(index=False, float_format="%.6g")
        )
        write_text(folder / "comparison.csv", comparison.to_csv(index=False, float_format="%.6g"))
        summary = seed_summary(table)
        headlines = list(method.headlines) or default_headlines(summary)
        result = SeedsResult(table, summary, choices, per_seed, info, headlines)
        if figures:
            write_seed_report(folder, result, comparison)
        write_text(folder / "run_info.json", json.dumps(info, indent=2))
        log.info("multi-seed run finished in %.1f s", info["seconds"])
    return result


def seeds_console(result: SeedsResult) -> list[str]:
    """The choices and, per headline metric, each model's seed-mean ± sd, best first
    (flagged ⚠ when within the seed spread of the best)."""
    lines = [f"seeds {result.info['seeds']}: choices on the seed-mean validation rows: "
             + (", ".join(f"{k} = {v}" for k, v in result.choices.items()) or "none")]  # fmt: skip
    if not result.info.get("choices_agree_across_seeds", True):
        lines.append("⚠ the seeds on their own choose differently: " + "; ".join(
            f"seed {s}: {c}" for s, c in result.choices_per_seed.items()))  # fmt: skip
    for key in result.headlines:
        ranked = ranking(result.summary, *key)
        if ranked.empty:
            continue
        cells = [f"{r.model} {r.mean:.3f} ± {r.sd:.3f}" for r in ranked.itertuples()]
        lines.append(f"{' / '.join(key)} (mean ± sd): " + ", ".join(cells))
        close = close_to_best(ranked)
        if close:
            lines.append(f"⚠ within the seed spread of {ranked.model[0]}: {', '.join(close)}")
    return lines


def _info(infos: dict[int, dict], choices, per_seed, seconds: float) -> dict:
    """``run_info.json`` of the multi-seed run: the seeds' facts side by side."""
    first = infos[next(iter(infos))]
    keep = ("recipe", "method", "gracefuse", "torch", "device", "machine", "reproducibility")
    return {
        **{k: first[k] for k in keep if k in first},
        "seeds": list(infos),
        "seed_folders": {s: f"seed{s}" for s in infos},
        "choices_on_seed_mean": choices,
        "choices_per_seed": {str(s): c for s, c in per_seed.items()},
        "choices_agree_across_seeds": all(c == choices for c in per_seed.values()),
        "seconds_per_seed": {str(s): i.get("seconds") for s, i in infos.items()},
        "seconds": round(seconds, 1),
    }
