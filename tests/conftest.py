"""Shared fixtures: small files with exactly the structure of each real product."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

SHARED = Path(
    os.environ.get("GRACEFUSE_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data")
)


def shared_file(*parts: str) -> Path:
    """A file in ../shared/data, or skip the test when that folder is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not available: {p}")
    return p


def jpl_like(
    path: Path,
    epochs: list[str],
    lat=np.arange(-1.75, 2.0, 0.5),
    lon=np.arange(0.25, 360.0, 0.5),
    units: str = "cm",
    with_bounds: bool = True,
    title: str = "JPL GRACE and GRACE-FO MASCON RL06.3Mv04 CRI",
    values=None,
) -> Path:
    """A file shaped like GRCTellus.JPL.200204_2024xx.GLO.RL06.3M.MSCNv04CRI.nc."""
    t = (pd.DatetimeIndex(epochs) - pd.Timestamp("2002-01-01")).days.to_numpy(float)
    data = (
        values
        if values is not None
        else np.add.outer(np.arange(len(t)), np.zeros((len(lat), len(lon)))) + 1.0
    )
    ds = xr.Dataset(
        {
            "lwe_thickness": (
                ("time", "lat", "lon"),
                data,
                {"units": units, "long_name": "Liquid_Water_Equivalent_Thickness"},
            ),
            "uncertainty": (("time", "lat", "lon"), np.full(data.shape, 2.0), {"units": units}),
        },
        coords={
            "time": (
                "time",
                t,
                {"units": "days since 2002-01-01T00:00:00Z", "calendar": "gregorian"},
            ),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"title": title, "institution": "NASA/JPL"},
    )
    if with_bounds:
        ds["time_bounds"] = (("time", "bounds"), np.stack([t - 14, t + 14], axis=1))
    ds.to_netcdf(path, encoding={"time": {"dtype": "f8"}})
    return path


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


_TWINS: dict = {}


def cached_twin(**kwargs):
    """The twin of these settings, built once per test session (tests must not modify it;
    they copy before perturbing). Building solves the LSM calibration, which takes seconds."""
    from gracefuse.data.twin import TwinConfig, make_twin

    key = TwinConfig(**kwargs).model_dump_json(exclude={"make_fine", "n_wells"})
    if key not in _TWINS:
        _TWINS[key] = make_twin(**kwargs)
    return _TWINS[key]


@pytest.fixture(autouse=True)
def _twins_built_once(monkeypatch):
    """Runs make their twin through :func:`cached_twin` (same world, built once)."""
    import gracefuse.data.inputs as inputs

    monkeypatch.setattr(inputs, "make_twin", cached_twin)
