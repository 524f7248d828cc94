"""Groundwater (Liang et al. 2025, analysis half): GWSA separated from TWSA with propagated
uncertainty, the three-cornered hat over GRACE products, trends, hotspots, seasons and
drivers, built on :mod:`gracefuse.analysis`."""

from gracefuse.methods.groundwater.config import GroundwaterConfig, GroundwaterRecipe
from gracefuse.methods.groundwater.method import GroundwaterMethod, load_groundwater_inputs

__all__ = ["GroundwaterConfig", "GroundwaterMethod", "GroundwaterRecipe", "load_groundwater_inputs"]
