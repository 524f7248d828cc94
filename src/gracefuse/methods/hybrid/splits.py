"""Splits of the hybrid family: a temporal test (every sample, later months) and spatial
cross-validation (whole samples held out; on grids, blocks of cells with a buffer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gracefuse.datasets.splits import held_out_groups, spatial_blocks
from gracefuse.errors import ConfigError
from gracefuse.methods.hybrid.config import HybridConfig
from gracefuse.methods.hybrid.series import HybridData


@dataclass
class Roles:
    """One training: samples and months it trains on, early-stops on, and predicts.

    ``train`` and ``validation`` are ``(sample indices, months mask)``; ``scored`` the
    samples whose predictions this training contributes, ``score_months`` the months
    they are scored on. ``refit``: the networks train on the validation months too
    (their choices were made on them before), with nothing held out to early-stop.
    """

    name: str
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    scored: np.ndarray
    score_months: np.ndarray
    refit: bool = False


def _between(months: pd.DatetimeIndex, start: str, end: str) -> np.ndarray:
    return np.asarray((months >= pd.Timestamp(start)) & (months <= pd.Timestamp(end)))


def temporal_roles(data: HybridData, cfg: HybridConfig, split: str) -> Roles:
    """Every sample: trained on ``train_start..train_end`` (its last ``validation_months``
    early-stop, or with ``refit`` are trained on too), scored after ``train_end`` up to
    ``test_end``."""
    months = data.months
    train = _between(months, cfg.train_start, cfg.train_end)
    if not train.any():
        raise ConfigError(
            f"hybrid.train_start..train_end ({cfg.train_start}..{cfg.train_end}) holds no "
            f"month of the data ({months[0]:%Y-%m}..{months[-1]:%Y-%m}): no training data"
        )
    last = np.flatnonzero(train)[-1]
    val = np.zeros_like(train)
    if cfg.validation_months:
        val[max(last - cfg.validation_months + 1, 0) : last + 1] = True
    fit = train & ~val
    test = np.asarray(
        (months > pd.Timestamp(cfg.train_end)) & (months <= pd.Timestamp(cfg.test_end))
    )
    everyone = np.arange(data.n)
    return Roles(split, (everyone, fit), (everyone, val), everyone, test, cfg.refit)


def sample_folds(data: HybridData, cfg: HybridConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(held out, usable for training)`` sample indices per fold. Basins: a random
    partition; grid cells: square blocks of ``block_deg`` with a ``buffer_deg`` buffer
    (cells within it train in no fold's model that holds out the block)."""
    k = cfg.spatial_folds
    if data.grid is None:
        order = np.random.default_rng([cfg.seed, 17]).permutation(data.n)
        fold = np.empty(data.n, int)
        fold[order] = np.arange(data.n) % k
        return [(np.flatnonzero(fold == f), np.flatnonzero(fold != f)) for f in range(k)]
    lat, lon, rows, cols = data.grid
    roles = spatial_blocks(lat, lon, cfg.block_deg, cfg.buffer_deg, k, cfg.seed)[:, rows, cols]
    return [(np.flatnonzero(r == 1), np.flatnonzero(r == 0)) for r in roles]


def spatial_roles(data: HybridData, cfg: HybridConfig, split: str) -> list[Roles]:
    """One :class:`Roles` per fold: trained on the other samples over all months (a share
    of them early-stops), scored on the held-out ones over all months."""
    months = _between(data.months, cfg.train_start, cfg.test_end)
    out = []
    for f, (held, usable) in enumerate(sample_folds(data, cfg)):
        if not len(held):
            continue
        if len(usable) < 2:
            raise ConfigError(
                f"hybrid.spatial_folds: fold {f} leaves fewer than 2 training samples"
            )
        stop = held_out_groups(data.ids[usable], cfg.validation_fraction, cfg.seed + f)
        out.append(Roles(f"{split}_fold{f}", (usable[~stop], months), (usable[stop], months),
                         held, months))  # fmt: skip
    return out
