"""The shared training loop, its checkpoints, losses over dicts and weighted extra terms."""

from gracefuse.training.checkpoint import fingerprint, load_checkpoint
from gracefuse.training.determinism import seed_everything
from gracefuse.training.loop import FitResult, choose_device, evaluate_loss, fit
from gracefuse.training.losses import (
    GaussianNLL,
    MaskedL1,
    MaskedMSE,
    MismatchLoss,
    TaskUncertaintyLoss,
)
from gracefuse.training.predict import predict, predict_outputs
from gracefuse.training.terms import AdversarialTerm, Term, TotalVariation

__all__ = [
    "AdversarialTerm",
    "FitResult",
    "GaussianNLL",
    "MaskedL1",
    "MaskedMSE",
    "MismatchLoss",
    "TaskUncertaintyLoss",
    "Term",
    "TotalVariation",
    "choose_device",
    "evaluate_loss",
    "fingerprint",
    "fit",
    "load_checkpoint",
    "predict",
    "predict_outputs",
    "seed_everything",
]
