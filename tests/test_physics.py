"""The hybrid's water balance: mass closes at every step whatever the network says, the
stores obey their rules, and gradients reach every network output through time."""

import pytest
import torch

from gracefuse.physics.water_balance import (
    BalanceStates,
    groundwater_constraint,
    water_balance,
)

NAMES = ("swe", "et", "frac_soil", "frac_gw", "frac_et_soil", "baseflow")


def _network_outputs(b: int, t: int, dtype=torch.float64, seed: int = 0) -> dict:
    """Outputs in the ranges the hybrid's branches give (softplus, softmax, sigmoid), with
    heavy snow, drought and deluge cases mixed in."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    frac = torch.softmax(2 * r(b, t, 3), dim=-1)
    return {
        "swe": torch.nn.functional.softplus(40 * r(b, t)),
        "et": torch.nn.functional.softplus(30 * r(b, t)),
        "frac_soil": frac[..., 1],
        "frac_gw": frac[..., 2],
        "frac_et_soil": torch.sigmoid(2 * r(b, t)),
        "baseflow": torch.sigmoid(r(b, t) - 2),
    }


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 2e-3)])
def test_mass_closes_at_every_step(dtype, tol):
    b, t = 32, 240
    g = torch.Generator().manual_seed(1)
    precip = torch.nn.functional.softplus(80 * torch.randn(b, t, generator=g, dtype=dtype))
    start = BalanceStates(
        torch.full((b,), 50.0, dtype=dtype), torch.full((b,), -80.0, dtype=dtype),
        torch.full((b,), 200.0, dtype=dtype),
    )  # fmt: skip
    r = water_balance(precip, _network_outputs(b, t, dtype), start)
    tws = torch.cat([start.total[:, None], r["tws"]], dim=1)
    residual = tws.diff(dim=1) - (precip - r["et"] - r["q"])
    assert float(residual.abs().max()) < tol  # mm, on stores of hundreds of mm
    assert torch.allclose(r["tws"], r["swe"] + r["cwd"] + r["gw"])
    assert torch.allclose(r["q"], r["q_fast"] + r["q_overflow"] + r["q_base"])
    assert torch.allclose(r["et"], r["et_soil"] + r["et_gw"])


def test_each_store_obeys_its_rule():
    b, t = 16, 120
    precip = torch.nn.functional.softplus(50 * torch.randn(b, t, dtype=torch.float64))
    r = water_balance(precip, _network_outputs(b, t, seed=3))
    assert bool((r["cwd"] <= 0).all())  # the soil holds a deficit; a surplus runs off
    assert bool((r["q_overflow"] >= 0).all()) and bool((r["liquid_input"] >= -1e-12).all())
    assert bool((r["swe"] >= 0).all())
    snow_before = torch.cat([torch.zeros(b, 1, dtype=torch.float64), r["swe"][:, :-1]], 1)
    assert bool((r["swe"] <= snow_before + precip + 1e-12).all())  # snow grows by ≤ p
    assert bool((r["q_fast"] >= -1e-12).all())


def test_gradients_reach_every_output_through_time():
    b, t = 4, 36
    precip = torch.full((b, t), 60.0, dtype=torch.float64)
    outputs = {k: v.clone().requires_grad_(True) for k, v in _network_outputs(b, t).items()}
    r = water_balance(precip, outputs)
    loss = r["tws"][:, -1].pow(2).mean() + r["q"].mean() + groundwater_constraint(r["gw"])
    loss.backward()
    for name in NAMES:
        grad = outputs[name].grad
        assert grad is not None and torch.isfinite(grad).all(), name
        assert float(grad.abs().sum()) > 0, name
    early = outputs["frac_gw"].grad[:, 0]  # the first step still shapes the last storage
    assert float(early.abs().sum()) > 0


def test_groundwater_constraint_known_answer():
    gw = torch.tensor([[-2.0, 3.0], [0.0, -4.0]])
    assert float(groundwater_constraint(gw)) == pytest.approx((2 + 4) / 4 + 0.1)
