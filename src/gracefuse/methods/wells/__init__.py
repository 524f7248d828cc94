"""The wells family: depth to groundwater at held-out wells (GNNWR, GTNNWR, baselines)."""

from gracefuse.methods.wells.method import WellsMethod

__all__ = ["WellsMethod"]
