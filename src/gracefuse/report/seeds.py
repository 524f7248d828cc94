"""The report of a multi-seed run: the choices made on the seed-mean validation rows,
each headline metric ranked by seed-mean with its spread (flagging models within the seed
spread of the best), the verdicts against the best baseline seed by seed, and a figure of
every seed's value per model."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from gracefuse.evaluate.seeds import AGGREGATES, close_to_best, ranking  # noqa: E402
from gracefuse.io import write_text  # noqa: E402
from gracefuse.report.figures import save  # noqa: E402
from gracefuse.report.htmlpage import figure_html, page, table_html  # noqa: E402

FLAG = ' style="color:#a00;font-weight:bold"'


def seed_strip(table: pd.DataFrame, ranked: pd.DataFrame, key: tuple[str, str, str],
               path: Path) -> Path:  # fmt: skip
    """Every seed's value (dots) and the seed-mean (bar) of each model on one metric."""
    split, scale, metric = key
    per_seed = table[~table.seed.isin(AGGREGATES) & (table.split == split)
                     & (table.scale == scale) & (table.metric == metric)]  # fmt: skip
    models = list(ranked.model)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(models) + 2), 3.2))
    for i, m in enumerate(models):
        vals = per_seed.loc[per_seed.model == m, "value"].to_numpy(float)
        ax.plot([i] * len(vals), vals, "o", color="tab:blue", alpha=0.7, ms=5)
        ax.hlines(ranked["mean"].iloc[i], i - 0.3, i + 0.3, color="black", lw=2)
    ax.set_xticks(range(len(models)), models, rotation=30, ha="right")
    ax.set_ylabel(f"{metric} ({split}, {scale.replace('_', '-')})")
    ax.set_title("each seed (dots) and the seed-mean (bar)")
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def _choices_html(result) -> str:
    """The choices on the seed-mean, and each seed's own."""
    if not result.choices:
        return "<p>This family makes no choice between models.</p>"
    rows = {name: {"seed-mean": chosen, **{f"seed {s}": c.get(name)
                                          for s, c in result.choices_per_seed.items()}}
            for name, chosen in result.choices.items()}  # fmt: skip
    agree = result.info.get("choices_agree_across_seeds", True)
    note = ("<p>Every seed on its own makes the same choices.</p>" if agree else
            f"<p{FLAG}>⚠ The seeds on their own do not all make the same choice: the choice "
            "is within the seed spread.</p>")  # fmt: skip
    return (f"<p>Made on the seed-mean of the validation rows (test rows play no part)."
            f"</p>{table_html(pd.DataFrame(rows).T)}{note}")  # fmt: skip


def _headline_html(result, key, folder: Path) -> str:
    """The ranking of one headline metric and its figure."""
    ranked = ranking(result.summary, *key)
    if ranked.empty:
        return f"<p>No model was scored on {html.escape(' / '.join(key))}.</p>"
    cols = ["mean", "sd", "min", "max", "n", "within_spread_of_best"]
    view = ranked.set_index("model")[cols].rename(
        columns={"n": "seeds", "within_spread_of_best": "within the seed spread of the best"}
    )
    close = close_to_best(ranked)
    note = (f"<p{FLAG}>Within the seed spread of the best ({html.escape(ranked.model[0])}): "
            f"{html.escape(', '.join(close))}; their order could flip with other seeds.</p>"
            if close else f"<p>{html.escape(ranked.model[0])} is outside every other model's "
            "seed range.</p>")  # fmt: skip
    fig = seed_strip(result.table, ranked, key, folder / "figures" / f"seeds_{'_'.join(key)}.png")
    return table_html(view) + note + figure_html(fig, f"{' / '.join(key)} by seed")


def _true(column: pd.Series) -> pd.Series:
    """A boolean column as read back from CSV (``True``/``False`` text or booleans)."""
    return column.astype(str).str.lower().eq("true")


def _verdicts_html(comparison: pd.DataFrame) -> str:
    """Per network, reported split and scale: the gain over the best baseline, its mean and
    sd over seeds, and on how many seeds it beats the baseline (significantly)."""
    need = {"seed", "model", "split", "scale", "gain", "beats"}
    if comparison.empty or not need <= set(comparison.columns):
        return "<p>No network compared with the baselines in this run.</p>"
    chooses = comparison.split.astype(str).str.contains("validation|train|calibration")
    reported = comparison[~chooses]
    keys = ["model", "split", "scale"] + (["metric"] if "metric" in reported else [])
    rows, mixed = [], []
    for key, part in reported.groupby(keys, sort=False):
        n, beats = len(part), int(_true(part.beats).sum())
        sig = int(_true(part["significant"]).sum()) if "significant" in part else 0
        rows.append({**dict(zip(keys, key, strict=True)), "gain mean": part.gain.mean(),
                     "gain sd": part.gain.std(ddof=1), "beats (seeds)": f"{beats}/{n}",
                     "significant (seeds)": f"{sig}/{n}"})  # fmt: skip
        if 0 < beats < n:
            mixed.append(" ".join(map(str, key)))
    note = (f"<p{FLAG}>⚠ Beats the best baseline on some seeds only: "
            f"{html.escape('; '.join(mixed))}</p>" if mixed
            else "<p>Each verdict is the same on every seed.</p>")  # fmt: skip
    return table_html(pd.DataFrame(rows).set_index(keys)) + note


def write_seed_report(folder: Path, result, comparison: pd.DataFrame) -> Path:
    """``report.html`` of a multi-seed run (figures under ``figures/``)."""
    (folder / "figures").mkdir(exist_ok=True)
    seeds = result.info["seeds"]
    links = " ".join(f'<a href="seed{s}/report.html">seed {s}</a>' for s in seeds)
    intro = (f"<p>Recipe <b>{html.escape(str(result.info.get('recipe')))}</b> over training "
             f"seeds {html.escape(str(seeds))}; each seed's own report: {links}. Spread: sd "
             "is the sample standard deviation over seeds; two models are <i>within the seed "
             "spread</i> when their ranges over seeds overlap.</p>")  # fmt: skip
    sections = [("", intro), ("Choices between models", _choices_html(result))]
    for key in result.headlines:
        sections.append((f"{' / '.join(key)}: mean ± spread over seeds",
                         _headline_html(result, key, folder)))  # fmt: skip
    sections.append(("Against the best baseline, seed by seed", _verdicts_html(comparison)))
    path = folder / "report.html"
    write_text(path, page(f"gracefuse: {result.info.get('recipe')} over seeds", sections))
    return path
