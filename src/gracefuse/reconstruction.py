"""Reconstruction and gap filling (Yu et al. 2021): GRACE-like TWSA where GRACE is missing.

Building blocks of the ``gracefuse fill`` workflow:

- :func:`reconstruction_splits`: which months train, which are test (first and last months
  of the record), which are hidden to score gap filling (scattered single months and one
  contiguous block as long as the real GRACE/GRACE-FO gap), which are scored as one-month-
  ahead forecasts, and which lie before GRACE (hindcast);
- :class:`Scaler`: predictors and predictands to [−1, 1] on training data (tanh outputs);
- baselines every learned model must beat: ``persistence``, ``climatology_trend``,
  ``linear_interp`` and ``lsm_regression``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.config import ReconstructionConfig
from gracefuse.errors import InputError

BASELINES = ("persistence", "climatology_trend", "linear_interp", "lsm_regression")


@dataclass
class Splits:
    """Month indices (into the time axis) of each role, in time order."""

    train: np.ndarray
    test: np.ndarray
    hidden_single: np.ndarray
    hidden_block: np.ndarray
    forecast_1m: np.ndarray
    hindcast: np.ndarray

    def hidden(self) -> np.ndarray:
        """Every month whose GRACE value is withheld from training and from model inputs."""
        return np.union1d(self.hidden_single, self.hidden_block)

    def withheld(self) -> np.ndarray:
        """Everything a model may not train on (test, hidden, forecast window)."""
        return np.union1d(np.union1d(self.test, self.hidden()), self.forecast_1m)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            k: getattr(self, k)
            for k in ("train", "test", "hidden_single", "hidden_block", "forecast_1m", "hindcast")
        }


def reconstruction_splits(
    times: pd.DatetimeIndex, known: np.ndarray, cfg: ReconstructionConfig
) -> Splits:
    """Assign each month with GRACE to one role; months before GRACE are ``hindcast``.

    Parameters
    ----------
    times
        The monthly axis.
    known
        ``(time,)`` bool, true where GRACE has a solution.

    Examples
    --------
    >>> t = pd.date_range("2002-04-01", periods=120, freq="MS")
    >>> cfg = ReconstructionConfig(test_first=5, test_last=5, hidden_single=3,
    ...                            hidden_block_start="2006-01", hidden_block_length=11,
    ...                            forecast_months=12)
    >>> s = reconstruction_splits(t, np.ones(120, bool), cfg)
    >>> len(s.hidden_block), len(s.test), len(s.hidden_single)
    (11, 10, 3)
    """
    idx = np.flatnonzero(known)
    if idx.size < cfg.test_first + cfg.test_last + cfg.hidden_block_length + 10:
        raise InputError(None, f"only {idx.size} GRACE months: too few for these splits")
    test = np.union1d(idx[: cfg.test_first], idx[len(idx) - cfg.test_last :])
    forecast = idx[len(idx) - cfg.forecast_months :] if cfg.forecast_months else idx[:0]
    start = pd.Timestamp(cfg.hidden_block_start)
    in_block = (times >= start) & (times < start + pd.DateOffset(months=cfg.hidden_block_length))
    block = np.setdiff1d(np.flatnonzero(in_block & known), np.union1d(test, forecast))
    rest = np.setdiff1d(idx, np.union1d(np.union1d(test, forecast), block))
    rng = np.random.default_rng(cfg.seed)
    # keep a margin around the single months so that each is a real isolated gap
    pool = rest[1:-1]
    single = np.sort(rng.choice(pool, size=min(cfg.hidden_single, pool.size), replace=False))
    train = np.setdiff1d(rest, single)
    first = idx[0]
    hindcast = np.arange(first)
    return Splits(train, test, single, block, forecast, hindcast)


@dataclass
class Scaler:
    """Linear scaling to [−1, 1] by the largest absolute training value (per variable)."""

    scale: float

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        s = float(np.nanmax(np.abs(values)))
        return cls(scale=s if np.isfinite(s) and s > 0 else 1.0)

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.clip(a / self.scale, -1.0, 1.0)

    def inverse(self, a: np.ndarray) -> np.ndarray:
        return a * self.scale


# ----------------------------------------------------------------------------- baselines
def _harmonics(t: np.ndarray) -> np.ndarray:
    """Design matrix: intercept, trend (years), annual and semi-annual harmonics."""
    w = 2 * np.pi * t
    return np.stack([np.ones_like(t), t, np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)], 1)


def _decimal_years(times: pd.DatetimeIndex) -> np.ndarray:
    return (times.year + (times.month - 0.5) / 12.0 - 2000.0).to_numpy(dtype=float)


def climatology_trend(
    grace: np.ndarray, times: pd.DatetimeIndex, fit_idx: np.ndarray, trend: bool = True
) -> np.ndarray:
    """Per-cell least squares of mean + trend + annual + semi-annual cycle, for every month.

    Parameters
    ----------
    grace
        ``(time, H, W)``; NaN where missing.
    fit_idx
        Months to fit on.
    trend
        Include the linear trend; without it, the seasonal climatology alone.
    """
    t = _decimal_years(times)
    columns = slice(None) if trend else [0, 2, 3, 4, 5]
    a = _harmonics(t[fit_idx])[:, columns]
    y = grace[fit_idx].reshape(len(fit_idx), -1)
    out = np.full((len(times), y.shape[1]), np.nan)
    ok_cells = np.isfinite(y).sum(0) >= a.shape[1] + 2
    full = _harmonics(t)[:, columns]
    for c in np.flatnonzero(ok_cells):
        m = np.isfinite(y[:, c])
        coef, *_ = np.linalg.lstsq(a[m], y[m, c], rcond=None)
        out[:, c] = full @ coef
    return out.reshape(grace.shape)


def lsm_regression(
    grace: np.ndarray, lsm: np.ndarray, times: pd.DatetimeIndex, fit_idx: np.ndarray
) -> np.ndarray:
    """The LSM scaled to GRACE per cell: ``GRACE ≈ a + b·LSM + c·t`` fitted on ``fit_idx``."""
    t = _decimal_years(times)
    g = grace[fit_idx].reshape(len(fit_idx), -1)
    lv = lsm.reshape(len(times), -1)
    out = np.full(lv.shape, np.nan)
    for c in range(g.shape[1]):
        m = np.isfinite(g[:, c]) & np.isfinite(lv[fit_idx, c])
        if m.sum() < 6:
            continue
        a = np.stack([np.ones(m.sum()), lv[fit_idx, c][m], t[fit_idx][m]], 1)
        coef, *_ = np.linalg.lstsq(a, g[m, c], rcond=None)
        full = np.stack([np.ones(len(t)), lv[:, c], t], 1)
        out[:, c] = full @ coef
    return out.reshape(lsm.shape)


def linear_interp(grace: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Per-cell linear interpolation in time between the nearest available months.

    Months outside the first..last available month take the nearest available value.
    """
    t = np.arange(grace.shape[0], dtype=float)
    flat = grace.reshape(len(t), -1)
    out = np.full(flat.shape, np.nan)
    av = np.flatnonzero(available)
    for c in range(flat.shape[1]):
        m = av[np.isfinite(flat[av, c])]
        if m.size >= 2:
            out[:, c] = np.interp(t, t[m], flat[m, c])
    return out.reshape(grace.shape)


def persistence(grace: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Each month takes the last available month before it (one-month-ahead: last month)."""
    out = np.full(grace.shape, np.nan)
    last = None
    for k in range(grace.shape[0]):
        if last is not None:
            out[k] = grace[last]
        if available[k]:
            last = k
    return out


def baseline_predictions(
    grace: np.ndarray,
    lsm: np.ndarray | None,
    times: pd.DatetimeIndex,
    splits: Splits,
) -> dict[str, np.ndarray]:
    """Every baseline's prediction for every month (``(time, H, W)`` in mm).

    Only training months (and, for persistence and interpolation, months that a model may
    see as inputs: not hidden, not test) inform the baselines.
    """
    known = np.isfinite(grace).any((1, 2))
    # persistence is a one-month-ahead forecast: any earlier month that is not hidden may serve
    inputs = known.copy()
    inputs[splits.hidden()] = False
    # interpolation may only use months no score is computed on (it would copy them)
    anchors = known.copy()
    anchors[splits.withheld()] = False
    fit = splits.train
    out = {
        "climatology_trend": climatology_trend(grace, times, fit),
        "linear_interp": linear_interp(grace, anchors),
        "persistence": persistence(grace, inputs),
    }
    if lsm is not None:
        out["lsm_regression"] = lsm_regression(grace, lsm, times, fit)
    return out


def to_dataarray(a: np.ndarray, like: xr.DataArray, name: str) -> xr.DataArray:
    """``(time, H, W)`` array on the coordinates of ``like``."""
    return xr.DataArray(a, coords=like.coords, dims=like.dims, name=name)


# ----------------------------------------------------------------------------- data
@dataclass
class ReconData:
    """GRACE (and the LSM, when given) on one padded grid; ``reference`` scores hindcasts."""

    grid: xr.Dataset  # twsa_grace, land_mask, [twsa_lsm], [reference]
    original: xr.Dataset  # the unpadded GRACE grid (lat, lon) for outputs
    source: str


def load_recon_data(recipe, multiple: int = 16) -> ReconData:
    """Read or make the inputs of a reconstruction recipe and pad the grid for the CNNs."""
    from gracefuse.config import FileSource, GraceOnlySource, TwinSource
    from gracefuse.data.anomalies import GRACE_BASELINE, anomalies
    from gracefuse.data.grace import open_grace
    from gracefuse.data.grid import Box, pad_to_multiple, regrid_conservative
    from gracefuse.data.lsm import open_lsm
    from gracefuse.data.synthetic import make_twin

    src = recipe.data
    if isinstance(src, TwinSource):
        tw = make_twin(size=src.size, seed=src.seed, start=src.start, end=src.end)
        ds = xr.Dataset(
            {
                "twsa_grace": tw["twsa_grace"],
                "twsa_lsm": tw["twsa_lsm"],
                "precip": tw["lsm_precip"],
                "reference": tw["twsa_grace_clean"],
                "land_mask": tw["land_mask"],
            }
        )
        source = "twin"
    else:
        box = Box(*src.box) if src.box is not None else None
        grace = open_grace(src.grace, src.grace_scale_factors, src.grace_land_mask, box=box)
        ds = xr.Dataset({"twsa_grace": grace["twsa"]})
        if isinstance(src, FileSource):
            lsm = open_lsm(src.lsm, src.lsm_model, box=box, baseline=GRACE_BASELINE)
            # area-weighted averaging onto the GRACE grid, same baseline as GRACE; the time
            # axis spans both records, so that the LSM's months before GRACE are hindcast
            keep = [v for v in ("twsa", "precip") if v in lsm]
            on_grace = regrid_conservative(lsm[keep], grace)
            first = min(grace["time"].values[0], on_grace["time"].values[0])
            last = max(grace["time"].values[-1], on_grace["time"].values[-1])
            months = pd.date_range(first, last, freq="MS")
            on_grace = on_grace.reindex(time=months)
            ds = ds.reindex(time=months)
            ds["twsa_lsm"] = anomalies(on_grace["twsa"], GRACE_BASELINE)
            if "precip" in on_grace:
                ds["precip"] = on_grace["precip"]
            source = "files"
        else:
            assert isinstance(src, GraceOnlySource)
            source = "grace_only"
        ds["land_mask"] = grace["twsa"].notnull().any("time")
        ds = ds.load()
    original = ds[["land_mask"]]
    padded = pad_to_multiple(ds, multiple)
    padded["land_mask"] = padded["land_mask"].fillna(False).astype(bool)
    return ReconData(grid=padded, original=original, source=source)


# ----------------------------------------------------------------------------- predictors
def lsm_predictors(grid: xr.Dataset, splits: Splits, cfg: ReconstructionConfig) -> np.ndarray:
    """Scaled inputs of the LSM → GRACE image models, ``(time, channel, H, W)`` in [−1, 1].

    Channel 0 is the LSM TWSA (the paper's only predictor). ``memory_months`` adds trailing
    means of LSM storage and precipitation; ``memory_efolding`` adds exponentially weighted
    precipitation memory (:func:`gracefuse.samples.exponential_memory`), one channel per
    e-folding time. Every scaling (and the precipitation climatology removed before the
    memory) is fitted on training months only; ocean cells are 0.

    Examples
    --------
    >>> t = pd.date_range("2002-01-01", periods=60, freq="MS")
    >>> rng = np.random.default_rng(0)
    >>> grid = xr.Dataset(
    ...     {"twsa_lsm": (("time", "lat", "lon"), rng.normal(size=(60, 2, 2))),
    ...      "precip": (("time", "lat", "lon"), rng.gamma(2.0, 50.0, size=(60, 2, 2))),
    ...      "land_mask": (("lat", "lon"), np.ones((2, 2), bool))},
    ...     coords={"time": t})
    >>> splits = Splits(*(np.arange(40),) + (np.arange(0),) * 5)
    >>> cfg = ReconstructionConfig(memory_efolding=[12, 48])
    >>> lsm_predictors(grid, splits, cfg).shape
    (60, 3, 2, 2)
    """
    import warnings

    from gracefuse.samples import exponential_memory, trailing_mean

    mask = grid["land_mask"].values.astype(bool)

    def scaled(a: np.ndarray) -> np.ndarray:
        a = np.where(mask[None], a, np.nan)
        return np.nan_to_num(Scaler.fit(a[splits.train]).forward(a))

    lsm = grid["twsa_lsm"].values.astype(float)
    precip = grid["precip"].values.astype(float) if "precip" in grid else None
    if cfg.memory_efolding and precip is None:
        raise InputError(
            None, "memory_efolding needs the LSM's precipitation, and this LSM has none", "precip"
        )
    channels = [scaled(lsm)]
    if cfg.memory_months:  # antecedent storage: the groundwater memory one month lacks
        for a in [lsm] + ([precip] if precip is not None else []):
            mem = trailing_mean(np.nan_to_num(a), cfg.memory_months)
            channels.append(scaled(mem - np.nanmean(mem[splits.train], axis=0)))
    if cfg.memory_efolding:
        with warnings.catch_warnings():  # padding cells have no precipitation at all
            warnings.simplefilter("ignore", RuntimeWarning)
            anomaly = precip - np.nanmean(precip[splits.train], axis=0)  # NaN: no anomaly
        for tau in cfg.memory_efolding:
            channels.append(scaled(exponential_memory(anomaly, tau)))
    return np.stack(channels, axis=1)


# ----------------------------------------------------------------------------- learned models
def _augment(x: np.ndarray, y: np.ndarray, idx: np.ndarray, rotate: bool = False):
    """Append transformed copies of the months ``idx``: the flips (north–south, east–west,
    both) and, with ``rotate`` on a square grid, the 90° and 270° rotations and the two
    transposes (the rest of the square's symmetry group)."""
    ops = [lambda a: np.flip(a, -2), lambda a: np.flip(a, -1), lambda a: np.flip(a, (-2, -1))]
    if rotate and x.shape[-1] == x.shape[-2]:
        ops += [
            lambda a: np.rot90(a, 1, (-2, -1)),
            lambda a: np.rot90(a, 3, (-2, -1)),
            lambda a: np.swapaxes(a, -2, -1),
            lambda a: np.flip(np.swapaxes(a, -2, -1), (-2, -1)),
        ]
    xs = [x] + [op(x[idx]).copy() for op in ops]
    ys = [y] + [op(y[idx]).copy() for op in ops]
    n = len(x)
    extra = np.arange(n, n + len(ops) * len(idx))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate([idx, extra])


def _validation(train: np.ndarray, every: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Every ``every``-th training month validates (early stopping), the rest train."""
    val = train[every // 2 :: every]
    return np.setdiff1d(train, val), val


def train_image_model(
    mcfg,
    recipe,
    lsm_scaled: np.ndarray,
    grace_scaled: np.ndarray,
    splits: Splits,
    out_dir,
    progress: bool = True,
):
    """Train an LSM → GRACE image model (``seunet``, ``pix2pix``, ``dcae``).

    Returns
    -------
    prediction, info
        ``(time, H, W)`` predictions in scaled units for every month; ``info`` holds the
        parameter count and the median seconds per epoch.
    """
    import torch

    from gracefuse.losses import masked_l1, masked_mse
    from gracefuse.models import build_model, count_parameters
    from gracefuse.models.pix2pix import AdversarialTerm, PatchGAN
    from gracefuse.train import choose_device, fit, predict, seed_everything

    tcfg = recipe.train
    seed_everything(tcfg.seed)
    device = choose_device(tcfg.device)
    x = lsm_scaled if lsm_scaled.ndim == 4 else lsm_scaled[:, None]
    x = x.astype(np.float32)
    y = grace_scaled.astype(np.float32)
    train, val = _validation(splits.train)
    if recipe.reconstruction.augment:
        x_fit, y_fit, train_fit = _augment(x, y, train, recipe.reconstruction.rotate)
    else:
        x_fit, y_fit, train_fit = x, y, train
    model = build_model(
        mcfg.name,
        x.shape[1],
        1,
        base_filters=mcfg.base_filters,
        depth=mcfg.depth,
        dropout=mcfg.dropout,
        size=x.shape[-2:],
    ).to(device)
    adversarial = None
    if mcfg.name == "pix2pix":
        adversarial = AdversarialTerm(PatchGAN(x.shape[1])).to(device)

        def loss_fn(p, t):
            return 100.0 * masked_l1(p, t)
    else:
        loss_fn = masked_mse
    xt, yt = torch.as_tensor(x_fit, device=device), torch.as_tensor(y_fit, device=device)
    result = fit(
        model,
        xt,
        yt,
        train_fit,
        val,
        loss_fn,
        tcfg,
        out_dir / "checkpoints" / mcfg.name,
        epochs=mcfg.epochs or tcfg.epochs,
        label=f"{mcfg.name:9s}",
        progress=progress,
        adversarial=adversarial,
    )
    pred, _ = predict(model, torch.as_tensor(x, device=device), batch_size=8)
    return pred, {
        "parameters": count_parameters(model),
        "seconds_per_epoch": result.seconds_per_epoch,
    }


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
    import torch

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
                        model(seq[i : i + 16]).squeeze(1).cpu().numpy()
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
            out[i] = model(seq).squeeze(1).cpu().numpy()[0] * decay(k)
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

    Returns the trained model, its device and the :class:`~gracefuse.train.FitResult`."""
    import torch

    from gracefuse.losses import masked_mse
    from gracefuse.models import build_model
    from gracefuse.train import choose_device, fit, seed_everything

    tcfg = recipe.train
    seed_everything(tcfg.seed)
    device = choose_device(tcfg.device)
    length = recipe.reconstruction.sequence - 1
    known = np.isfinite(grace_scaled).any((1, 2))
    avail = known.copy()
    avail[splits.withheld()] = False  # training never sees withheld months, not even as inputs
    train, val = _validation(splits.train)
    targets = np.concatenate([train, val])
    seq = _sequences(grace_scaled, avail, targets, length, reverse)
    x = torch.as_tensor(seq, device=device)
    y = torch.as_tensor(grace_scaled[targets].astype(np.float32), device=device)
    model = build_model("convlstm", 1, 1, base_filters=mcfg.base_filters).to(device)
    mode = "hindcast" if reverse else "forecast"
    result = fit(
        model,
        x,
        y,
        np.arange(len(train)),
        np.arange(len(train), len(targets)),
        masked_mse,
        tcfg,
        out_dir / "checkpoints" / f"convlstm_{mode}",
        epochs=mcfg.epochs or tcfg.epochs,
        label=f"convlstm-{mode[0]}",
        progress=progress,
    )
    return model, device, result


# ----------------------------------------------------------------------------- the run
@dataclass
class ReconResult:
    predictions: dict[str, np.ndarray]  # model -> (time, H, W) mm
    parameters: dict[str, int]
    splits: Splits
    table: pd.DataFrame
    fill_model: str
    filled: xr.Dataset
    data: ReconData


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


def _convlstm_all(mcfg, recipe, g_scaled, times, splits, out_dir, progress):
    """ConvLSTM predictions for every role, each with the inputs that role allows.

    With ``convlstm_base = "seasonal"`` the networks see and predict departures from each
    cell's seasonal climatology (fitted on training months), so that long recursions relax
    to the climatology; gaps with GRACE on both sides are filled from both sides.
    """
    rc = recipe.reconstruction
    base = np.zeros_like(g_scaled)
    if rc.convlstm_base == "seasonal":
        base = climatology_trend(g_scaled, times, splits.train, trend=False)
    dep_scaler = Scaler.fit((g_scaled - base)[splits.train])
    values = dep_scaler.forward(g_scaled - base)
    fwd, device, fit_f = train_convlstm(mcfg, recipe, values, splits, out_dir, False, progress)
    bwd, _, fit_b = train_convlstm(mcfg, recipe, values, splits, out_dir, True, progress)
    length = rc.sequence - 1
    damping = rc.damping_months
    known = np.isfinite(values).any((1, 2))
    inputs = known.copy()
    inputs[splits.hidden()] = False
    pred = np.full(values.shape, np.nan, np.float32)
    first_test = splits.test[: rc.test_first]
    last_test = np.setdiff1d(splits.test, first_test)
    plain_fwd = np.unique(np.concatenate([splits.train, last_test, splits.forecast_1m]))
    plain_fwd = plain_fwd[plain_fwd >= length // 2]  # forecasts need a history
    early = np.setdiff1d(np.concatenate([splits.train, first_test]), plain_fwd)
    for targets, model, reverse in ((plain_fwd, fwd, False), (early, bwd, True)):
        if len(targets):
            pred[targets] = convlstm_predict(
                model, values, inputs, targets, length, reverse, False, device
            )
    hidden = splits.hidden()
    if len(hidden):  # hidden months are filled the way real gaps are
        pred[hidden] = bidirectional_fill(fwd, bwd, values, inputs, hidden, length, device, damping)
    # months GRACE never had: gaps inside the record from both sides, after it forward,
    # before it (hindcast) backward, each recursively
    observed = np.flatnonzero(known)
    gaps = np.flatnonzero(~known)
    inside = gaps[(gaps > observed[0]) & (gaps < observed[-1])]
    after = gaps[gaps > observed[-1]]
    before = gaps[gaps < observed[0]]
    if len(inside):
        pred[inside] = bidirectional_fill(fwd, bwd, values, known, inside, length, device, damping)
    for targets, model, reverse in ((after, fwd, False), (before, bwd, True)):
        if len(targets):
            pred[targets] = convlstm_predict(
                model, values, known, targets, length, reverse, True, device, damping
            )
    from gracefuse.models import count_parameters

    info = {
        "parameters": count_parameters(fwd) + count_parameters(bwd),
        "seconds_per_epoch": fit_f.seconds_per_epoch + fit_b.seconds_per_epoch,
    }
    return dep_scaler.inverse(pred) + base, info


@dataclass
class FillIntervals:
    """95 % half-widths of filled values (mm, ``(H, W)``) and their measured coverage.

    Errors of a reconstruction grow once it leaves the months it was trained among, so
    there are two regimes: ``interior`` for months inside the training span (scattered
    missing months), calibrated on validation and hidden months; ``exterior`` for months
    before or after it (hindcasts, months after the training record), calibrated on the
    test months at both ends of the record.
    """

    interior: np.ndarray
    exterior: np.ndarray
    coverage: dict[str, float]  # split -> share of cell-months inside, never in-sample

    def halfwidth(self, n_times: int, train: np.ndarray) -> np.ndarray:
        """``(time, H, W)`` half-widths: interior between the first and last training month."""
        inside = (np.arange(n_times) >= train.min()) & (np.arange(n_times) <= train.max())
        return np.where(inside[:, None, None], self.interior[None], self.exterior[None])


def _cell_rmse(pred: np.ndarray, ref: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per-cell RMSE over months ``idx`` (the median where a cell has none)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = np.sqrt(np.nanmean((pred[idx] - ref[idx]) ** 2, axis=0))
    return np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nanmedian(sigma))


def fill_intervals(
    pred: np.ndarray,
    grace: np.ndarray,
    splits: Splits,
    validation: np.ndarray,
    reference: np.ndarray | None = None,
) -> FillIntervals:
    """Split-conformal intervals for filled months, with honestly measured coverage.

    The per-cell scale is the training RMSE; the factor is the split-conformal quantile of
    ``|error| / scale`` on calibration months. Each reported coverage uses a factor fitted
    without the months it scores: hidden single months are calibrated on validation and
    the hidden block, the block on validation and single months, the first test months on
    the last ones and vice versa; hindcasts (scored against ``reference``, the twin's truth)
    on all test months.

    Parameters
    ----------
    pred, grace
        ``(time, H, W)`` reconstruction and GRACE (NaN where missing), mm.
    validation
        Training-period months kept out of gradient steps (early stopping).
    """
    from gracefuse.evaluate.uncertainty import conformal_quantile

    sigma = _cell_rmse(pred, grace, splits.train)

    def halfwidth(idx: np.ndarray) -> np.ndarray:
        q = conformal_quantile(np.abs(pred[idx] - grace[idx]) / sigma[None]) if len(idx) else np.nan
        return (1.96 if np.isnan(q) else q) * sigma

    def covered(idx: np.ndarray, half: np.ndarray, target: np.ndarray) -> tuple[int, int]:
        err = np.abs(pred[idx] - target[idx])
        ok = np.isfinite(err)
        return int((err <= half[None])[ok].sum()), int(ok.sum())

    coverage: dict[str, float] = {}

    def record(split: str, *parts: tuple[int, int]) -> None:
        inside, n = sum(p[0] for p in parts), sum(p[1] for p in parts)
        if n:
            coverage[split] = inside / n

    single, block = splits.hidden_single, splits.hidden_block
    record("hidden_single", covered(single, halfwidth(np.union1d(validation, block)), grace))
    record("hidden_block", covered(block, halfwidth(np.union1d(validation, single)), grace))
    early = splits.test[splits.test < splits.train.min()]
    late = splits.test[splits.test > splits.train.max()]
    record(
        "test",
        *[covered(a, halfwidth(b), grace) for a, b in ((early, late), (late, early)) if len(b)],
    )
    exterior = halfwidth(splits.test)
    if reference is not None and len(splits.hindcast):
        record("hindcast", covered(splits.hindcast, exterior, reference))
    interior = halfwidth(np.union1d(np.union1d(validation, single), block))
    return FillIntervals(interior=interior, exterior=exterior, coverage=coverage)


def run_reconstruction(recipe, out_dir, progress: bool = True, figures: bool = True) -> ReconResult:
    """Train, evaluate and fill: the whole ``gracefuse fill`` job. Writes the run folder."""
    import json
    import time
    from pathlib import Path

    from gracefuse.config import dump_recipe
    from gracefuse.evaluate.regions import skill_rows
    from gracefuse.io import write_netcdf, write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_text(out / "config.toml", dump_recipe(recipe))
    rc = recipe.reconstruction
    data = load_recon_data(recipe)
    grid = data.grid
    mask = grid["land_mask"]
    times = pd.DatetimeIndex(grid["time"].values)
    grace = grid["twsa_grace"].where(mask).values
    lsm = grid["twsa_lsm"].where(mask).values if "twsa_lsm" in grid else None
    known = np.isfinite(grace).any((1, 2))
    splits = reconstruction_splits(times, known, rc)
    g_scaler = Scaler.fit(grace[splits.train])
    g_scaled = g_scaler.forward(grace)
    predictions: dict[str, np.ndarray] = {}
    parameters: dict[str, int] = {}
    epoch_seconds: dict[str, float] = {}
    if lsm is not None:
        predictions["lsm"] = lsm
        l_scaled = lsm_predictors(grid, splits, rc)
    for mcfg in recipe.models:
        if mcfg.name == "convlstm":
            p, n = _convlstm_all(mcfg, recipe, g_scaled, times, splits, out, progress)
        else:
            if lsm is None:
                raise InputError(None, f"{mcfg.name} needs an LSM; this recipe has GRACE only")
            p, n = train_image_model(mcfg, recipe, l_scaled, g_scaled, splits, out, progress)
        predictions[mcfg.name] = np.where(mask.values[None], g_scaler.inverse(p), np.nan)
        parameters[mcfg.name] = n["parameters"]
        epoch_seconds[mcfg.name] = n["seconds_per_epoch"]
    for name, p in baseline_predictions(grace, lsm, times, splits).items():
        predictions[name] = np.where(mask.values[None], p, np.nan)

    like = grid["twsa_grace"]
    obs = xr.DataArray(grace, coords=like.coords, dims=like.dims)
    ref_da = grid["reference"].where(mask) if "reference" in grid else None
    rows: list[dict] = []
    for name, p in predictions.items():
        sim = xr.DataArray(p, coords=like.coords, dims=like.dims)
        for split, idx in splits.as_dict().items():
            if len(idx) == 0:
                continue
            target = ref_da if split == "hindcast" else obs
            if target is None or not np.isfinite(p[idx]).any():
                continue
            rows += skill_rows(name, split, sim.isel(time=idx), target.isel(time=idx), mask)
    for name, n in parameters.items():
        rows.append(dict(model=name, split="all", scale="model", metric="parameters", value=n))
        rows.append(
            dict(
                model=name,
                split="all",
                scale="model",
                metric="seconds_per_epoch",
                value=epoch_seconds[name],
            )
        )

    # the fill model: the lowest grid-median RMSE on the hidden block (or on test months)
    table = pd.DataFrame(rows, columns=["model", "split", "scale", "metric", "value"])
    fill_model = rc.fill_model
    if fill_model == "best":
        key = "hidden_block" if len(splits.hidden_block) else "test"
        cand = table[
            (table.split == key)
            & (table.scale == "grid_median")
            & (table.metric == "rmse")
            & (table.model != "lsm")
        ]
        fill_model = str(cand.sort_values("value").model.iloc[0])
    if fill_model not in predictions:
        raise InputError(None, f"fill_model {fill_model!r} was not trained in this recipe")
    best = predictions[fill_model]
    _, validation = _validation(splits.train)
    reference = ref_da.values if ref_da is not None else None
    intervals = fill_intervals(best, grace, splits, validation, reference)
    for split, value in intervals.coverage.items():
        rows.append(
            dict(model=fill_model, split=split, scale="grid", metric="coverage95", value=value)
        )
    table = pd.DataFrame(rows, columns=["model", "split", "scale", "metric", "value"])
    write_text(out / "metrics.csv", table.to_csv(index=False, float_format="%.6g"))

    filled_flag = ~np.isfinite(grace) & mask.values[None]
    complete = np.where(filled_flag, best, grace)
    band = np.where(filled_flag, intervals.halfwidth(len(times), splits.train), 0.0)
    coords = {k: grid[k] for k in ("time", "lat", "lon")}
    dims = ("time", "lat", "lon")
    learned = [m for m in predictions if m != "lsm"]
    filled = xr.Dataset(
        {
            "twsa": (
                dims,
                complete,
                {
                    "units": "mm",
                    "long_name": "complete TWSA: GRACE where observed, filled elsewhere",
                },
            ),
            "filled": (
                dims,
                np.where(mask.values[None], filled_flag, False),
                {"long_name": "true where the value is filled, false where GRACE observed"},
            ),
            "twsa_lower": (dims, complete - band, {"units": "mm", "long_name": "2.5 % bound"}),
            "twsa_upper": (dims, complete + band, {"units": "mm", "long_name": "97.5 % bound"}),
            "twsa_reconstructed": (
                ("model", *dims),
                np.stack([predictions[m] for m in learned]),
                {"units": "mm", "long_name": "each model's reconstruction"},
            ),
            "land_mask": mask,
        },
        coords={**coords, "model": learned},
    )
    filled = filled.sel(lat=data.original["lat"], lon=data.original["lon"])
    filled.attrs = {
        "title": "gracefuse gap-filled and reconstructed TWSA (Yu et al. 2021)",
        "fill_model": fill_model,
        "source_product": "gracefuse_fill",
        "anomaly_baseline": "2004-01..2009-12",
    }
    write_netcdf(filled, out / "filled.nc")
    result = ReconResult(predictions, parameters, splits, table, fill_model, filled, data)
    info = {
        "recipe": recipe.name,
        "source": data.source,
        "fill_model": fill_model,
        "seconds": round(time.perf_counter() - t0, 1),
        "parameters": parameters,
        "seconds_per_epoch": {k: round(v, 2) for k, v in epoch_seconds.items()},
        "months": {k: int(len(v)) for k, v in splits.as_dict().items()},
    }
    if figures:
        from gracefuse.report.reconstruction import write_reconstruction_report

        write_reconstruction_report(out, result, info)
    write_text(out / "run_info.json", json.dumps(info, indent=2))
    return result
