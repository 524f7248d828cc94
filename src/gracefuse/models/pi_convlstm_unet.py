"""Physics-informed ConvLSTM + U-Net downscaler (Ibrahim et al. 2026).

A ConvLSTM encoder (two layers, 3×3) reads the last ``memory`` months of the coarse fields
(GWSA and the coarse means of the dynamic covariates); a U-Net over the fine predictors
(64/128/256 filters) takes its last hidden state at its deepest level and decodes the fine
field. A Gaussian head gives the mean, as a departure from the bilinear coarse field, and
the variance. The soft physics terms are training terms
(:mod:`gracefuse.methods.downscaling.physics`), not part of the network.
"""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.models.blocks import ConvBlock, Up
from gracefuse.models.convlstm import ConvLSTMCell, encode_sequence
from gracefuse.models.heads import GaussianHead
from gracefuse.models.registry import register


class PIConvLSTMUNet(nn.Module):
    """Coarse sequence ``seq`` ``(B, M, Cc, h, w)`` and fine predictors ``x`` ``(B, Cf, H, W)``
    (``H = 4·k``; ``h = H / factor``) to ``{"y_hat", "variance"}`` ``(B, H, W)``, with
    ``y_hat = base + departure`` (``base``: the bilinear coarse field, in the batch).

    Parameters
    ----------
    n_fine, n_coarse
        Channels of ``x`` and of each month of ``seq``.
    hidden
        ConvLSTM channels (two layers).
    filters
        U-Net filters per level (three levels: full, 1/2 and 1/4 of the fine size).

    Examples
    --------
    >>> m = PIConvLSTMUNet(3, 2, hidden=4, filters=(4, 8, 16))
    >>> b = {"seq": torch.zeros(2, 6, 2, 2, 2), "x": torch.zeros(2, 3, 8, 8),
    ...      "base": torch.zeros(2, 8, 8)}
    >>> out = m(b)
    >>> out["y_hat"].shape, bool((out["variance"] > 0).all())
    (torch.Size([2, 8, 8]), True)
    """

    def __init__(self, n_fine: int, n_coarse: int, hidden: int = 64,
                 filters: tuple[int, int, int] = (64, 128, 256), dropout: float = 0.1) -> None:  # fmt: skip
        super().__init__()
        f0, f1, f2 = filters
        self.cells = nn.ModuleList([ConvLSTMCell(n_coarse, hidden), ConvLSTMCell(hidden, hidden)])
        self.enc0 = ConvBlock(n_fine, f0)
        self.enc1 = ConvBlock(f0, f1)
        self.enc2 = ConvBlock(f1 + hidden, f2)
        self.up1 = Up(f2, f1, f1)
        self.up0 = Up(f1, f0, f0)
        self.drop = nn.Dropout2d(dropout)
        self.out = nn.Conv2d(f0, 2, 1)
        nn.init.zeros_(self.out.weight)  # starts as the bilinear field, unit variance
        nn.init.zeros_(self.out.bias)
        self.head = GaussianHead(min_variance=1e-4)

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        """The last hidden state of the top ConvLSTM layer ``(B, hidden, h, w)``."""
        return encode_sequence(self.cells, seq)[-1][0]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch["x"]
        memory = self.encode(batch["seq"])
        s0 = self.enc0(x)
        s1 = self.enc1(nn.functional.max_pool2d(s0, 2))
        deep = nn.functional.max_pool2d(s1, 2)
        if memory.shape[-2:] != deep.shape[-2:]:  # a factor other than 4
            memory = nn.functional.interpolate(memory, size=deep.shape[-2:], mode="bilinear",
                                               align_corners=False)  # fmt: skip
        s2 = self.enc2(torch.cat([deep, memory], 1))
        raw = self.out(self.drop(self.up0(self.up1(s2, s1), s0)))
        out = self.head(raw)
        out["y_hat"] = batch["base"] + out["y_hat"]
        return out


#: months of memory fixed by an architecture's name (others read the recipe's ``memory``)
FIXED_MEMORY = {"pi_convlstm_unet_memory1": 1}


def build_pi_convlstm_unet(n_fine: int, n_coarse: int, base_filters: int | None = None,
                           dropout: float = 0.1) -> PIConvLSTMUNet:  # fmt: skip
    """The network with ``base_filters`` (default 64, the paper's) ConvLSTM channels and
    U-Net filters ``base, 2·base, 4·base``."""
    width = base_filters or 64
    return PIConvLSTMUNet(n_fine, n_coarse, width, (width, 2 * width, 4 * width), dropout)


for _name, _source in (("pi_convlstm_unet", "Ibrahim et al. 2026"),
                       ("pi_convlstm_unet_memory1", "ours (ablation: one month of memory)")):  # fmt: skip
    register(_name, inputs="coarse_fine", heads=("gaussian",), methods=("downscaling",),
             downsampling=4, source=_source)(build_pi_convlstm_unet)  # fmt: skip
