"""Weighted extra terms plugged into the loop: ``total = loss + Σ weight · term``.

A term sees the model's outputs and the batch, like a loss. Before its value is taken the
loop calls ``before_step`` (the adversarial term updates its discriminator there), and a
term with state (a discriminator and its optimiser) hands it to the checkpoint through
``state_dict`` / ``load_state_dict``, so a resumed run continues exactly. Physics
penalties (balance, fine → coarse mass) are terms too.
"""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.training.distributed import average_gradients, current_ranks

Parts = dict[str, torch.Tensor]


class Term:
    """Base of the extra terms: a name, a weight and ``__call__(outputs, batch)``."""

    name = "term"

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def before_step(self, outputs: Parts, batch: Parts) -> None:
        """Called each training batch before the term's value is taken (default: nothing)."""

    def __call__(self, outputs: Parts, batch: Parts) -> torch.Tensor:
        raise NotImplementedError

    def to(self, device: torch.device) -> Term:
        return self

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` gave."""


class TotalVariation(Term):
    """Mean absolute difference between neighbouring cells of ``y_hat`` (a smoothness
    penalty; NaN-free outputs assumed).

    Examples
    --------
    >>> tv = TotalVariation()
    >>> float(tv({"y_hat": torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])}, {}))
    0.5
    """

    name = "total_variation"

    def __call__(self, outputs: Parts, batch: Parts) -> torch.Tensor:
        y = outputs["y_hat"]
        dy = (y[..., 1:, :] - y[..., :-1, :]).abs().mean()
        dx = (y[..., :, 1:] - y[..., :, :-1]).abs().mean()
        return 0.5 * (dx + dy)


class AdversarialTerm(Term):
    """The adversarial part of Pix2Pix (Isola et al. 2017) as a term.

    Each generator batch first updates the discriminator on (input, real) against
    (input, generated) pairs, then adds ``weight ×`` the generator's adversarial loss.
    NaN cells (outside the mask, missing months) are zeroed in both images.
    """

    name = "adversarial"

    def __init__(self, discriminator: nn.Module, lr: float = 2e-4, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.d = discriminator
        self.opt = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()

    @staticmethod
    def _clean(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ok = torch.isfinite(real)
        zero = torch.zeros_like(real)
        return torch.where(ok, fake, zero).unsqueeze(1), torch.where(ok, real, zero).unsqueeze(1)

    def before_step(self, outputs: Parts, batch: Parts) -> None:
        """One discriminator step on this batch (with several training processes, on the
        gradients averaged over their shares, so every rank keeps the same discriminator)."""
        self.d.train()
        f, r = self._clean(outputs["y_hat"].detach(), batch["y"])
        self.opt.zero_grad(set_to_none=True)
        pr, pf = self.d(batch["x"], r), self.d(batch["x"], f)
        loss = 0.5 * (self.bce(pr, torch.ones_like(pr)) + self.bce(pf, torch.zeros_like(pf)))
        loss.backward()
        average_gradients(list(self.d.parameters()), current_ranks())  # DDP: one discriminator
        self.opt.step()

    def __call__(self, outputs: Parts, batch: Parts) -> torch.Tensor:
        f, _ = self._clean(outputs["y_hat"], batch["y"])
        pf = self.d(batch["x"], f)
        return self.bce(pf, torch.ones_like(pf))

    def to(self, device: torch.device) -> AdversarialTerm:
        self.d.to(device)
        return self

    def state_dict(self) -> dict:
        return {"d": self.d.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.d.load_state_dict(state["d"])
        self.opt.load_state_dict(state["opt"])
