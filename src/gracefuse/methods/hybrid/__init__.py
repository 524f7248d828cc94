"""Hybrid modelling (Kraft et al. 2020): an LSTM drives a differentiable water balance
(:mod:`gracefuse.physics.water_balance`), trained on TWS, ET, runoff and snow together."""

from gracefuse.methods.hybrid.config import BasinTables, HybridConfig, HybridRecipe
from gracefuse.methods.hybrid.method import HybridMethod, HybridResult, load_hybrid_data

__all__ = [
    "BasinTables",
    "HybridConfig",
    "HybridMethod",
    "HybridRecipe",
    "HybridResult",
    "load_hybrid_data",
]
