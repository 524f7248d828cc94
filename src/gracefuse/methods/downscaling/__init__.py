"""The downscaling family (Liang et al. 2025; Ibrahim et al. 2026): coarse GWSA to a fine
grid, mass-conserving, with calibrated intervals."""

from gracefuse.methods.downscaling.method import DownscalingMethod

__all__ = ["DownscalingMethod"]
