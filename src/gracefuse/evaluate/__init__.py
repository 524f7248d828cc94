"""Evaluation: skill metrics, regional series, seasonal statistics, trends, significance."""

from gracefuse.evaluate.metrics import (
    METRICS,
    bias,
    kge,
    kge_2012,
    mae,
    nse,
    pearson_r,
    r_squared,
    rmse,
    skill_table,
)

__all__ = [
    "METRICS",
    "bias",
    "kge",
    "kge_2012",
    "mae",
    "nse",
    "pearson_r",
    "r_squared",
    "rmse",
    "skill_table",
]
