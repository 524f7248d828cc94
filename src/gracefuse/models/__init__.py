"""The model zoo behind one factory: :func:`build_model`."""

from __future__ import annotations

from torch import nn

from gracefuse.models.blocks import count_parameters
from gracefuse.models.segnet import SegNetLite
from gracefuse.models.unet import UNet
from gracefuse.models.vgg import VGG16UNet

#: how much each architecture downsamples: image sizes must divide by this
DOWNSAMPLING = {"unet": 32, "segnet": 8, "vgg16": 32}


def build_model(
    name: str,
    n_predictors: int,
    months: int,
    *,
    base_filters: int | None = None,
    depth: int | None = None,
    dropout: float = 0.1,
    pretrained: str | None = None,
) -> nn.Module:
    """Build an architecture by name (``unet``, ``segnet``, ``vgg16``).

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
    raise ValueError(f"unknown architecture {name!r}; choose unet, segnet or vgg16")


__all__ = ["DOWNSAMPLING", "build_model", "count_parameters", "UNet", "SegNetLite", "VGG16UNet"]
