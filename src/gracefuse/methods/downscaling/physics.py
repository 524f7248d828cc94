"""The soft physics terms of the PI-ConvLSTM + U-Net (Ibrahim et al. 2026), as weighted
terms of the shared training loop (:mod:`gracefuse.training.terms`).

Each reads the model's ``y_hat`` (standardised GWSA) and from the batch ``coarse`` (the
coarse GWSA repeated over its fine cells, standardised), ``land`` (1 on fine land cells)
and, for the magnitude term, ``theta`` (soil moisture, 0–1). ``y_mean`` and ``y_std`` turn
standardised values back to mm, where signs and sizes mean something; each term is divided
by ``y_std`` (or its square) again so that the weights are unit-free.
"""

from __future__ import annotations

import torch

from gracefuse.training.terms import Parts, Term


class _PhysicsTerm(Term):
    def __init__(self, y_mean: float, y_std: float, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.y_mean, self.y_std = y_mean, y_std

    def mm(self, v: torch.Tensor) -> torch.Tensor:
        return v * self.y_std + self.y_mean

    @staticmethod
    def on_land(v: torch.Tensor, land: torch.Tensor) -> torch.Tensor:
        return (v * land).sum() / land.sum().clamp_min(1.0)


class SignAgreement(_PhysicsTerm):
    """The fine anomaly keeps the sign of its coarse cell's: ``mean(relu(−f·c)) / s²``.

    Examples
    --------
    >>> t = SignAgreement(0.0, 1.0)
    >>> b = {"coarse": torch.ones(1, 2, 2), "land": torch.ones(1, 2, 2)}
    >>> float(t({"y_hat": -torch.ones(1, 2, 2)}, b)), float(t({"y_hat": torch.ones(1, 2, 2)}, b))
    (1.0, 0.0)
    """

    name = "sign"

    def __call__(self, outputs: Parts, batch: Parts) -> torch.Tensor:
        f, c = self.mm(outputs["y_hat"]), self.mm(batch["coarse"])
        return self.on_land(torch.relu(-f * c), batch["land"]) / self.y_std**2


class SoilMoistureMagnitude(_PhysicsTerm):
    """The fine field departs from its coarse cell by at most ``α(θ) = 0.1 + 0.4θ`` of the
    coarse value's size: ``mean(relu(|f − c| − α(θ)·|c|)) / s``.

    Examples
    --------
    >>> t = SoilMoistureMagnitude(0.0, 1.0)
    >>> b = {"coarse": torch.full((1, 1, 1), 10.0), "land": torch.ones(1, 1, 1),
    ...      "theta": torch.full((1, 1, 1), 0.5)}
    >>> float(t({"y_hat": torch.full((1, 1, 1), 12.0)}, b)), float(t({"y_hat": torch.full((1, 1, 1), 14.0)}, b))
    (0.0, 1.0)
    """

    name = "magnitude"

    def __call__(self, outputs: Parts, batch: Parts) -> torch.Tensor:
        f, c = self.mm(outputs["y_hat"]), self.mm(batch["coarse"])
        alpha = 0.1 + 0.4 * batch["theta"]
        excess = torch.relu((f - c).abs() - alpha * c.abs())
        return self.on_land(excess, batch["land"]) / self.y_std


class PatchMass(_PhysicsTerm):
    """Regional mass balance: over each ``block × block`` fine patch, the land mean of the
    fine field equals that of the coarse one: ``mean((f̄ − c̄)²) / s²`` over patches with
    land (a patch larger than the image is the whole image).

    Examples
    --------
    >>> t = PatchMass(0.0, 1.0, block=2)
    >>> b = {"coarse": torch.zeros(1, 2, 4), "land": torch.ones(1, 2, 4)}
    >>> f = torch.tensor([[[1.0, -1.0, 2.0, 2.0], [-1.0, 1.0, 2.0, 2.0]]])
    >>> float(t({"y_hat": f}, b))
    2.0
    """

    name = "mass"

    def __init__(self, y_mean: float, y_std: float, block: int = 32, weight: float = 1.0) -> None:
        super().__init__(y_mean, y_std, weight)
        self.block = block

    def __call__(self, outputs: Parts, batch: Parts) -> torch.Tensor:
        land = batch["land"].unsqueeze(1)
        k = (min(self.block, land.shape[-2]), min(self.block, land.shape[-1]))
        area = torch.nn.functional.avg_pool2d(land, k)
        diff = (self.mm(outputs["y_hat"]) - self.mm(batch["coarse"])).unsqueeze(1) * land
        mean = torch.nn.functional.avg_pool2d(diff, k) / area.clamp_min(1e-6)
        has = area > 0
        return (mean[has] ** 2).mean() / self.y_std**2 if bool(has.any()) else diff.sum() * 0
