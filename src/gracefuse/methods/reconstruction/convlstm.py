"""The GRACE-only ConvLSTM (Yu et al. 2021): forecasts, hindcasts and gap fills.

Two networks, forward (forecast) and backward (hindcast), trained on the training months
only. Every scored prediction takes as inputs only months that are not withheld
(:meth:`Splits.withheld`); a month without such inputs on both sides is filled as a gap is:
from both sides inside the record, by (damped) recursion before or after it. The
one-month-ahead forecasts of ``forecast_1m`` and the production fill of months GRACE never
had (every GRACE month an input) are returned separately.
"""

from __future__ import annotations

import numpy as np
import torch

from gracefuse.datasets import ArrayDataset
from gracefuse.datasets.scaling import Scaler
from gracefuse.datasets.splits import Splits, early_stopping
from gracefuse.evaluate.baselines import climatology_trend
from gracefuse.models import build_model, count_parameters
from gracefuse.training import MaskedMSE, choose_device, fit, seed_everything


def _sequences(
    values: np.ndarray, avail: np.ndarray, targets: np.ndarray, length: int, reverse: bool
) -> np.ndarray:
    """``(N, length, 2, H, W)``: for each target the ``length`` months before it (after it
    when ``reverse``), nearest first last; channels are the value (0 when unavailable) and
    the availability flag."""
    n_t = values.shape[0]
    out = np.zeros((len(targets), length, 2, *values.shape[1:]), np.float32)
    for i, k in enumerate(targets):
        months = k + np.arange(length, 0, -1) if reverse else k - np.arange(length, 0, -1)
        for j, m in enumerate(months):
            if 0 <= m < n_t and avail[m]:
                out[i, j, 0] = np.nan_to_num(values[m])
                out[i, j, 1] = 1.0
    return out


def convlstm_predict(
    model,
    values: np.ndarray,
    avail: np.ndarray,
    targets: np.ndarray,
    length: int,
    reverse: bool,
    recursive: bool,
    device,
    damping: float = 0.0,
) -> np.ndarray:
    """Predict ``targets`` (scaled units); ``recursive`` feeds each prediction back as an
    input for the next target (filling a block or hindcasting month by month).

    ``damping`` (months, recursive only): a prediction ``h`` months past the nearest
    observed month is multiplied by ``exp(−(h−1)/damping)`` before it is fed back, so that
    long recursions relax to 0 (the seasonal climatology, when the model works on departures
    from it) instead of drifting. 0 leaves predictions as they are.
    """
    values, avail = values.copy(), avail.copy()
    observed = np.flatnonzero(avail)
    out = np.full((len(targets), *values.shape[1:]), np.nan, np.float32)
    model.eval()
    order = np.argsort(targets)[::-1] if reverse else np.argsort(targets)

    def decay(k: int) -> float:
        if not damping:
            return 1.0
        side = observed[observed > k] if reverse else observed[observed < k]
        if side.size == 0:
            return 0.0
        h = (side[0] - k) if reverse else (k - side[-1])
        return float(np.exp(-(h - 1) / damping))

    with torch.no_grad():
        if not recursive:
            seq = torch.as_tensor(
                _sequences(values, avail, targets, length, reverse), device=device
            )
            return (
                np.concatenate(
                    [
                        model({"x": seq[i : i + 16]})["y_hat"].cpu().numpy()
                        for i in range(0, len(targets), 16)
                    ]
                )
                if len(targets)
                else out
            )
        for i in order:
            k = targets[i]
            seq = torch.as_tensor(
                _sequences(values, avail, np.array([k]), length, reverse), device=device
            )
            out[i] = model({"x": seq})["y_hat"].cpu().numpy()[0] * decay(k)
            values[k], avail[k] = out[i], True
    return out


def train_convlstm(
    mcfg,
    recipe,
    grace_scaled: np.ndarray,
    splits: Splits,
    out_dir,
    reverse: bool,
    progress: bool = True,
):
    """Train the GRACE-only ConvLSTM in forecast (``reverse=False``) or hindcast mode.

    Returns the trained model, its device and the :class:`~gracefuse.training.FitResult`."""
    tcfg = recipe.train
    seed_everything(tcfg.seed)
    device = choose_device(tcfg.device)
    length = recipe.reconstruction.sequence - 1
    known = np.isfinite(grace_scaled).any((1, 2))
    avail = known.copy()
    avail[splits.withheld()] = False  # training never sees withheld months, not even as inputs
    train, val = early_stopping(splits.train)
    targets = np.concatenate([train, val])
    seq = _sequences(grace_scaled, avail, targets, length, reverse)
    data = ArrayDataset(x=seq, y=grace_scaled[targets].astype(np.float32))
    model = build_model("convlstm", 2, 1, base_filters=mcfg.base_filters).to(device)
    mode = "hindcast" if reverse else "forecast"
    result = fit(
        model,
        data,
        np.arange(len(train)),
        np.arange(len(train), len(targets)),
        MaskedMSE(),
        tcfg,
        out_dir / "checkpoints" / f"convlstm_{mode}",
        epochs=mcfg.epochs,
        label=f"convlstm-{mode[0]}",
        progress=progress,
    )
    return model, device, result


def _runs(idx: np.ndarray) -> list[np.ndarray]:
    """Positions (into sorted ``idx``) of each run of consecutive months."""
    return np.split(np.arange(len(idx)), np.flatnonzero(np.diff(idx) > 1) + 1) if len(idx) else []


def bidirectional_fill(
    fwd, bwd, values, avail, targets, length, device, damping: float = 0.0
) -> np.ndarray:
    """Fill missing months from both sides: a forward recursion from the months before
    each gap and a backward one from the months after it, blended linearly across the gap
    (weight ``(n − i)/(n + 1)`` on the forward value of the ``i``-th of ``n`` months)."""
    targets = np.sort(targets)
    pf = convlstm_predict(fwd, values, avail, targets, length, False, True, device, damping)
    pb = convlstm_predict(bwd, values, avail, targets, length, True, True, device, damping)
    w = np.empty(len(targets))
    for run in _runs(targets):
        n = len(run)
        w[run] = (n - np.arange(n)) / (n + 1)
    return w[:, None, None] * pf + (1 - w[:, None, None]) * pb


def fill_from(fwd, bwd, values, avail, targets, length, device, damping) -> np.ndarray:
    """Predict ``targets`` from the months ``avail``: from both sides between the first and
    last available month, by forward recursion after them and backward recursion before."""
    out = np.full((len(targets), *values.shape[1:]), np.nan, np.float32)
    have = np.flatnonzero(avail)
    if not len(targets) or not len(have):
        return out
    parts = (
        ((targets > have[0]) & (targets < have[-1]), None),
        (targets > have[-1], (fwd, False)),
        (targets < have[0], (bwd, True)),
    )
    for where, model in parts:
        sel = np.flatnonzero(where)
        if not len(sel):
            continue
        if model is None:
            out[sel] = bidirectional_fill(
                fwd, bwd, values, avail, targets[sel], length, device, damping
            )
        else:
            out[sel] = convlstm_predict(
                model[0], values, avail, targets[sel], length, model[1], True, device, damping
            )
    return out


def convlstm_all(mcfg, recipe, g_scaled, times, splits: Splits, out_dir, progress):
    """ConvLSTM predictions in scaled units: ``(scored, forecasts, product, info)``.

    With ``convlstm_base = "seasonal"`` the networks see and predict departures from each
    cell's seasonal climatology (fitted on training months), so that long recursions relax
    to the climatology.
    """
    rc = recipe.reconstruction
    base = np.zeros_like(g_scaled)
    if rc.convlstm_base == "seasonal":
        base = climatology_trend(g_scaled, times, splits.train, trend=False)
    dep = Scaler.fit((g_scaled - base)[splits.train])
    values = dep.forward(g_scaled - base)
    fwd, device, fit_f = train_convlstm(mcfg, recipe, values, splits, out_dir, False, progress)
    bwd, _, fit_b = train_convlstm(mcfg, recipe, values, splits, out_dir, True, progress)
    length, damping = rc.sequence - 1, rc.damping_months
    known = np.isfinite(values).any((1, 2))
    inputs = known.copy()
    inputs[splits.withheld()] = False
    scored = np.full(values.shape, np.nan, np.float32)
    train = splits.train
    ahead = train[train >= length // 2]  # one month ahead where a history exists
    behind = np.setdiff1d(train, ahead)
    for targets, model, reverse in ((ahead, fwd, False), (behind, bwd, True)):
        if len(targets):
            scored[targets] = convlstm_predict(
                model, values, inputs, targets, length, reverse, False, device
            )
    rest = np.flatnonzero(~inputs)
    scored[rest] = fill_from(fwd, bwd, values, inputs, rest, length, device, damping)
    forecasts = np.full(values.shape, np.nan, np.float32)
    if len(splits.forecast_1m):
        avail = known.copy()
        avail[splits.gaps()] = False
        forecasts[splits.forecast_1m] = convlstm_predict(
            fwd, values, avail, splits.forecast_1m, length, False, False, device
        )
    product = scored.copy()
    never = np.flatnonzero(~known)
    product[never] = fill_from(fwd, bwd, values, known, never, length, device, damping)
    info = {
        "parameters": count_parameters(fwd) + count_parameters(bwd),
        "seconds_per_epoch": fit_f.seconds_per_epoch + fit_b.seconds_per_epoch,
    }

    def undo(a: np.ndarray) -> np.ndarray:
        return dep.inverse(a) + base

    return undo(scored), undo(forecasts), undo(product), info
