"""Figures and self-contained HTML reports of runs (one module per method family)."""

from gracefuse.report.fusion import table1, write_fusion_report

__all__ = ["table1", "write_fusion_report"]
