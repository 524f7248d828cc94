"""Fusion (Sun et al. 2019): learn the mismatch S = TWSA_LSM − TWSA_GRACE with CNNs and
correct the LSM (TWSA_LSM − Ŝ), beside baselines every network must beat."""

from gracefuse.methods.fusion.run import FusionResult, check_recipe, run_fusion

__all__ = ["FusionResult", "check_recipe", "run_fusion"]
