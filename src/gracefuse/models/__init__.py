"""The model zoo behind one factory: :func:`build_model`."""

from __future__ import annotations

from torch import nn

from gracefuse.models.blocks import count_parameters
from gracefuse.models.convlstm import ConvLSTMForecaster
from gracefuse.models.dcae import DCAE
from gracefuse.models.segnet import SegNetLite, SegNetPool
from gracefuse.models.unet import UNet
from gracefuse.models.vgg import VGG16Dense, VGG16UNet, find_vgg16_weights

#: how much each architecture downsamples: image sizes must divide by this
DOWNSAMPLING = {
    "segnet_lite": 1,
    "segnet_pool": 8,
    "unet": 32,
    "vgg16": 32,
    "vgg16_scratch": 32,
    "vgg16_unet": 32,
    "seunet": 16,
    "pix2pix": 16,
    "dcae": 8,
    "convlstm": 1,
}
#: the fusion architectures of Sun et al. (2019) as published; the rest are ours
PAPER_FORMS = ("segnet_lite", "unet", "vgg16")


def resolve_name(name: str, pretrained: str | None = None) -> str:
    """The name a model runs under: ``vgg16`` without local ImageNet weights is
    ``vgg16_scratch`` (the paper's architecture trained from random weights).

    Examples
    --------
    >>> resolve_name("vgg16", "/nowhere/vgg16.pth")
    'vgg16_scratch'
    """
    if name == "vgg16" and find_vgg16_weights(pretrained) is None:
        return "vgg16_scratch"
    return name


def build_model(
    name: str,
    n_predictors: int,
    months: int,
    *,
    base_filters: int | None = None,
    depth: int | None = None,
    dropout: float = 0.1,
    pretrained: str | None = None,
    size: int | tuple[int, int] | None = None,
) -> nn.Module:
    """Build an architecture by name.

    Fusion (linear output): the paper's ``segnet_lite`` (no pooling), ``unet``
    (parameter-free upsampling) and ``vgg16`` (frozen ImageNet encoder → dense; needs
    ``size`` and local weights), and ours: ``vgg16_scratch`` (the same trained from random
    weights), ``segnet_pool`` (SegNet-lite with pooling), ``vgg16_unet`` (VGG16 encoder, U-Net
    decoder). Reconstruction (tanh output, targets in [−1, 1]): ``seunet`` (U-Net with
    squeeze-and-excitation), ``pix2pix`` (its U-Net generator; the PatchGAN lives in
    :mod:`gracefuse.models.pix2pix`), ``dcae`` (needs ``size``) and ``convlstm``
    (GRACE-only sequences).

    Parameters
    ----------
    n_predictors, months
        Number of predictors and months per predictor (``lags + 1``).

    Examples
    --------
    >>> m = build_model("segnet_lite", n_predictors=3, months=3)
    >>> 400_000 < count_parameters(m) < 900_000
    True
    """
    hw = (size, size) if isinstance(size, int) else size
    if name == "unet":
        return UNet(
            n_predictors,
            months,
            base_filters or 32,
            depth or 5,
            dropout,
            upsample="nearest",
            batch_norm=False,
        )
    if name == "segnet_lite":
        return SegNetLite(n_predictors, months, base_filters or 16, dropout)
    if name == "segnet_pool":
        return SegNetPool(n_predictors, months, base_filters or 16, dropout)
    if name in ("vgg16", "vgg16_scratch"):
        if hw is None:
            raise ValueError(f"{name} needs the image size")
        weights = pretrained if name == "vgg16" else None
        if name == "vgg16" and find_vgg16_weights(pretrained) is None:
            raise FileNotFoundError(
                "vgg16 needs VGG16 ImageNet weights as a local file (vgg16-397923af.pth); "
                "without them the model is vgg16_scratch"
            )
        return VGG16Dense(n_predictors, months, hw, pretrained=weights, dropout=dropout)
    if name == "vgg16_unet":
        return VGG16UNet(n_predictors, months, pretrained=pretrained, dropout=dropout)
    if name == "seunet":
        return UNet(
            n_predictors, months, base_filters or 16, depth or 4, dropout, se=True, tanh=True
        )
    if name == "pix2pix":
        return UNet(n_predictors, months, base_filters or 16, depth or 4, dropout, tanh=True)
    if name == "dcae":
        if size is None:
            raise ValueError("dcae needs the image size")
        return DCAE(n_predictors * months, size, dropout=dropout)
    if name == "convlstm":
        width = base_filters or 32
        return ConvLSTMForecaster(in_channels=2, hidden=(width, width))
    raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(DOWNSAMPLING)}")


__all__ = [
    "DCAE",
    "DOWNSAMPLING",
    "ConvLSTMForecaster",
    "PAPER_FORMS",
    "SegNetLite",
    "SegNetPool",
    "UNet",
    "VGG16Dense",
    "VGG16UNet",
    "build_model",
    "count_parameters",
    "resolve_name",
]
