"""Shared fixtures: small files with exactly the structure of each real product."""

from __future__ import annotations

import os
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per test process: the README's command runs a process per core
    # (pytest-xdist), and a second thread in each would only contend for the cores.
    # Set before numpy and torch are imported; inherited by the processes tests start.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    import torch

    torch.set_num_threads(1)  # also where the user's OMP_NUM_THREADS says otherwise

import numpy as np  # noqa: E402
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


def gldas_like(
    path: Path,
    month: str,
    value: float | np.ndarray,
    lat=np.arange(7.875, 9.0, 0.25),
    lon=np.arange(-179.875, -178.5, 0.25),
) -> Path:
    """A file shaped like GLDAS_NOAH025_M.A200401.021.nc4: one month, soil layers, SWE and
    canopy water in kg m-2 (each its nominal amount + ``value``, a number or a (lat, lon)
    map), rain rate in kg m-2 s-1, air temperature in K."""
    shape = (1, len(lat), len(lon))
    t = (pd.Timestamp(month) - pd.Timestamp("2000-01-01")).days
    extra = np.broadcast_to(np.asarray(value, "f4"), shape[1:])
    v = {}
    for name, amount in (("SoilMoi0_10cm_inst", 10), ("SoilMoi10_40cm_inst", 60),
                         ("SoilMoi40_100cm_inst", 120), ("SoilMoi100_200cm_inst", 200),
                         ("SWE_inst", 5), ("CanopInt_inst", 0.5)):  # fmt: skip
        v[name] = (("time", "lat", "lon"), (amount + extra)[None].astype("f4"),
                   {"units": "kg m-2", "_FillValue": np.float32(-9999.0)})  # fmt: skip
    v["Rainf_f_tavg"] = (
        ("time", "lat", "lon"),
        np.full(shape, 1e-5, "f4"),
        {"units": "kg m-2 s-1"},
    )
    v["Tair_f_inst"] = (("time", "lat", "lon"), np.full(shape, 300.0, "f4"), {"units": "K"})
    coords = {"time": ("time", [float(t)], {"units": "days since 2000-01-01"}), "lat": lat,
              "lon": lon}  # fmt: skip
    xr.Dataset(v, coords=coords).to_netcdf(path)
    return path


def era5_land_like(path: Path, months, lat=np.array([10.0, 9.9]),
                   lon=np.array([359.8, 359.9])) -> Path:  # fmt: skip
    """A file shaped like the CDS's ERA5-Land monthly means (netCDF since 2024): a
    ``valid_time`` axis, descending ``latitude``, 0-360 ``longitude``; soil water 0.3 m³ m⁻³
    in every layer, snow 0.01 m of water, precipitation 2 mm per day, 290 K."""
    shape = (len(months), len(lat), len(lon))
    dims = ("valid_time", "latitude", "longitude")
    v = {f"swvl{i}": (dims, np.full(shape, 0.3), {"units": "m**3 m**-3"}) for i in range(1, 5)}
    v["sd"] = (dims, np.full(shape, 0.01), {"units": "m of water equivalent"})
    v["tp"] = (dims, np.full(shape, 0.002), {"units": "m"})
    v["t2m"] = (dims, np.full(shape, 290.0), {"units": "K"})
    coords = {"valid_time": pd.DatetimeIndex(months), "latitude": lat, "longitude": lon}
    xr.Dataset(v, coords=coords).to_netcdf(path)
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
