"""The model zoo: architectures that register themselves (:mod:`.registry`), heads
(:mod:`.heads`) and one factory, :func:`build_model`.

Importing this package imports every architecture module, which fills
:data:`~gracefuse.models.registry.REGISTRY` in this order.
"""

from __future__ import annotations

# isort: off
# the fusion architectures first, then the reconstruction ones, then the hybrid and downscaling ones (the registry keeps this order)
from gracefuse.models import segnet, unet, vgg  # noqa: F401
from gracefuse.models import dcae, convlstm  # noqa: F401
from gracefuse.models import hybrid  # noqa: F401
from gracefuse.models import gnnwr, pi_convlstm_unet, ssvaer  # noqa: F401

# isort: on
from gracefuse.models.blocks import count_parameters
from gracefuse.models.convlstm import ConvLSTMForecaster
from gracefuse.models.dcae import DCAE
from gracefuse.models.heads import GaussianHead, PointHead
from gracefuse.models.registry import REGISTRY, GridModel, ModelSpec, build_model, get_spec
from gracefuse.models.segnet import SegNetLite, SegNetPool
from gracefuse.models.unet import UNet
from gracefuse.models.vgg import VGG16Dense, VGG16UNet, find_vgg16_weights


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


__all__ = [
    "DCAE",
    "REGISTRY",
    "ConvLSTMForecaster",
    "GaussianHead",
    "GridModel",
    "ModelSpec",
    "PointHead",
    "SegNetLite",
    "SegNetPool",
    "UNet",
    "VGG16Dense",
    "VGG16UNet",
    "build_model",
    "count_parameters",
    "get_spec",
    "resolve_name",
]
