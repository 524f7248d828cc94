"""A self-contained HTML page: tables and figures (PNG embedded as base64)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

STYLE = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
color:#222;padding:0 1em}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:1em 0} th,td{border:1px solid #ccc;
padding:.3em .6em;text-align:right} th{background:#f3f3f3} td.l,th.l{text-align:left}
figure{margin:1.5em 0} figcaption{font-size:.9em;color:#555} img{max-width:100%}
.note{background:#f7f7fb;border-left:4px solid #88a;padding:.6em 1em}
"""


#: number formats by the kind of quantity a column holds (first match of its name wins)
KIND_FORMATS = (
    (("parameters", "trainable", "epochs", "best epoch", "months", "seeds"), "{:,.0f}"),
    (("seconds_per_epoch", "seconds per epoch"), "{:.2f}"),
    (("seconds",), "{:.1f}"),
    (("coverage",), "{:.1%}"),
    (("p_value", "williams_p"), "{:.2g}"),
)


def number_format(column: str, default: str = "{:.3f}") -> str:
    """The format of a column's numbers by the kind its name says.

    Examples
    --------
    >>> number_format("parameters").format(2878645.0), number_format("coverage95").format(0.9)
    ('2,878,645', '90.0%')
    """
    name = column.lower()
    for keys, fmt in KIND_FORMATS:
        if any(k in name for k in keys):
            return fmt
    return default


def table_html(df: pd.DataFrame, float_format: str = "{:.3f}") -> str:
    """A DataFrame as an HTML table (index and columns escaped); numbers are formatted by
    the kind of their column (:data:`KIND_FORMATS`), else with ``float_format``."""
    cols = [
        html.escape(" ".join(map(str, c)) if isinstance(c, tuple) else str(c)) for c in df.columns
    ]
    idx_names = [html.escape(str(n or "")) for n in (df.index.names or [""])]
    head = "".join(f'<th class="l">{n}</th>' for n in idx_names) + "".join(
        f"<th>{c}</th>" for c in cols
    )
    formats = [number_format(c, float_format) for c in cols]
    rows = []
    for idx, row in df.iterrows():
        key = idx if isinstance(idx, tuple) else (idx,)
        cells = "".join(f'<td class="l">{html.escape(str(k))}</td>' for k in key)
        for v, fmt in zip(row, formats, strict=True):
            number = isinstance(v, float | int | np.number) and not isinstance(v, bool)
            number = number and bool(np.isfinite(v))
            cells += f"<td>{fmt.format(v) if number else html.escape(str(v))}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figure_html(path: Path, caption: str) -> str:
    """An ``<img>`` with the PNG inlined, and its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def page(title: str, sections: list[tuple[str, str]]) -> str:
    """A whole HTML document from (heading, html body) sections."""
    body = "".join(f"<h2>{html.escape(h)}</h2>{b}" if h else b for h, b in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
