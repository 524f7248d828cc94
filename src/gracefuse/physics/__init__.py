"""Differentiable physics: conceptual water balances and constraints, in torch."""

from gracefuse.physics.water_balance import BalanceStates, water_balance

__all__ = ["BalanceStates", "water_balance"]
