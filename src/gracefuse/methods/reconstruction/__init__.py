"""Reconstruction and gap filling (Yu et al. 2021): GRACE-like TWSA where GRACE is missing,
from the LSM (SE-U-Net, Pix2Pix, DCAE) or from GRACE alone (ConvLSTM), beside baselines."""

from gracefuse.methods.reconstruction.config import ReconstructionConfig, ReconstructionRecipe
from gracefuse.methods.reconstruction.method import ReconstructionMethod, ReconstructionResult

__all__ = [
    "ReconstructionResult",
    "ReconstructionConfig",
    "ReconstructionMethod",
    "ReconstructionRecipe",
]
