"""The first table of every report: does each network beat the best baseline?"""

from __future__ import annotations

import html

import pandas as pd

from gracefuse.evaluate.compare import verdicts
from gracefuse.report.htmlpage import table_html


def comparison_section(comparison: pd.DataFrame, split: str = "test") -> str:
    """HTML: a verdict per model (flagged when it does not beat the best baseline) and the
    table of gains with their block-bootstrap intervals and p-values."""
    if comparison.empty:
        return "<p>No network in this run.</p>"
    part = comparison[comparison.split == split]
    lines = verdicts(part)
    flagged = ' style="color:#a00;font-weight:bold"'
    items = "".join(
        f"<li{flagged if line.startswith('⚠') else ''}>{html.escape(line)}</li>" for line in lines
    )
    cols = ["value", "baseline", "baseline_value", "gain", "ci_low", "ci_high", "p_value"]
    cols += ["block", "n_eff", "beats", "significant"]
    view = part.set_index(["model", "scale"])[cols].rename(
        columns={"value": "NSE", "baseline_value": "baseline NSE", "n_eff": "effective n"}
    )
    note = (
        "<p class='note'>NSE against GRACE on the test months; the best baseline is the "
        "baseline with the highest NSE on those months at that scale. The gain's 95 % "
        "interval and one-sided p-value come from a circular block bootstrap over months "
        "(block length n / n<sub>eff</sub> from the lag-1 autocorrelation of the loss "
        "difference), so autocorrelated months are not counted as independent.</p>"
    )
    return f"<ul>{items}</ul>{table_html(view)}{note}"
