"""Method families, one folder each, registered by name: ``fusion`` (Sun et al. 2019) and
``reconstruction`` (Yu et al. 2021), ``hybrid`` (Kraft et al. 2020), ``groundwater`` (Liang et al. 2025), ``downscaling``
(Liang et al. 2025; Ibrahim et al. 2026) and ``wells`` (GNNWR/GTNNWR at held-out wells). ``gracefuse methods`` lists them."""

from gracefuse.evaluate.table import METRIC_COLUMNS, long_table
from gracefuse.methods import (  # noqa: F401  (register the families)
    downscaling,
    fusion,
    groundwater,
    hybrid,
    reconstruction,
    wells,
)
from gracefuse.methods.base import Method, MethodOutput
from gracefuse.methods.registry import METHODS, get_method, register_method

__all__ = [
    "METHODS",
    "METRIC_COLUMNS",
    "Method",
    "MethodOutput",
    "get_method",
    "long_table",
    "register_method",
]
