"""Deep convolutional autoencoder of Yu et al. (2021)."""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.registry import register


class DCAE(nn.Module):
    """Three stride-2 convs (64, 128, 256), a fully connected bottleneck, three transpose
    convs back, tanh output.

    Input ``(B, C, H, W)`` with H, W divisible by 8 (the bottleneck size depends on them);
    output ``(B, 1, H, W)`` in [−1, 1].
    """

    def __init__(
        self,
        in_channels: int,
        size: int | tuple[int, int],
        latent: int = 256,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        h, w = (size, size) if isinstance(size, int) else size
        if h % 8 or w % 8:
            raise ValueError(f"DCAE needs image sizes divisible by 8, got {h}×{w}")
        self.cells = (h // 8, w // 8)
        act = nn.LeakyReLU(0.2, inplace=True)
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, 64, 4, 2, 1), act,
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), act,
            nn.Conv2d(128, 256, 4, 2, 1), nn.BatchNorm2d(256), act,
        )  # fmt: skip
        flat = 256 * self.cells[0] * self.cells[1]
        self.bottleneck = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, latent), act, nn.Dropout(dropout),
            nn.Linear(latent, flat), act,
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.bottleneck(self.encoder(x))
        return self.decoder(z.view(-1, 256, *self.cells))


@register(
    "dcae", methods=("reconstruction",), downsampling=8, needs_size=True, output="tanh",
    source="Yu et al. 2021",
)  # fmt: skip
def _dcae(n_predictors, months, *, dropout, size, **_) -> DCAE:
    return DCAE(n_predictors * months, size, dropout=dropout)
