"""The long metrics table every run writes as ``metrics.csv``."""

from __future__ import annotations

import pandas as pd

#: the columns of every metrics table (``variable``: the quantity scored, ``twsa`` …)
METRIC_COLUMNS = ["model", "variable", "split", "scale", "metric", "value"]


def long_table(rows: list[dict], variable: str = "twsa") -> pd.DataFrame:
    """Metric rows as the long table; rows without a ``variable`` get ``variable``, except
    rows about the model itself (``scale == "model"``: parameters, seconds), which get ""."""
    filled = [
        {**r, "variable": r.get("variable") or ("" if r.get("scale") == "model" else variable)}
        for r in rows
    ]
    return pd.DataFrame(filled, columns=METRIC_COLUMNS)
