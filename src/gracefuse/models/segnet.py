"""SegNet-lite of Sun et al. (2019): six convs 16→128, transpose-conv decoder."""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.blocks import ConvBlock, StageI


class SegNetLite(nn.Module):
    """Encoder of six 3×3 convs (16, 32 | 64, 64 | 128, 128) with three 2× poolings;
    decoder of transpose convs, each followed by concatenation with the encoder output
    of the same size and a conv; the last transpose conv is the final upsampling to full
    resolution, then a 1×1 conv. About 0.6 M parameters with three predictors.

    Input ``(B, C, H, W)`` with H, W divisible by 8; output ``(B, 1, H, W)``.
    """

    def __init__(
        self, n_predictors: int, months: int, base_filters: int = 16, dropout: float = 0.1
    ) -> None:
        super().__init__()
        b = base_filters
        self.stage1 = StageI(n_predictors, months)
        c0 = self.stage1.out_channels
        self.enc1 = nn.Sequential(ConvBlock(c0, b, 1), ConvBlock(b, 2 * b, 1))
        self.enc2 = ConvBlock(2 * b, 4 * b, 2)
        self.enc3 = ConvBlock(4 * b, 8 * b, 2)
        self.drop = nn.Dropout2d(dropout)
        self.up3 = nn.ConvTranspose2d(8 * b, 8 * b, 2, stride=2)
        self.dec3 = ConvBlock(16 * b, 4 * b, 1)
        self.up2 = nn.ConvTranspose2d(4 * b, 4 * b, 2, stride=2)
        self.dec2 = ConvBlock(8 * b, 2 * b, 1)
        self.up1 = nn.ConvTranspose2d(2 * b, 2 * b, 2, stride=2)
        self.dec1 = ConvBlock(4 * b, b, 1)
        self.head = nn.Conv2d(b, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = nn.functional.max_pool2d
        e1 = self.enc1(self.stage1(x))
        e2 = self.enc2(pool(e1, 2))
        e3 = self.enc3(pool(e2, 2))
        z = self.drop(pool(e3, 2))
        d3 = self.dec3(torch.cat([self.up3(z), e3], 1))
        d2 = self.dec2(torch.cat([self.up2(self.drop(d3)), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)
