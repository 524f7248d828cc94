"""The PatchGAN discriminator of Pix2Pix (Isola et al. 2017) as used by Yu et al. (2021); its
generator is the registered ``pix2pix`` U-Net, its loss :class:`gracefuse.training.terms.AdversarialTerm`."""

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
