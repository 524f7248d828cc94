"""Shared parts of every run's report: figures, the self-contained HTML page built from
sections, and the comparison with the best baseline. Each family's own sections live in
its folder (``methods/<family>/report.py``)."""

from gracefuse.report.comparison import comparison_section
from gracefuse.report.htmlpage import figure_html, page, table_html

__all__ = ["comparison_section", "figure_html", "page", "table_html"]
