"""SegNet-lite of Sun et al. (2019), as published (no pooling) and with pooling (ours)."""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.blocks import ConvBlock, StageI
from gracefuse.models.registry import register


class SegNetLite(nn.Module):
    """The paper's SegNet-lite: an encoder of six 3×3 convs (16, 32 | 64, 64 | 128, 128)
    and a decoder of transpose convs, each followed by concatenation with the encoder
    output of the same depth and a conv, then a 1×1 conv.

    ``pool=False`` (the paper's form): every layer at full resolution, stride-1 transpose
    convs; input of any size. ``pool=True`` (ours, :class:`SegNetPool`): a 2× max-pooling
    after each encoder stage (three in all) and 2× transpose convs back, so that the
    receptive field spans the 3° GRACE footprint at coarse cost; H, W divisible by 8.
    About 0.6 M parameters with three predictors either way. Output ``(B, 1, H, W)``.
    """

    pool = False

    def __init__(
        self,
        n_predictors: int,
        months: int,
        base_filters: int = 16,
        dropout: float = 0.1,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        b = base_filters
        k, s, p = (2, 2, 0) if self.pool else (3, 1, 1)
        self.stage1 = StageI(n_predictors, months)
        c0 = self.stage1.out_channels
        self.enc1 = nn.Sequential(ConvBlock(c0, b, 1), ConvBlock(b, 2 * b, 1))
        self.enc2 = ConvBlock(2 * b, 4 * b, 2)
        self.enc3 = ConvBlock(4 * b, 8 * b, 2)
        self.drop = nn.Dropout2d(dropout)
        self.up3 = nn.ConvTranspose2d(8 * b, 8 * b, k, stride=s, padding=p)
        self.dec3 = ConvBlock(16 * b, 4 * b, 1)
        self.up2 = nn.ConvTranspose2d(4 * b, 4 * b, k, stride=s, padding=p)
        self.dec2 = ConvBlock(8 * b, 2 * b, 1)
        self.up1 = nn.ConvTranspose2d(2 * b, 2 * b, k, stride=s, padding=p)
        self.dec1 = ConvBlock(4 * b, b, 1)
        self.head = nn.Conv2d(b, out_channels, 1)

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.max_pool2d(x, 2) if self.pool else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(self.stage1(x))
        e2 = self.enc2(self._down(e1))
        e3 = self.enc3(self._down(e2))
        z = self.drop(self._down(e3))
        d3 = self.dec3(torch.cat([self.up3(z), e3], 1))
        d2 = self.dec2(torch.cat([self.up2(self.drop(d3)), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


class SegNetPool(SegNetLite):
    """Ours: :class:`SegNetLite` with three 2× poolings (``segnet_pool``)."""

    pool = True


@register("segnet_lite", heads=("point", "gaussian"), source="Sun et al. 2019")
def _segnet_lite(n_predictors, months, *, base_filters, dropout, out_channels, **_) -> SegNetLite:
    return SegNetLite(n_predictors, months, base_filters or 16, dropout, out_channels)


@register("segnet_pool", heads=("point", "gaussian"), downsampling=8)
def _segnet_pool(n_predictors, months, *, base_filters, dropout, out_channels, **_) -> SegNetPool:
    return SegNetPool(n_predictors, months, base_filters or 16, dropout, out_channels)
