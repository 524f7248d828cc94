"""The conceptual water balance of the hybrid model (Kraft et al. 2020), differentiable.

Each step takes the precipitation and what a network predicts (snow water equivalent, ET,
the partition of liquid water input and of ET, the base-flow fraction) and moves water
between three stores (mm): snow ``s``, the soil's cumulative water deficit ``c`` (≤ 0; a
surplus overflows to runoff) and groundwater ``g``. For every step and sequence

    (s + c + g)_t − (s + c + g)_{t−1} = p_t − e_t − q_t

to floating-point precision, whatever the network says: the stores are updated only by
fluxes that leave or enter another store. No in-place tensor operation is used, so
gradients reach every network output through every step.

Per step (all ``(B,)`` tensors, mm per step unless stated):

- snow: ``s_t = min(ŝ_t, s_{t−1} + p_t)`` (it cannot grow by more than the precipitation),
  liquid water input ``w = p − (s_t − s_{t−1}) ≥ 0`` (rain and melt);
- partition of ``w`` (fractions summing to 1): soil recharge ``α_c·w``, groundwater
  recharge ``α_g·w``, and fast runoff the rest, ``w − α_c·w − α_g·w`` (= ``α_qf·w``);
- ET ``e`` from the soil (share ``α_e``) and from groundwater (``1 − α_e``);
- soil: ``c* = c_{t−1} + α_c·w − α_e·e``; overflow ``max(c*, 0)`` runs off,
  ``c_t = min(c*, 0)``;
- groundwater: ``g* = g_{t−1} + α_g·w − (1 − α_e)·e``; base flow ``k·max(g*, 0)`` (``k`` in
  (0, 1)), ``g_t = g* − k·max(g*, 0)``;
- runoff ``q = α_qf·w + overflow + base flow``; storage ``tws = s + c + g``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass
class BalanceStates:
    """The stores at one step, each ``(B,)`` in mm."""

    snow: Tensor
    soil: Tensor
    groundwater: Tensor

    @classmethod
    def zeros(cls, batch: int, device=None, dtype=torch.float32) -> BalanceStates:
        z = torch.zeros(batch, device=device, dtype=dtype)
        return cls(z, z, z)

    @property
    def total(self) -> Tensor:
        return self.snow + self.soil + self.groundwater


def balance_step(states: BalanceStates, p: Tensor, out: dict[str, Tensor]):
    """One step of the balance: the new states and this step's fluxes.

    Parameters
    ----------
    states
        The stores before the step.
    p
        ``(B,)`` precipitation (mm per step, ≥ 0).
    out
        The network's outputs for this step, each ``(B,)``: ``swe`` (≥ 0), ``et`` (≥ 0),
        ``frac_soil`` and ``frac_gw`` (≥ 0, summing to at most 1; fast runoff takes the
        rest), ``frac_et_soil`` and ``baseflow`` (in (0, 1)).
    """
    snow = torch.minimum(out["swe"], states.snow + p)
    liquid = p - (snow - states.snow)
    to_soil, to_gw = out["frac_soil"] * liquid, out["frac_gw"] * liquid
    fast = liquid - to_soil - to_gw  # = frac_fast·w, written so that mass closes exactly
    e_soil = out["frac_et_soil"] * out["et"]
    e_gw = out["et"] - e_soil
    soil_star = states.soil + to_soil - e_soil
    overflow = torch.clamp(soil_star, min=0.0)
    soil = soil_star - overflow
    gw_star = states.groundwater + to_gw - e_gw
    base = out["baseflow"] * torch.clamp(gw_star, min=0.0)  # no base flow from a deficit
    groundwater = gw_star - base
    fluxes = {
        "liquid_input": liquid, "q_fast": fast, "q_overflow": overflow, "q_base": base,
        "q": fast + overflow + base, "et": out["et"], "et_soil": e_soil, "et_gw": e_gw,
    }  # fmt: skip
    return BalanceStates(snow, soil, groundwater), fluxes


def water_balance(
    precip: Tensor, outputs: dict[str, Tensor], initial: BalanceStates | None = None
) -> dict[str, Tensor]:
    """Run the balance over a sequence.

    Parameters
    ----------
    precip
        ``(B, T)`` precipitation, mm per step.
    outputs
        The network's outputs over the sequence, each ``(B, T)`` (see :func:`balance_step`).
    initial
        The stores before the first step (zeros by default; a spin-up gives better ones).

    Returns
    -------
    dict
        ``(B, T)`` series: the stores after each step (``swe``, ``cwd`` = soil deficit,
        ``gw``), ``tws`` = their sum, and the fluxes (``q``, ``et``, ``q_fast``,
        ``q_overflow``, ``q_base``, ``liquid_input``, ``et_soil``, ``et_gw``).

    Examples
    --------
    >>> p = torch.full((1, 3), 10.0)
    >>> one = torch.ones(1, 3)
    >>> out = {"swe": 0 * one, "et": 2 * one, "frac_soil": 0.5 * one, "frac_gw": 0.3 * one,
    ...        "frac_et_soil": one, "baseflow": 0.1 * one}
    >>> r = water_balance(p, out)
    >>> torch.allclose(r["tws"][:, -1], (p - r["et"] - r["q"]).sum(1))
    True
    """
    b, t = precip.shape
    states = initial or BalanceStates.zeros(b, precip.device, precip.dtype)
    series: dict[str, list[Tensor]] = {}
    for k in range(t):
        step = {name: v[:, k] for name, v in outputs.items()}
        states, fluxes = balance_step(states, precip[:, k], step)
        record = {**fluxes, "swe": states.snow, "cwd": states.soil, "gw": states.groundwater,
                  "tws": states.total}  # fmt: skip
        for name, v in record.items():
            series.setdefault(name, []).append(v)
    return {name: torch.stack(v, dim=1) for name, v in series.items()}


def groundwater_constraint(gw: Tensor, offset: float = 0.1) -> Tensor:
    """Kraft et al.'s penalty on negative groundwater: ``mean(−min(g, 0)) + offset``."""
    return torch.clamp(-gw, min=0.0).mean() + offset
