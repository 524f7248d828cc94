"""The model zoo behind one factory: :func:`build_model`."""

from __future__ import annotations

from torch import nn

from gracefuse.models.blocks import count_parameters
from gracefuse.models.convlstm import ConvLSTMForecaster
from gracefuse.models.dcae import DCAE
from gracefuse.models.segnet import SegNetLite
from gracefuse.models.unet import UNet
from gracefuse.models.vgg import VGG16UNet

#: how much each architecture downsamples: image sizes must divide by this
DOWNSAMPLING = {
    "unet": 32,
    "segnet": 8,
    "vgg16": 32,
    "seunet": 16,
    "pix2pix": 16,
    "dcae": 8,
    "convlstm": 1,
}


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

    Fusion: ``unet``, ``segnet``, ``vgg16`` (linear output). Reconstruction (tanh output,
    targets in [−1, 1]): ``seunet`` (U-Net with squeeze-and-excitation), ``pix2pix`` (its
    U-Net generator; the PatchGAN lives in :mod:`gracefuse.models.pix2pix`), ``dcae``
    (needs ``size``) and ``convlstm`` (GRACE-only sequences).

    Parameters
    ----------
    n_predictors, months
        Number of predictors and months per predictor (``lags + 1``).

    Examples
    --------
    >>> m = build_model("segnet", n_predictors=3, months=3)
    >>> 400_000 < count_parameters(m) < 900_000
    True
    """
    if name == "unet":
        return UNet(n_predictors, months, base_filters or 32, depth or 5, dropout)
    if name == "segnet":
        return SegNetLite(n_predictors, months, base_filters or 16, dropout)
    if name == "vgg16":
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
    raise ValueError(
        f"unknown architecture {name!r}; choose unet, segnet, vgg16, seunet, pix2pix, dcae "
        "or convlstm"
    )


__all__ = [
    "DCAE",
    "DOWNSAMPLING",
    "ConvLSTMForecaster",
    "SegNetLite",
    "UNet",
    "VGG16UNet",
    "build_model",
    "count_parameters",
]
