"""Fusion (Sun et al. 2019): learn the mismatch S = TWSA_LSM − TWSA_GRACE with CNNs and
correct the LSM (TWSA_LSM − Ŝ), beside baselines every network must beat."""

from gracefuse.methods.fusion.config import FusionRecipe, SamplesConfig
from gracefuse.methods.fusion.method import FusionMethod, FusionResult

__all__ = ["FusionMethod", "FusionRecipe", "FusionResult", "SamplesConfig"]
