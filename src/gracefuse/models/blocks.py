"""Building blocks shared by every architecture."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): channel weights from global average pooling."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.mean(dim=(-2, -1)))
        return x * w[..., None, None]


class ConvBlock(nn.Sequential):
    """``n`` × (3×3 conv → batch norm → ReLU), optionally followed by squeeze-and-excitation.

    ``batch_norm=False`` gives plain conv → ReLU layers (with biases), as in the original
    U-Net.
    """

    def __init__(
        self, c_in: int, c_out: int, n: int = 2, se: bool = False, batch_norm: bool = True
    ) -> None:
        layers: list[nn.Module] = []
        for i in range(n):
            conv = nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=not batch_norm)
            layers += [conv, nn.BatchNorm2d(c_out)] if batch_norm else [conv]
            layers.append(nn.ReLU(inplace=True))
        if se:
            layers.append(SqueezeExcite(c_out))
        super().__init__(*layers)


class StageI(nn.Module):
    """Stage I of Sun et al.: one 3×3 conv of ``filters`` per predictor, then merged.

    Input ``(B, n_predictors × (lags+1), H, W)``; each predictor's block of lagged months
    has its own conv. Output ``(B, n_predictors × filters, H, W)``, or ``out_channels``
    channels after a 1×1 projection (VGG16 takes 3, like an RGB image).
    """

    def __init__(
        self, n_predictors: int, months: int, filters: int = 16, out_channels: int | None = None
    ) -> None:
        super().__init__()
        self.months = months
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(months, filters, 3, padding=1), nn.ReLU(inplace=True))
            for _ in range(n_predictors)
        )
        merged = n_predictors * filters
        self.project = nn.Conv2d(merged, out_channels, 1) if out_channels else nn.Identity()
        self.out_channels = out_channels or merged

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.months, dim=1)
        return self.project(torch.cat([c(p) for c, p in zip(self.convs, parts, strict=True)], 1))


class Up(nn.Module):
    """2× upsampling, concatenation with the skip, then a conv block.

    ``mode="transpose"``: a learned 2×2 transpose conv that halves the channels;
    ``mode="nearest"``: parameter-free nearest-neighbour upsampling (channels kept).
    """

    def __init__(
        self,
        c_in: int,
        c_skip: int,
        c_out: int,
        n: int = 2,
        se: bool = False,
        mode: str = "transpose",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if mode == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(c_in, c_in // 2, 2, stride=2)
            c_up = c_in // 2
        elif mode == "nearest":
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            c_up = c_in
        else:
            raise ValueError(f"unknown upsampling mode {mode!r}")
        self.conv = ConvBlock(c_up + c_skip, c_out, n, se, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        if x.shape[-2:] != skip.shape[-2:]:  # odd sizes: pad to the skip's shape
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = nn.functional.pad(x, (0, dw, 0, dh))
        return self.conv(torch.cat([x, skip], 1))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
