"""Pix2Pix conditional GAN (Isola et al. 2017) as used by Yu et al. (2021)."""

from __future__ import annotations

import torch
from torch import nn


class PatchGAN(nn.Module):
    """Discriminator that sees (input, output) pairs and scores overlapping patches."""

    def __init__(self, in_channels: int, filters: int = 32) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.2, inplace=True)
        f = filters
        self.net = nn.Sequential(
            nn.Conv2d(in_channels + 1, f, 4, 2, 1), act,
            nn.Conv2d(f, 2 * f, 4, 2, 1), nn.BatchNorm2d(2 * f), act,
            nn.Conv2d(2 * f, 4 * f, 3, 1, 1), nn.BatchNorm2d(4 * f), act,
            nn.Conv2d(4 * f, 1, 3, 1, 1),
        )  # fmt: skip

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([condition, image], 1))


class AdversarialTerm:
    """The adversarial part of Pix2Pix, plugged into the shared training loop.

    Each generator batch first updates the discriminator on (input, real) vs
    (input, generated) pairs, then adds ``weight ×`` the generator's adversarial loss.
    NaN cells (outside the mask, missing months) are zeroed in both images.
    """

    def __init__(self, discriminator: PatchGAN, lr: float = 2e-4, weight: float = 1.0) -> None:
        self.d = discriminator
        self.weight = weight
        self.opt = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()

    @staticmethod
    def _clean(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ok = torch.isfinite(real)
        zero = torch.zeros_like(real)
        return torch.where(ok, fake, zero).unsqueeze(1), torch.where(ok, real, zero).unsqueeze(1)

    def discriminator_step(self, inputs: torch.Tensor, fake: torch.Tensor, real: torch.Tensor):
        self.d.train()
        f, r = self._clean(fake.detach(), real)
        self.opt.zero_grad(set_to_none=True)
        pr, pf = self.d(inputs, r), self.d(inputs, f)
        loss = 0.5 * (self.bce(pr, torch.ones_like(pr)) + self.bce(pf, torch.zeros_like(pf)))
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def generator_loss(self, inputs: torch.Tensor, fake: torch.Tensor, real: torch.Tensor):
        f, _ = self._clean(fake, real)
        pf = self.d(inputs, f)
        return self.weight * self.bce(pf, torch.ones_like(pf))

    def to(self, device: torch.device) -> AdversarialTerm:
        self.d.to(device)
        return self

    def state_dict(self) -> dict:
        return {"d": self.d.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.d.load_state_dict(state["d"])
        self.opt.load_state_dict(state["opt"])
