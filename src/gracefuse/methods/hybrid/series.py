"""The hybrid family's data: one sequence per sample (a basin or a grid cell), forcing per
step, targets per month, and the samples the models train on for each role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from gracefuse.datasets.arrays import ArrayDataset
from gracefuse.errors import InputError

Tensor = torch.Tensor


@dataclass
class HybridData:
    """Sequences of ``N`` samples over ``T`` steps and ``M`` months.

    Attributes
    ----------
    ids
        ``(N,)`` sample names (basins, or ``"lat,lon"`` of cells).
    steps, months
        Step times ``(T,)`` and month starts ``(M,)``; ``step_month`` ``(T,)`` is each
        step's month (monthly steps: ``arange(M)``).
    forcing
        ``(N, T, F)`` forcing in physical units, named ``forcing_names``; ``precip``
        ``(N, T)`` mm per step drives the balance.
    statics
        ``(N, S)`` static attributes named ``static_names``.
    targets
        Observed monthly ``(N, M)`` series by variable (``twsa`` mm, ``et``/``q`` mm/month,
        ``swe`` mm), NaN where unobserved.
    truth
        Twin only: true monthly stores ``(N, M)`` (``gw``, ``cwd``, ``swe``, ``twsa``), for
        scoring, never an input.
    lat, lon, region, area
        ``(N,)`` location, group label and weight of each sample (NaN when unknown).
    grid
        Grids: ``(lat values, lon values, row, column)`` of each cell.
    """

    ids: np.ndarray
    steps: pd.DatetimeIndex
    months: pd.DatetimeIndex
    step_month: np.ndarray
    forcing: np.ndarray
    forcing_names: list[str]
    precip: np.ndarray
    statics: np.ndarray
    static_names: list[str]
    targets: dict[str, np.ndarray]
    lat: np.ndarray
    lon: np.ndarray
    region: np.ndarray
    area: np.ndarray
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    grid: tuple | None = None
    source: str = ""

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def steps_per_year(self) -> int:
        return int(round(len(self.steps) / max(len(self.months), 1) * 12))


def climate_statics(precip: np.ndarray, other: dict[str, np.ndarray], steps) -> dict:
    """Climate indices from the forcing alone, per sample: mean annual precipitation (log),
    the seasonal amplitude and phase of precipitation, and each other forcing's mean ratio
    to precipitation (e.g. ERA5-Land ET/P, an aridity index)."""
    steps = pd.DatetimeIndex(steps)
    per_year = len(steps) / max(steps.year.nunique(), 1)
    mean = np.nanmean(precip, axis=1)
    ang = 2 * np.pi * (steps.month.to_numpy() - 1) / 12.0
    c = np.nanmean(precip * np.cos(ang), axis=1) / np.maximum(mean, 1e-9)
    s = np.nanmean(precip * np.sin(ang), axis=1) / np.maximum(mean, 1e-9)
    out = {"log_annual_precip": np.log1p(mean * per_year), "precip_season_cos": c,
           "precip_season_sin": s}  # fmt: skip
    for name, a in other.items():
        out[f"{name}_ratio"] = np.nanmean(a, axis=1) / np.maximum(mean, 1e-9)
    return out


def aridity_groups(ratio: np.ndarray) -> np.ndarray:
    """Climate groups of samples by their ET/P ratio: humid (< 0.5), sub-humid (< 0.8),
    arid (≥ 0.8)."""
    return np.where(ratio < 0.5, "humid", np.where(ratio < 0.8, "subhumid", "arid"))


def check_targets(data: HybridData, names: list[str], where: str) -> list[str]:
    """The targets of ``names`` that ``data`` has; an :class:`InputError` for a target
    that is there but never observed, or for no target at all."""
    have = []
    for name in names:
        if name not in data.targets:
            continue
        if not np.isfinite(data.targets[name]).any():
            raise InputError(where, "every value is missing", name)
        have.append(name)
    if not have:
        raise InputError(where, f"none of the targets {names} is there")
    return have


@dataclass
class Standardised:
    """Forcing and statics standardised on the training samples."""

    x: np.ndarray
    s: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, data: HybridData, fit: np.ndarray) -> Standardised:
        f = data.forcing[fit]
        mu = np.nanmean(f, axis=(0, 1))
        sd = np.nanstd(f, axis=(0, 1)) + 1e-6
        x = np.nan_to_num((data.forcing - mu) / sd).astype(np.float32)
        months = np.asarray(data.steps.month) - 1
        ang = 2 * np.pi * months / 12.0
        cal = np.stack([np.cos(ang), np.sin(ang)], axis=1).astype(np.float32)
        x = np.concatenate([x, np.broadcast_to(cal, (*x.shape[:2], 2))], axis=2)
        st = data.statics
        s_mu = np.nanmean(st[fit], axis=0) if st.size else st
        s_sd = np.nanstd(st[fit], axis=0) + 1e-6 if st.size else st
        s = np.nan_to_num((st - s_mu) / s_sd).astype(np.float32) if st.size else st
        scale = np.maximum(np.nanmean(data.precip, axis=1), 1.0).astype(np.float32)
        return cls(x, s.astype(np.float32).reshape(data.n, -1), scale)


def role_dataset(
    data: HybridData,
    std: Standardised,
    roles: dict[str, tuple[np.ndarray, np.ndarray]],
    targets: list[str],
    warmup_months: int,
) -> tuple[ArrayDataset, dict[str, np.ndarray]]:
    """One dataset whose samples are (role, sample) pairs: each role's targets masked to
    its months, and the window of steps that needs gradients.

    Parameters
    ----------
    roles
        ``role → (sample indices, months mask (M,) or (n, M))``.

    Returns
    -------
    (dataset, indices)
        ``indices[role]``: the rows of the dataset that belong to that role.
    """
    rows: dict[str, list] = {k: [] for k in ("x", "p", "s", "scale", "sample", "window")}
    rows.update({f"y_{t}": [] for t in targets})
    index, start = {}, 0
    step_month = data.step_month
    for role, (idx, months) in roles.items():
        mask = np.broadcast_to(months, (len(idx), len(data.months)))
        observed = np.zeros(len(data.months), bool)
        for t in targets:
            y = np.where(mask, data.targets[t][idx], np.nan)
            rows[f"y_{t}"].append(y.astype(np.float32))
            observed |= np.isfinite(y).any(axis=0)
        first, last = _first_last(observed, role)
        first_step = max(int(np.searchsorted(step_month, first)) - warmup_months *
                         data.steps_per_year // 12, 0)  # fmt: skip
        last_step = int(np.searchsorted(step_month, last, side="right"))
        rows["window"].append(np.tile([first_step, last_step], (len(idx), 1)))
        rows["x"].append(std.x[idx])
        rows["p"].append(data.precip[idx].astype(np.float32))
        rows["s"].append(std.s[idx])
        rows["scale"].append(std.scale[idx])
        rows["sample"].append(idx)
        index[role] = np.arange(start, start + len(idx))
        start += len(idx)
    arrays = {k: np.concatenate(v) for k, v in rows.items()}
    arrays["p"] = np.nan_to_num(arrays["p"])
    return ArrayDataset(**arrays), index


def _first_last(observed: np.ndarray, role: str) -> tuple[int, int]:
    hits = np.flatnonzero(observed)
    if not len(hits):
        raise InputError(None, f"split '{role}' leaves no observed target month")
    return int(hits[0]), int(hits[-1])


def to_months(series: Tensor, step_month: Tensor, n_months: int, how: str) -> Tensor:
    """``(B, T)`` steps → ``(B, n_months)`` months: sums (fluxes) or means (stores).

    Monthly steps (``step_month`` = 0, 1, …) come back unchanged.
    """
    ident = torch.arange(n_months, device=step_month.device)
    if len(step_month) == n_months and bool((step_month == ident).all()):
        return series
    out = series.new_zeros(series.shape[0], n_months).index_add(1, step_month, series)
    if how == "mean":
        counts = torch.bincount(step_month, minlength=n_months).clamp(min=1).to(series.dtype)
        out = out / counts
    return out
