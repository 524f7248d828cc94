"""The model contract and the factory: every network is registered by name with what it
can do, and built by :func:`build_model`, which checks a request against those capabilities.

The contract (like neuralhydrology's ``BaseModel``): a model takes a batch dict and returns
a dict. ``batch["x"]`` holds the inputs (``(B, C, H, W)`` images or ``(B, T, C, H, W)``
sequences); the output holds at least ``"y_hat"`` ``(B, H, W)`` and whatever its head adds
(``"variance"``). Architectures are plain tensor → tensor modules that end in a 1×1 conv
with as many channels as the head needs; :class:`GridModel` joins architecture and head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from gracefuse.models.heads import HEADS, make_head

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """What a registered architecture needs and offers.

    Attributes
    ----------
    inputs
        ``"image"`` (``(B, C, H, W)``), ``"sequence"`` (``(B, T, C, H, W)``), ``"series"``
        (lumped ``(B, T, F)`` series of the hybrid family) or ``"points"`` (``(B, P)``
        predictors at points, the downscaling family's weighted regressions and SSVAER) or
        ``"coarse_fine"`` (a coarse sequence and fine predictors, the PI-ConvLSTM + U-Net).
    heads
        Heads it can carry (``"point"``, ``"gaussian"``).
    methods
        Method families it serves (``"fusion"``, ``"reconstruction"``, …).
    downsampling
        How much it downsamples: image sizes must divide by it; with ``default_depth`` set
        it is ``2 ** depth`` instead (U-Nets).
    needs_size
        Whether the image size fixes its weights (dense layers).
    source
        The paper whose form it is, or ``"ours"``.
    """

    name: str
    builder: Builder
    inputs: str = "image"
    heads: tuple[str, ...] = ("point",)
    methods: tuple[str, ...] = ("fusion",)
    downsampling: int = 1
    default_depth: int | None = None
    needs_size: bool = False
    output: str = "linear"
    source: str = "ours"

    def divisor(self, depth: int | None = None) -> int:
        """The number image sizes must divide by (``depth``: U-Net levels, if any)."""
        if self.default_depth is not None:
            return 2 ** (depth or self.default_depth)
        return self.downsampling


#: every registered architecture by name (filled by the model modules as they import)
REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, **capabilities) -> Callable[[Builder], Builder]:
    """Register a builder ``f(n_predictors, months, *, base_filters, depth, dropout,
    pretrained, size, out_channels) → nn.Module`` under ``name`` with its capabilities
    (the fields of :class:`ModelSpec`)."""

    def deco(builder: Builder) -> Builder:
        if name in REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        REGISTRY[name] = ModelSpec(name=name, builder=builder, **capabilities)
        return builder

    return deco


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; a clear error listing the choices otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


class GridModel(nn.Module):
    """An architecture and its head behind the batch-dict contract.

    Examples
    --------
    >>> from gracefuse.models import build_model
    >>> m = build_model("segnet_lite", n_predictors=1, months=1, base_filters=4)
    >>> m({"x": torch.zeros(2, 1, 8, 8)})["y_hat"].shape
    torch.Size([2, 8, 8])
    """

    def __init__(self, spec: ModelSpec, net: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.name = spec.name
        self.net = net
        self.head = head

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.head(self.net(batch["x"]))


def build_model(
    name: str,
    n_predictors: int,
    months: int,
    *,
    head: str = "point",
    base_filters: int | None = None,
    depth: int | None = None,
    dropout: float = 0.1,
    pretrained: str | None = None,
    size: int | tuple[int, int] | None = None,
) -> GridModel:
    """Build a registered architecture with a head, after checking it can do what is asked.

    Parameters
    ----------
    n_predictors, months
        Number of predictors and months per predictor (``lags + 1``).
    head
        ``"point"`` or ``"gaussian"`` (only where the spec lists it).
    size
        Image size ``H`` or ``(H, W)``: required where the spec ``needs_size``; checked
        against its downsampling when given.
    """
    spec = get_spec(name)
    if spec.inputs == "series":
        raise ValueError(
            f"{name} is a sequence model of the {'/'.join(spec.methods)} family; it is built by "
            "gracefuse.methods.hybrid.train.build_hybrid_model, not from images"
        )
    if spec.inputs in ("points", "coarse_fine"):
        kind = "point regression" if spec.inputs == "points" else "coarse-to-fine network"
        raise ValueError(
            f"{name} is a {kind} of the {'/'.join(spec.methods)} family; it is built by "
            "gracefuse.methods.downscaling, not from images"
        )
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    if head not in spec.heads:
        raise ValueError(f"{name} has no {head} head (it has: {', '.join(spec.heads)})")
    hw = (size, size) if isinstance(size, int) else size
    if spec.needs_size and hw is None:
        raise ValueError(f"{name} needs the image size")
    k = spec.divisor(depth)
    if hw is not None and spec.inputs == "image" and (hw[0] % k or hw[1] % k):
        raise ValueError(f"{name} needs an image size divisible by {k}; got {hw[0]}×{hw[1]}")
    made = make_head(head)
    net = spec.builder(
        n_predictors, months, base_filters=base_filters, depth=depth, dropout=dropout,
        pretrained=pretrained, size=hw, out_channels=made.channels,
    )  # fmt: skip
    return GridModel(spec, net, made)
