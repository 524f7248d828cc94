"""Evaluation: skill metrics, regional series, seasonal statistics, trends, significance."""

from gracefuse.evaluate.metrics import (
    METRICS,
    bias,
    kge,
    kge_2012,
    kge_anomaly,
    mae,
    nse,
    pearson_r,
    r_squared,
    rmse,
    skill_table,
)
from gracefuse.evaluate.regions import grid_median, grid_skill, regional_series
from gracefuse.evaluate.seasonal import (
    amplitude,
    deseasonalize,
    empirical_cdf,
    interannual_variability,
    seasonal_cycle,
    seasonal_means,
)
from gracefuse.evaluate.stats import sen_mann_kendall, williams_test

__all__ = [
    "amplitude",
    "deseasonalize",
    "empirical_cdf",
    "grid_median",
    "grid_skill",
    "interannual_variability",
    "regional_series",
    "seasonal_cycle",
    "seasonal_means",
    "sen_mann_kendall",
    "williams_test",
    "METRICS",
    "bias",
    "kge",
    "kge_2012",
    "kge_anomaly",
    "mae",
    "nse",
    "pearson_r",
    "r_squared",
    "rmse",
    "skill_table",
]
