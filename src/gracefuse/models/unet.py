"""U-Net (Ronneberger et al. 2015): Sun et al.'s (2019) form, and the form inside SE-U-Net and
the Pix2Pix generator (Yu et al. 2021)."""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.blocks import ConvBlock, StageI, Up
from gracefuse.models.registry import register


class UNet(nn.Module):
    """Stage I, then a U-Net with filters ``base × 2^k`` capped at ``16 × base``.

    With ``base=32`` and ``depth=5`` the encoder has 32, 64, 128, 256, 512 filters and a
    512-filter bottleneck after five 2× poolings (128 px → 4 px); the decoder mirrors it
    with skip concatenation; a 1×1 linear conv gives the output.

    ``upsample="nearest", batch_norm=False`` is Sun et al.'s form (parameter-free
    upsampling; plain conv → ReLU as in Ronneberger et al.); ``"transpose"`` with batch norm
    is the form of Yu et al.'s networks. ``se=True`` adds squeeze-and-excitation to every
    block (SE-U-Net); ``tanh=True`` bounds the output to [−1, 1] (targets scaled to that
    range).

    Input ``(B, C, H, W)`` with H, W divisible by ``2^depth``; output ``(B, 1, H, W)``.
    """

    def __init__(
        self,
        n_predictors: int,
        months: int,
        base_filters: int = 32,
        depth: int = 5,
        dropout: float = 0.1,
        se: bool = False,
        tanh: bool = False,
        upsample: str = "transpose",
        batch_norm: bool = True,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        self.tanh = tanh
        self.depth = depth
        self.stage1 = StageI(n_predictors, months)
        widths = [min(base_filters * 2**k, base_filters * 16) for k in range(depth + 1)]
        self.down = nn.ModuleList()
        c = self.stage1.out_channels
        for w in widths[:-1]:
            self.down.append(ConvBlock(c, w, se=se, batch_norm=batch_norm))
            c = w
        self.bottleneck = nn.Sequential(
            ConvBlock(c, widths[-1], se=se, batch_norm=batch_norm), nn.Dropout2d(dropout)
        )
        self.up = nn.ModuleList()
        c = widths[-1]
        for w in reversed(widths[:-1]):
            self.up.append(Up(c, w, w, se=se, mode=upsample, batch_norm=batch_norm))
            c = w
        self.drop = nn.Dropout2d(dropout)
        self.head = nn.Conv2d(c, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage1(x)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            x = block(x, skip)
        out = self.head(self.drop(x))
        return torch.tanh(out) if self.tanh else out


@register("unet", heads=("point", "gaussian"), default_depth=5, source="Sun et al. 2019")
def _unet(n_predictors, months, *, base_filters, depth, dropout, out_channels, **_) -> UNet:
    """The paper's U-Net: parameter-free (nearest) upsampling, no batch norm."""
    return UNet(
        n_predictors, months, base_filters or 32, depth or 5, dropout,
        upsample="nearest", batch_norm=False, out_channels=out_channels,
    )  # fmt: skip


@register(
    "seunet", methods=("reconstruction",), default_depth=4, output="tanh", source="Yu et al. 2021"
)
def _seunet(n_predictors, months, *, base_filters, depth, dropout, **_) -> UNet:
    """U-Net with squeeze-and-excitation blocks, tanh output (targets in [−1, 1])."""
    return UNet(n_predictors, months, base_filters or 16, depth or 4, dropout, se=True, tanh=True)


@register(
    "pix2pix", methods=("reconstruction",), default_depth=4, output="tanh", source="Yu et al. 2021"
)
def _pix2pix(n_predictors, months, *, base_filters, depth, dropout, **_) -> UNet:
    """The Pix2Pix generator (its PatchGAN is :mod:`gracefuse.models.pix2pix`)."""
    return UNet(n_predictors, months, base_filters or 16, depth or 4, dropout, tanh=True)
