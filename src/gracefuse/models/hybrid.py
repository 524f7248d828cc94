"""Sequence models of the hybrid family (Kraft et al. 2020): the hybrid LSTM that drives the
water balance, the same LSTM without physics, and the conceptual model alone.

The contract is the zoo's: ``model(batch) → dict``. A batch holds, per sample (a basin or a
grid cell):

- ``x`` ``(B, T, F)`` standardised forcing, ``p`` ``(B, T)`` precipitation (mm per step),
  ``s`` ``(B, S)`` standardised static attributes, ``scale`` ``(B,)`` the sample's mean
  precipitation (mm per step), which sizes every flux and store a network predicts;
- ``window`` ``(B, 2)`` the steps ``[start, end)`` that need gradients: steps before
  ``start`` run without (the record's own spin-up), steps after ``end`` are not run.

Before step 0, the physical models spin their stores up over ``spinup_years`` years drawn
at random from the sample's forcing (the paper: ten), without gradients; in eval mode the
draw is fixed, so a prediction does not depend on torch's random state.

Outputs are ``(B, T')`` series for the steps run: the stores (``swe``, ``cwd``, ``gw``,
``tws``), the fluxes (``et``, ``q`` and its parts) and the network's latent outputs
(``frac_fast``, ``frac_soil``, ``frac_gw``, ``frac_et_soil``, ``baseflow``).

``hybrid_trend`` and ``lstm_trend`` (ours, not the paper's) add :class:`SampleTrend`: a
constant net lateral flux per sample (``net_lateral``) into a store of its own
(``lateral_store``) that TWS includes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gracefuse.models.registry import register
from gracefuse.physics.water_balance import BalanceStates, balance_step

Tensor = torch.Tensor

#: the branches of the hybrid LSTM and their widths (Kraft et al. 2020, Fig. 1)
BRANCHES = {"et": 1, "swe": 1, "partition": 3, "et_share": 1, "baseflow": 1}
#: stores (mm) are fed back to the LSTM as asinh(store / STATE_SCALE)
STATE_SCALE = 100.0
#: base flow leaves at most this fraction of the groundwater store per step
MAX_BASEFLOW = 0.5
#: a sample's net lateral flux is its parameter times this share of its mean precipitation
LATERAL_SCALE = 0.05


class Branches(nn.Module):
    """Independent feed-forward branches over one hidden state, computed together.

    Each branch is ``Linear(hidden, width) → ReLU → Dropout → Linear(width, k)``; the first
    layers are one matrix (a concatenation of independent ones), the second a block-diagonal
    product, so there are two matrix products per step whatever the number of branches.
    """

    def __init__(self, hidden: int, sizes: dict[str, int], width: int, dropout: float) -> None:
        super().__init__()
        self.sizes = dict(sizes)
        n, k = len(sizes), max(sizes.values())
        self.first = nn.Linear(hidden, n * width)
        self.second = nn.Parameter(torch.randn(n, width, k) / width**0.5)
        self.bias = nn.Parameter(torch.zeros(n, k))
        self.drop = nn.Dropout(dropout)
        self.width = width

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        z = self.drop(F.relu(self.first(h))).view(h.shape[0], len(self.sizes), self.width)
        out = torch.einsum("bnw,nwk->bnk", z, self.second) + self.bias
        return {name: out[:, i, :k] for i, (name, k) in enumerate(self.sizes.items())}


def physical_outputs(raw: dict[str, Tensor], scale: Tensor) -> dict[str, Tensor]:
    """The branches' raw values as the balance's inputs, bounded as the physics needs.

    ET and SWE through softplus, in units of the sample's mean precipitation per step;
    the partition of liquid input by softplus normalised to sum 1; the ET share by sigmoid;
    base flow in ``(0, MAX_BASEFLOW)``.
    """
    part = F.softplus(raw["partition"]) + 1e-6
    part = part / part.sum(-1, keepdim=True)
    return {
        "et": F.softplus(raw["et"][:, 0]) * scale,
        "swe": F.softplus(raw["swe"][:, 0] - 2.0) * 10.0 * scale,
        "frac_fast": part[:, 0],
        "frac_soil": part[:, 1],
        "frac_gw": part[:, 2],
        "frac_et_soil": torch.sigmoid(raw["et_share"][:, 0]),
        "baseflow": MAX_BASEFLOW * torch.sigmoid(raw["baseflow"][:, 0] - 2.0),
    }


def spinup_steps(n_steps: int, years: int, per_year: int, generator=None) -> Tensor:
    """Step indices of ``years`` whole years drawn at random (with replacement) from a
    record of ``n_steps`` steps, in order within each year."""
    n_years = max(n_steps // per_year, 1)
    drawn = torch.randint(n_years, (years,), generator=generator)
    return (
        (drawn[:, None] * per_year + torch.arange(per_year)[None])
        .reshape(-1)
        .clamp(max=n_steps - 1)
    )


class _Physical(nn.Module):
    """What the hybrid and the conceptual model share: the stepping through the balance,
    the spin-up and the recording of every store and flux."""

    spinup_years: int
    steps_per_year: int

    def step_outputs(self, batch, t: int, states: BalanceStates, memory):
        """``(outputs for the balance, new memory)`` at step ``t``."""
        raise NotImplementedError

    def initial_memory(self, batch):
        return None

    def _run(self, batch, steps: Tensor, states, memory, record: bool):
        series: dict[str, list[Tensor]] = {}
        for t in steps.tolist():
            out, memory = self.step_outputs(batch, t, states, memory)
            states, fluxes = balance_step(states, batch["p"][:, t], out)
            if record:
                rec = {**out, **fluxes, "swe": states.snow, "cwd": states.soil,
                       "gw": states.groundwater, "tws": states.total}  # fmt: skip
                for name, v in rec.items():
                    series.setdefault(name, []).append(v)
        return states, memory, series

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        p = batch["p"]
        b, n = p.shape
        start, end = _window(batch, n)
        states = BalanceStates.zeros(b, p.device, p.dtype)
        memory = self.initial_memory(batch)
        gen = None if self.training else torch.Generator().manual_seed(0)
        with torch.no_grad():
            if self.spinup_years > 0:
                pool = max(start, min(n, self.steps_per_year * 30))
                drawn = spinup_steps(pool, self.spinup_years, self.steps_per_year, gen)
                states, memory, _ = self._run(batch, drawn, states, memory, False)
            states, memory, _ = self._run(batch, torch.arange(start), states, memory, False)
        states, memory, series = self._run(batch, torch.arange(start, end), states, memory, True)
        out = {name: torch.stack(v, dim=1) for name, v in series.items()}
        out["first_step"] = torch.full((b,), start, dtype=torch.long, device=p.device)
        return out


def _window(batch: dict[str, Tensor], n: int) -> tuple[int, int]:
    if "window" not in batch:
        return 0, n
    w = batch["window"]
    return int(w[:, 0].min()), int(w[:, 1].max().clamp(max=n))


class HybridLSTM(_Physical):
    """Kraft et al. (2020): an LSTM (one layer) whose task branches drive the water balance.

    The LSTM sees, per step, the forcing, the static attributes and the model's own
    groundwater and soil deficit of the step before (fed back through asinh). See
    :mod:`gracefuse.physics.water_balance` for the balance.

    Examples
    --------
    >>> m = HybridLSTM(n_forcing=2, n_static=1, hidden=8, spinup_years=1).eval()
    >>> batch = {"x": torch.zeros(3, 24, 2), "p": torch.full((3, 24), 50.0),
    ...          "s": torch.zeros(3, 1), "scale": torch.full((3,), 50.0)}
    >>> out = m(batch)
    >>> out["tws"].shape, bool((out["q"] >= 0).all())
    (torch.Size([3, 24]), True)
    """

    def __init__(
        self, n_forcing: int, n_static: int, hidden: int = 100, dropout: float = 0.2,
        branch_width: int = 32, spinup_years: int = 10, steps_per_year: int = 12,
    ) -> None:  # fmt: skip
        super().__init__()
        self.cell = nn.LSTMCell(n_forcing + n_static + 2, hidden)
        self.drop = nn.Dropout(dropout)
        self.branches = Branches(hidden, BRANCHES, branch_width, dropout)
        self.spinup_years, self.steps_per_year = spinup_years, steps_per_year

    def initial_memory(self, batch):
        z = batch["x"].new_zeros(batch["x"].shape[0], self.cell.hidden_size)
        return z, z

    def step_outputs(self, batch, t, states, memory):
        fed = torch.stack([states.groundwater, states.soil], dim=1) / STATE_SCALE
        inp = torch.cat([batch["x"][:, t], batch["s"], torch.asinh(fed)], dim=1)
        h, c = self.cell(inp, memory)
        raw = self.branches(self.drop(h))
        return physical_outputs(raw, batch["scale"]), (h, c)


class ConceptualModel(_Physical):
    """The conceptual model alone: the same balance, each of its inputs a fixed function of
    the step's forcing, ``act(b + w·x_t)``, with ``b, w`` fitted per sample (basin or cell)
    by gradient descent. No memory beyond the stores; samples it was not fitted on have no
    parameters (it cannot predict unseen basins)."""

    def __init__(self, n_forcing: int, n_samples: int, spinup_years: int = 10,
                 steps_per_year: int = 12) -> None:  # fmt: skip
        super().__init__()
        width = sum(BRANCHES.values())
        self.weights = nn.Parameter(torch.zeros(n_samples, n_forcing, width))
        self.bias = nn.Parameter(torch.zeros(n_samples, width))
        self.spinup_years, self.steps_per_year = spinup_years, steps_per_year

    def step_outputs(self, batch, t, states, memory):
        sid = batch["sample"]
        flat = torch.einsum("bf,bfk->bk", batch["x"][:, t], self.weights[sid]) + self.bias[sid]
        raw, i = {}, 0
        for name, k in BRANCHES.items():
            raw[name] = flat[:, i : i + k]
            i += k
        return physical_outputs(raw, batch["scale"]), memory


class SeriesLSTM(nn.Module):
    """The same LSTM with no physics: forcing and statics in, every target out directly
    (``tws`` as a free anomaly, ``et``, ``q``, ``swe`` ≥ 0 through softplus), no stores."""

    def __init__(self, n_forcing: int, n_static: int, hidden: int = 100, dropout: float = 0.2,
                 branch_width: int = 32) -> None:  # fmt: skip
        super().__init__()
        self.lstm = nn.LSTM(n_forcing + n_static, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        sizes = {"tws": 1, "et": 1, "q": 1, "swe": 1}
        self.branches = Branches(hidden, sizes, branch_width, dropout)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = batch["x"]
        b, n, _ = x.shape
        start, end = _window(batch, n)
        inp = torch.cat([x[:, :end], batch["s"][:, None].expand(b, end, -1)], dim=2)
        h, _ = self.lstm(inp)
        h = self.drop(h[:, start:]).reshape(-1, h.shape[-1])
        raw = {k: v[:, 0].view(b, -1) for k, v in self.branches(h).items()}
        scale = batch["scale"][:, None]
        return {
            "tws": raw["tws"] * 10.0 * scale,
            "et": F.softplus(raw["et"]) * scale,
            "q": F.softplus(raw["q"]) * scale,
            "swe": F.softplus(raw["swe"] - 2.0) * 10.0 * scale,
            "first_step": torch.full((b,), start, dtype=torch.long, device=x.device),
        }


class SampleTrend(nn.Module):
    """A net lateral flux per sample, constant in time (mm per step): the water a balance
    of precipitation, ET and runoff does not see (groundwater abstraction, glacier loss,
    transfers between basins). It fills or drains a store of its own, so TWS changes by
    ``p − et − q + net_lateral`` each step.

    The flux of sample ``i`` is ``rate_i · LATERAL_SCALE · scale_i``; the rates start at
    zero and are fitted with the network, so a sample no training saw (an unseen basin)
    keeps a flux of zero.

    Examples
    --------
    >>> trend = SampleTrend(2)
    >>> with torch.no_grad():
    ...     _ = trend.rate.fill_(1.0)
    >>> out = {"tws": torch.zeros(2, 3), "first_step": torch.tensor([0, 0])}
    >>> batch = {"sample": torch.tensor([0, 1]), "scale": torch.tensor([20.0, 40.0])}
    >>> trend(out, batch)["lateral_store"].tolist()
    [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]
    """

    def __init__(self, n_samples: int) -> None:
        super().__init__()
        self.rate = nn.Parameter(torch.zeros(n_samples))

    def forward(self, out: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        tws = out["tws"]
        flux = self.rate[batch["sample"]] * LATERAL_SCALE * batch["scale"]
        steps = out["first_step"][:, None] + 1 + torch.arange(tws.shape[1], device=tws.device)
        store = flux[:, None] * steps.to(tws.dtype)
        return {**out, "net_lateral": flux[:, None].expand_as(tws), "lateral_store": store,
                "tws": tws + store}  # fmt: skip


class _WithTrend:
    """Mixin: the model's outputs with a :class:`SampleTrend` (one net lateral flux per
    sample, fitted with the network) added to its TWS; built with ``n_samples`` after the
    model's ``n_forcing, n_static``."""

    def __init__(self, n_forcing: int, n_static: int, n_samples: int, **kwargs) -> None:
        super().__init__(n_forcing, n_static, **kwargs)
        self.trend = SampleTrend(n_samples)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.trend(super().forward(batch), batch)


class HybridTrend(_WithTrend, HybridLSTM):
    """Ours: :class:`HybridLSTM` with a :class:`SampleTrend`. The balance of the LSTM's
    stores is the paper's."""


class SeriesTrend(_WithTrend, SeriesLSTM):
    """Ours: the no-physics :class:`SeriesLSTM` with a :class:`SampleTrend` on its TWS."""


register("hybrid", inputs="series", methods=("hybrid",), source="Kraft et al. 2020")(HybridLSTM)
register("lstm", inputs="series", methods=("hybrid",))(SeriesLSTM)
register("conceptual", inputs="series", methods=("hybrid",))(ConceptualModel)
register("hybrid_trend", inputs="series", methods=("hybrid",))(HybridTrend)
register("lstm_trend", inputs="series", methods=("hybrid",))(SeriesTrend)
