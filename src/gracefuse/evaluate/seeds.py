"""How much a result moves with the training seed: per-seed tables stacked, aggregated
rows (mean, sd, min, max over seeds), and whether two models are within each other's seed
spread.

A multi-seed run's ``metrics.csv`` is ``seed,model,variable,split,scale,metric,value``: one
row per seed and metric, then the aggregated rows with ``seed`` = ``mean``, ``sd`` (sample
standard deviation, ``ddof=1``), ``min`` and ``max``.

Two models are **within the seed spread** of each other on a metric when their ranges over
seeds overlap (``min_a ≤ max_b`` and ``min_b ≤ max_a``): some seed of the worse-on-average
model does as well as some seed of the better one, so the order of their means could flip
with other seeds. A baseline that does not depend on the training seed has a range of one
point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gracefuse.evaluate.table import METRIC_COLUMNS

#: the columns of a multi-seed metrics table
SEED_COLUMNS = ["seed", *METRIC_COLUMNS]
#: the aggregated rows, in the order they are written
AGGREGATES = ("mean", "sd", "min", "max")
KEYS = ["model", "variable", "split", "scale", "metric"]
#: metrics where more is better; and where less is (others are not ranked)
HIGHER_BETTER = {"nse", "r", "r2", "kge", "kge_2012", "kge_anomaly"}
LOWER_BETTER = {"rmse", "mae", "mse", "crps"}


def stack_seeds(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """The per-seed metrics tables as one, with a ``seed`` column first."""
    parts = [t[METRIC_COLUMNS].assign(seed=str(s)) for s, t in tables.items()]
    return pd.concat(parts, ignore_index=True)[SEED_COLUMNS]


def aggregate_seeds(stacked: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, min and max over seeds of every ``(model, variable, split, scale,
    metric)`` (NaN seeds left out; sd is NaN with one finite seed).

    Examples
    --------
    >>> t = {s: pd.DataFrame({"model": ["a"], "variable": ["twsa"], "split": ["test"],
    ...                       "scale": ["region"], "metric": ["nse"], "value": [v]})
    ...      for s, v in [(0, 0.5), (1, 0.7)]}
    >>> aggregate_seeds(stack_seeds(t))[["seed", "value"]].round(3).values.tolist()
    [['mean', 0.6], ['sd', 0.141], ['min', 0.5], ['max', 0.7]]
    """
    grouped = stacked.groupby(KEYS, sort=False, dropna=False)["value"]
    stats = grouped.agg(["mean", lambda v: v.std(ddof=1), "min", "max"])
    stats.columns = list(AGGREGATES)
    long = stats.reset_index().melt(id_vars=KEYS, var_name="seed", value_name="value")
    order = {a: i for i, a in enumerate(AGGREGATES)}
    long["_order"] = long["seed"].map(order)
    long = long.sort_values(["_order"], kind="stable").drop(columns="_order")
    return long[SEED_COLUMNS].reset_index(drop=True)


def seed_table(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per-seed rows, then the aggregated rows: the multi-seed ``metrics.csv``."""
    stacked = stack_seeds(tables)
    return pd.concat([stacked, aggregate_seeds(stacked)], ignore_index=True)


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The aggregated rows of a multi-seed table, one row per metric with ``mean``,
    ``sd``, ``min``, ``max`` and ``n`` (seeds with a finite value) as columns."""
    per_seed = table[~table["seed"].isin(AGGREGATES)]
    n = per_seed.groupby(KEYS, sort=False, dropna=False)["value"].count().rename("n")
    agg = table[table["seed"].isin(AGGREGATES)]
    wide = agg.pivot_table(index=KEYS, columns="seed", values="value", sort=False, dropna=False)
    return wide.reindex(columns=list(AGGREGATES)).join(n).reset_index()


def within_spread(a: pd.Series, b: pd.Series) -> bool:
    """Whether the seed ranges (``min``, ``max``) of two summary rows overlap."""
    return bool(a["min"] <= b["max"] and b["min"] <= a["max"])


def ranking(summary: pd.DataFrame, split: str, scale: str, metric: str,
            variable: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Models on one metric, best seed-mean first, each with whether it is within the
    seed spread of the best (``metric`` must be in :data:`HIGHER_BETTER` or
    :data:`LOWER_BETTER`)."""
    if metric not in HIGHER_BETTER | LOWER_BETTER:
        raise ValueError(f"metric {metric!r} has no direction; rank one of "
                         f"{sorted(HIGHER_BETTER | LOWER_BETTER)}")  # fmt: skip
    sel = (summary.split == split) & (summary.scale == scale) & (summary.metric == metric)
    if variable is not None:
        sel &= summary.variable == variable
    rows = summary[sel & np.isfinite(summary["mean"])]
    rows = rows.sort_values("mean", ascending=metric in LOWER_BETTER, kind="stable")
    if rows.empty:
        return rows.assign(within_spread_of_best=pd.Series(dtype=bool))
    best = rows.iloc[0]
    flags = [within_spread(best, r) for _, r in rows.iterrows()]
    return rows.assign(within_spread_of_best=flags).reset_index(drop=True)


def close_to_best(ranked: pd.DataFrame) -> list[str]:
    """The models of a :func:`ranking` within the seed spread of its best (not the best)."""
    return ranked.model[ranked.within_spread_of_best].tolist()[1:]


def default_headlines(summary: pd.DataFrame, limit: int = 6) -> list[tuple[str, str, str]]:
    """For a family without :attr:`~gracefuse.methods.base.Method.headlines`: its test
    rows of NSE, r, RMSE and MAE, ``(split, scale, metric)``, at most ``limit``."""
    sel = summary.split.astype(str).str.startswith("test")
    sel &= summary.metric.isin(["nse", "r", "rmse", "mae"])
    keys = summary.loc[sel, ["split", "scale", "metric"]].drop_duplicates()
    return [tuple(k) for k in keys.itertuples(index=False)][:limit]
