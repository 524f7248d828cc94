"""VGG16 with ImageNet transfer learning (Sun et al. 2019), as published and with a U-shaped
decoder (ours).

torchvision is not required: the VGG16 convolutional layers are built here with the same
layout and parameter names (``features.N.weight``) as torchvision's ``vgg16``, so its
ImageNet checkpoint (``vgg16-397923af.pth``) loads directly from a local file or from the
torch hub cache. Nothing is downloaded (nothing can be, on machines without a network):
without that file the paper's model cannot be built, and its architecture trained from
scratch is reported as ``vgg16_scratch``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from gracefuse.models.blocks import ConvBlock, StageI, Up
from gracefuse.models.registry import register

log = logging.getLogger(__name__)

#: torchvision's configuration "D" (VGG16): numbers are conv widths, "M" a 2× max-pool
VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG16_FILE = "vgg16-397923af.pth"
#: ImageNet channel statistics (RGB) that VGG16's weights expect
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg16_features() -> nn.Sequential:
    """The 13 convolutional layers of VGG16 (indices match torchvision's ``features``)."""
    layers: list[nn.Module] = []
    c = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            c = int(v)
    return nn.Sequential(*layers)


def find_vgg16_weights(path: str | os.PathLike | None = None) -> Path | None:
    """A local VGG16 ImageNet checkpoint: ``path``, else the torch hub cache, else ``None``."""
    if path is not None:
        p = Path(path)
        return p if p.exists() else None
    hub = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    return hub if hub.exists() else None


def load_vgg16_features(features: nn.Sequential, weights: Path) -> None:
    """Load torchvision's ImageNet weights of the 13 conv layers (``features.*``)."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    features.load_state_dict(feats)


class ImageNetInput(nn.Module):
    """Stage I output (3 channels) as an ImageNet image: squashed to [0, 1] by a sigmoid,
    then normalised with ImageNet's channel means and standard deviations."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(x) - self.mean) / self.std


class VGG16Dense(nn.Module):
    """Sun et al.'s VGG16 model: Stage I (→ 3 channels) → ImageNet input normalisation →
    the 13 VGG16 conv layers with ImageNet weights, frozen → flatten → one dense layer →
    reshape to the ``H × W`` map.

    With ``pretrained=None`` (``vgg16_scratch``) every layer trains from random weights.
    The dense layer has ``512·(H/32)·(W/32) × H·W`` weights: 0.5 M at 32×32, 134 M at
    128×128 (as published). Input H, W divisible by 32.
    """

    def __init__(
        self,
        n_predictors: int,
        months: int,
        size: tuple[int, int],
        pretrained: str | os.PathLike | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.size = size
        self.stage1 = StageI(n_predictors, months, out_channels=3)
        self.imagenet = ImageNetInput()
        self.features = vgg16_features()
        self.pretrained = pretrained is not None
        if pretrained is not None:
            weights = find_vgg16_weights(pretrained)
            if weights is None:
                raise FileNotFoundError(f"VGG16 ImageNet weights not found: {pretrained}")
            load_vgg16_features(self.features, weights)
            for p in self.features.parameters():
                p.requires_grad_(False)
        flat = 512 * (size[0] // 32) * (size[1] // 32)
        self.drop = nn.Dropout(dropout)
        self.dense = nn.Linear(flat, size[0] * size[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(self.imagenet(self.stage1(x)))
        out = self.dense(self.drop(z.flatten(1)))
        return out.view(x.shape[0], 1, *self.size)


class VGG16UNet(nn.Module):
    """Ours (``vgg16_unet``): Stage I (→ 3 channels) → VGG16 conv blocks (frozen when
    pretrained) → a decoder that upsamples with transpose convs and concatenates the output
    of each VGG block (a U-Net with a VGG16 encoder) instead of the paper's dense layer;
    only Stage I and the decoder train when the ImageNet weights are loaded. Input H, W
    divisible by 32.
    """

    def __init__(
        self,
        n_predictors: int,
        months: int,
        pretrained: str | os.PathLike | None = None,
        freeze: bool = True,
        dropout: float = 0.1,
        decoder_filters: int = 32,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        self.stage1 = StageI(n_predictors, months, out_channels=3)
        self.features = vgg16_features()
        self.pretrained = False
        weights = find_vgg16_weights(pretrained)
        if weights is not None:
            load_vgg16_features(self.features, weights)
            self.pretrained = True
            if freeze:
                for p in self.features.parameters():
                    p.requires_grad_(False)
        else:
            where = pretrained or (Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE)
            log.warning(
                "VGG16 ImageNet weights not found at %s; training VGG16 from scratch", where
            )
        # indices where each VGG block ends (before its pool)
        self.block_ends = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        widths = [64, 128, 256, 512, 512]
        d = decoder_filters
        self.drop = nn.Dropout2d(dropout)
        self.bottleneck = ConvBlock(512, 8 * d)
        dec = [8 * d, 8 * d, 4 * d, 2 * d, d]
        self.up = nn.ModuleList()
        c = 8 * d
        for skip_w, out_w in zip(reversed(widths), dec, strict=True):
            self.up.append(Up(c, skip_w, out_w))
            c = out_w
        self.head = nn.Conv2d(c, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage1(x)
        skips = []
        for i, layer in enumerate(self.features):
            if i in self.block_ends:
                skips.append(x)
            x = layer(x)
        x = self.drop(self.bottleneck(x))
        for block, skip in zip(self.up, reversed(skips), strict=True):
            x = block(x, skip)
        return self.head(x)


@register("vgg16", downsampling=32, needs_size=True, source="Sun et al. 2019")
def _vgg16(n_predictors, months, *, dropout, pretrained, size, **_) -> VGG16Dense:
    """The paper's frozen ImageNet encoder and dense layer: local weights required."""
    if find_vgg16_weights(pretrained) is None:
        raise FileNotFoundError(
            "vgg16 needs VGG16 ImageNet weights as a local file (vgg16-397923af.pth); "
            "without them the model is vgg16_scratch"
        )
    return VGG16Dense(n_predictors, months, size, pretrained=pretrained, dropout=dropout)


@register("vgg16_scratch", downsampling=32, needs_size=True)
def _vgg16_scratch(n_predictors, months, *, dropout, size, **_) -> VGG16Dense:
    """The paper's VGG16 architecture trained from random weights."""
    return VGG16Dense(n_predictors, months, size, pretrained=None, dropout=dropout)


@register("vgg16_unet", heads=("point", "gaussian"), downsampling=32)
def _vgg16_unet(n_predictors, months, *, dropout, pretrained, out_channels, **_) -> VGG16UNet:
    return VGG16UNet(n_predictors, months, pretrained=pretrained, dropout=dropout,
                     out_channels=out_channels)  # fmt: skip
