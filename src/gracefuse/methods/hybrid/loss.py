"""The hybrid family's loss: one term per observed target, weighed by learned task
uncertainty (Kendall et al. 2018), plus the groundwater constraint ``C_g`` (Kraft et al.
2020)."""

from __future__ import annotations

import torch
from torch import nn

from gracefuse.methods.hybrid.series import to_months
from gracefuse.physics.water_balance import groundwater_constraint
from gracefuse.training.losses import TaskUncertaintyLoss

Tensor = torch.Tensor

#: how each target is made monthly from the model's steps, and from which output
MONTHLY = {"twsa": ("tws", "mean"), "et": ("et", "sum"), "q": ("q", "sum"),
           "swe": ("swe", "mean")}  # fmt: skip
#: variance floor of the NSE-like loss (mm² per month) when no target scale is given
VARIANCE_FLOOR = 1.0
#: the NSE-like loss divides by ``(σ_row + NSE_EPSILON·σ_target)²`` per row, as
#: neuralhydrology's NSE* (Kratzert et al. 2019): a row with a flat series (a cell without
#: snow, a dry river) weighs at most ``1/NSE_EPSILON²`` times a typical one, instead of
#: dividing by a variance near zero and pulling the whole output to zero
NSE_EPSILON = 0.1


def monthly_output(out: dict[str, Tensor], name: str, step_month: Tensor, first: int,
                   n_months: int) -> tuple[Tensor, int]:  # fmt: skip
    """Target ``name`` made monthly from the steps the model ran (from step ``first``).

    Returns the ``(B, m)`` months and the index of the first of them."""
    key, how = MONTHLY[name]
    series = out[key]
    months = step_month[first : first + series.shape[1]].to(series.device)
    m0 = int(months[0])
    m = int(months[-1]) - m0 + 1
    return to_months(series, months - m0, m, how), m0


def masked_anomaly(a: Tensor, valid: Tensor) -> Tensor:
    """``a`` minus its mean over ``valid`` entries, per row (NaN-free where valid)."""
    n = valid.sum(1, keepdim=True).clamp(min=1)
    mean = torch.where(valid, a, torch.zeros_like(a)).sum(1, keepdim=True) / n
    return a - mean


def target_error(sim: Tensor, obs: Tensor, kind: str, anomaly: bool,
                 scale: float | None = None) -> Tensor:  # fmt: skip
    """The loss of one target over ``(B, m)`` months: NaN if nothing is observed.

    ``kind``: ``"rmse"`` (mm) or ``"nse"`` (squared error over each row's variance,
    averaged over rows: 1 − NSE). ``anomaly``: both sides about their mean over the
    observed months of each row (TWS anomalies have no common zero). ``scale``: the
    target's standard deviation over the training data (mm), which sets the floor of each
    row's spread (:data:`NSE_EPSILON`); without it the floor is :data:`VARIANCE_FLOOR`."""
    valid = torch.isfinite(obs)
    if not bool(valid.any()):
        return sim.sum() * float("nan")
    o = torch.where(valid, obs, torch.zeros_like(obs))
    s = sim
    if anomaly:
        s, o = masked_anomaly(s, valid), masked_anomaly(o, valid)
    err = torch.where(valid, (s - o) ** 2, torch.zeros_like(s))
    if kind == "rmse":
        return torch.sqrt(err.sum() / valid.sum() + 1e-12)
    n = valid.sum(1)
    o_c = o if anomaly else masked_anomaly(o, valid)
    rows = n >= 2
    n_rows = n.clamp(min=1)
    spread = torch.where(valid, o_c**2, torch.zeros_like(o)).sum(1) / n_rows  # row variance
    if scale is None:
        var = spread + VARIANCE_FLOOR
    else:
        var = (torch.sqrt(spread) + NSE_EPSILON * scale) ** 2
    return (err.sum(1)[rows] / (var[rows] * n_rows[rows])).mean()


class HybridLoss(nn.Module):
    """Per-target losses on the monthly outputs, task-uncertainty weights, and ``C_g``.

    Parameters
    ----------
    targets
        Target names (``twsa``, ``et``, ``q``, ``swe``); the batch holds ``y_<name>``.
    step_month
        ``(T,)`` month of each step.
    kind
        ``"rmse"`` or ``"nse"`` (see :func:`target_error`).
    groundwater_weight
        Weight of ``C_g = mean(−min(g, 0)) + 0.1``; with ``kind = "nse"`` the stores are
        first divided by the sample's mean precipitation per step (ours: unit-free like
        the NSE terms), with ``"rmse"`` it is the paper's form in mm.
    task_lr
        Learning rate of the task weights (their own optimiser group).
    scales
        ``target → σ`` over the training data (mm), the floor of each row's spread in the
        NSE-like loss (see :func:`target_error`).
    """

    def __init__(self, targets: list[str], step_month: Tensor, kind: str = "nse",
                 groundwater_weight: float = 1.0, task_lr: float | None = None,
                 scales: dict[str, float] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.targets = list(targets)
        self.register_buffer("step_month", step_month.long(), persistent=False)
        self.kind = kind
        self.groundwater_weight = groundwater_weight
        self.scales = dict(scales or {})
        tasks = {t: self._task(t) for t in self.targets}
        self.tasks = TaskUncertaintyLoss(tasks, lr=task_lr)
        self.lr = task_lr

    def _task(self, name: str):
        def task(out: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
            first = int(out["first_step"][0])
            sim, m0 = monthly_output(out, name, self.step_month, first, self.step_month[-1] + 1)
            obs = batch[f"y_{name}"][:, m0 : m0 + sim.shape[1]]
            return target_error(sim, obs, self.kind, name == "twsa", self.scales.get(name))

        return task

    def forward(self, out: dict[str, Tensor], batch: dict[str, Tensor]):
        total, parts = self.tasks(out, batch)
        if self.groundwater_weight > 0 and "gw" in out:
            g = out["gw"]
            if self.kind == "nse":
                g = g / batch["scale"][:, None]
            cg = groundwater_constraint(g)
            total = total + self.groundwater_weight * cg
            parts = {**parts, "c_g": cg.detach()}
        return total, parts
