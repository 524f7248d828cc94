"""Global scale: tiled inference blends overlapping windows without seams, keeps a
pointwise model's answer exactly, resumes an interrupted file, and dask's chunked
preparation gives the same numbers on a LocalCluster as in memory."""

import dask
import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from gracefuse.analysis.separation import separate
from gracefuse.data.anomalies import anomalies
from gracefuse.data.grid import regrid_conservative
from gracefuse.errors import ConfigError, InputError
from gracefuse.globe import Tiling, dask_scheduler, tiled_predict, torch_predictor
from gracefuse.globe.tiles import taper, window_starts
from gracefuse.io import write_netcdf


def grid(n_time=7, n_lat=37, n_lon=53, seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    coords = {"time": pd.date_range("2002-01-01", periods=n_time, freq="MS"),
              "lat": np.linspace(-60, 60, n_lat), "lon": np.linspace(0, 359, n_lon)}  # fmt: skip
    twsa = rng.normal(size=(n_time, n_lat, n_lon)).astype(np.float32)
    elev = rng.normal(size=(n_lat, n_lon)).astype(np.float32)
    return xr.Dataset({"twsa": (("time", "lat", "lon"), twsa), "elev": (("lat", "lon"), elev)},
                      coords=coords)  # fmt: skip


def pointwise(x: np.ndarray) -> np.ndarray:
    return 2.0 * x[:, 0] - x[:, 1] + 0.5


@pytest.mark.parametrize("n", [5, 16, 17, 100])
def test_windows_cover_every_cell_and_weights_are_positive(n):
    tile, overlap = 16, 4
    starts = window_starts(n, tile, overlap)
    covered = np.zeros(n, int)
    for s in starts:
        covered[s : s + tile] += 1
    assert covered.min() >= 1 and starts[0] == 0
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))
    assert taper(tile, overlap).min() > 0 and taper(tile, overlap).max() == 1


def test_a_pointwise_model_gives_the_same_answer_tiled(tmp_path):
    ds = grid()
    land = xr.DataArray(np.arange(37 * 53).reshape(37, 53) % 5 > 0, dims=("lat", "lon"))
    out = tiled_predict(pointwise, ds, ["twsa", "elev"], tmp_path / "o.nc",
                        tiling=Tiling(tile=16, overlap=4, time_block=3), mask=land,
                        progress=False)  # fmt: skip
    got = xr.open_dataset(out)["gwsa"]
    want = (2 * ds.twsa - ds.elev + 0.5).where(land)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-5, atol=1e-5)
    assert np.isnan(got.values[:, ~land.values]).all()
    assert np.array_equal(got.time.values.astype("M8[D]"), ds.time.values.astype("M8[D]"))
    assert not (tmp_path / "o.nc.part").exists()
    # deflated, in chunks of one window step of rows (each written once)
    assert got.encoding["zlib"] and got.encoding["chunksizes"] == (3, 12, 16)


def test_blending_overlapping_windows_takes_the_seams_out_of_a_cnn(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 8, 3, padding=1), torch.nn.Tanh(),
                              torch.nn.Conv2d(8, 1, 3, padding=1))  # fmt: skip

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, batch):
            return {"y_hat": self.net(batch["x"])[:, 0]}

    ds = grid(n_time=2, n_lat=64, n_lon=64)
    predict = torch_predictor(Model())
    whole = predict(np.stack([ds.twsa.values, np.broadcast_to(ds.elev.values, (2, 64, 64))], 1))
    errors = {}
    for overlap in (0, 8):
        out = tiled_predict(predict, ds, ["twsa", "elev"], tmp_path / f"o{overlap}.nc",
                            tiling=Tiling(tile=16, overlap=overlap, time_block=2),
                            progress=False)  # fmt: skip
        errors[overlap] = np.abs(xr.open_dataset(out)["gwsa"].values - whole).max()
    # without overlap, window edges see zero padding; blended windows weigh those edges least
    assert errors[8] < 0.5 * errors[0]


def test_an_interrupted_file_resumes_at_the_next_block_of_months(tmp_path):
    ds, calls = grid(n_time=9), []
    tiling = Tiling(tile=16, overlap=4, time_block=3)
    n_windows = len(window_starts(37, 16, 4)) * len(window_starts(53, 16, 4))  # per block

    def flaky(x):
        calls.append(len(x))
        if len(calls) == n_windows + 7:  # inside the second block of months
            raise KeyboardInterrupt
        return pointwise(x)

    with pytest.raises(KeyboardInterrupt):
        tiled_predict(flaky, ds, ["twsa", "elev"], tmp_path / "o.nc", tiling=tiling, progress=False)
    assert not (tmp_path / "o.nc").exists() and (tmp_path / "o.nc.part").exists()
    calls.clear()

    def counted(x):
        calls.append(len(x))
        return pointwise(x)

    out = tiled_predict(counted, ds, ["twsa", "elev"], tmp_path / "o.nc", tiling=tiling,
                        progress=False)  # fmt: skip
    assert len(calls) == 2 * n_windows  # blocks 2 and 3 only
    want = 2 * ds.twsa - ds.elev + 0.5
    np.testing.assert_allclose(xr.open_dataset(out)["gwsa"].values, want.values, atol=1e-5)


def test_several_outputs_are_blended_alike_and_written_together(tmp_path):
    """A predictor giving ``(T, V, h, w)`` writes ``V`` variables, each exact for a pointwise
    model, with their own attributes; a predictor giving the wrong count is refused."""
    ds = grid(n_time=4)

    def two(x):
        return np.stack([pointwise(x), np.abs(x[:, 1])], axis=1)

    out = tiled_predict(two, ds, ["twsa", "elev"], tmp_path / "o.nc", var=["mean", "sd"],
                        attrs=[{"units": "mm"}, {"units": "mm", "long_name": "spread"}],
                        tiling=Tiling(tile=16, overlap=4, time_block=3), progress=False)  # fmt: skip
    got = xr.open_dataset(out)
    np.testing.assert_allclose(got["mean"], 2 * ds.twsa - ds.elev + 0.5, atol=1e-5)
    np.testing.assert_allclose(got["sd"], np.broadcast_to(np.abs(ds.elev), (4, 37, 53)), atol=1e-6)
    assert got["sd"].attrs["long_name"] == "spread"
    with pytest.raises(ValueError, match="2 outputs for 3 variables"):
        tiled_predict(two, ds, ["twsa", "elev"], tmp_path / "p.nc", var=["a", "b", "c"],
                      progress=False)  # fmt: skip


def test_missing_inputs_are_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="soil"):
        tiled_predict(pointwise, grid(), ["twsa", "soil"], tmp_path / "o.nc", progress=False)


@pytest.mark.slow
def test_chunked_preparation_on_a_local_cluster_matches_memory(tmp_path):
    """The package's own anomalies, separation and writer, chunked on a LocalCluster: the
    same numbers as in memory (the baseline mean persisted for TWSA, spilled to a file for
    soil moisture), and the file stored in the dask blocks' chunks."""
    ds = grid(n_time=24, n_lat=40, n_lon=60).chunk({"time": 6, "lat": 20, "lon": 30})
    ds["twsa"].attrs["units"] = "mm"
    sm = (0.3 * ds.twsa + 0.1).assign_attrs(units="mm")
    land = ds.elev > -0.5

    def prepare(d, s):
        twsa, stores = (
            anomalies(d.twsa, ("2002-01", "2002-12")),
            anomalies(s.rename("sm"), ("2002-01", "2002-12"), spill=tmp_path / "spill"),
        )
        sep = separate(twsa, {"sm": stores}, errors={"twsa": 0.1, "sm": 0.2})
        return sep[["gwsa", "gwsa_uncertainty"]].where(land)

    want = prepare(ds.compute(), sm.compute())
    with dask_scheduler("local:2") as text:
        got = prepare(ds, sm)
        assert got.gwsa.chunks is not None  # still lazy: computed by the writer
        assert got.gwsa.chunks == ds.twsa.chunks  # the spilled mean read back in its blocks
        assert (tmp_path / "spill" / "baseline_mean_sm.nc").exists()
        write_netcdf(got, tmp_path / "gwsa.nc")
        mean = got.gwsa.weighted(np.cos(np.deg2rad(ds.lat)) * land).mean(("lat", "lon")).compute()
    assert "LocalCluster" in text
    back = xr.open_dataset(tmp_path / "gwsa.nc")
    for var in ("gwsa", "gwsa_uncertainty"):
        np.testing.assert_allclose(back[var].values, want[var].values, rtol=1e-6, atol=1e-6)
        assert back[var].encoding["chunksizes"] == (6, 20, 30)
    weights = np.cos(np.deg2rad(want.lat)) * land.compute()
    np.testing.assert_allclose(mean.values, want.gwsa.weighted(weights).mean(("lat", "lon")).values,
                               rtol=1e-5, atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("spill", [False, True])
def test_spilled_baseline_means_are_read_per_block_in_any_dim_order(tmp_path, spill):
    """With ``spill`` every block of the anomalies reads its own piece of the mean map, so
    no task's result is needed by two blocks (nothing of the map stays in a worker from
    the first month to the last); the numbers match the in-memory anomalies whatever the
    order of the dims. The persisted mean is the counter-case: its blocks feed every month."""
    from dask.core import get_deps

    ds = grid(n_time=30, n_lat=20, n_lon=24).transpose("lat", "time", "lon")
    ds["twsa"] = ds.twsa.where(ds.elev > -1.0)  # NaN cells stay NaN
    base = ("2002-01", "2002-12")
    want = anomalies(ds, base)
    lazy = ds.chunk({"lat": 10, "time": 6, "lon": 12})
    with dask.config.set(scheduler="synchronous"):
        got = anomalies(lazy, base, spill=tmp_path if spill else None)
        _, dependents = get_deps(dict(got.twsa.data.__dask_graph__()))
        shared = [k for k, users in dependents.items() if len(users) > 1]
        assert bool(shared) is not spill
        assert got.twsa.dims == ("lat", "time", "lon")
        np.testing.assert_allclose(got.twsa.values, want.twsa.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got.elev.values, ds.elev.values)  # no time dim: untouched
    assert (tmp_path / "baseline_mean_twsa.nc").exists() is spill


@pytest.mark.parametrize("step, lat_block, chunks", [
    (2.0, 24, ((4, 4, 4), (12, 12, 6), (20, 20, 5))),  # nested: each band from its block
    (2.0, 25, ((4, 4, 4), (12, 13, 5), (20, 20, 5))),  # a block ends inside a 2° cell
    (1.5, 24, ((4, 4, 4), (16, 16, 8), (27, 26, 7))),  # 1.5° edges are not 1° edges
    (0.75, 7, ((4, 4, 4), (9, 10, 9, 9, 10, 9, 9, 10, 5), (53, 54, 13))),  # target finer
    (2.0, 2, ((4, 4, 4), (30,), (20, 20, 5))),  # one target cell a block: bands join
])  # fmt: skip
def test_chunked_conservative_regridding_matches_memory_and_keeps_the_mass(step, lat_block,
                                                                           chunks):  # fmt: skip
    """Conservative regridding of dask blocks band by band, whether the grids nest or not:
    the in-memory answer, one band per source block (the task graph stays a few hundred
    tasks where xarray-regrid's own blocks make 2045), and the area-weighted mean of a
    field without gaps stays."""
    fine = grid(n_time=12, n_lat=60, n_lon=90)
    fine = fine.assign_coords(lat=np.arange(-29.5, 30, 1.0), lon=np.arange(0.5, 90, 1.0))
    fine["gappy"] = fine.twsa.where(fine.elev > -1.0)
    target = xr.Dataset(coords={"lat": np.arange(-30 + step / 2, 30, step),
                                "lon": np.arange(step / 2, 90, step)})  # fmt: skip
    want = regrid_conservative(fine[["twsa", "gappy"]], target)
    blocks = {"time": 4, "lat": lat_block, "lon": 40}
    lazy = regrid_conservative(fine[["twsa", "gappy"]].chunk(blocks), target)
    assert lazy.twsa.chunks == chunks
    assert len(lazy.twsa.data.dask) < 650  # 2045 with xarray-regrid's own chunking
    got = lazy.compute(scheduler="threads")
    assert got.twsa.dtype == want.twsa.dtype
    for var in ("twsa", "gappy"):
        np.testing.assert_allclose(got[var].values, want[var].values, rtol=1e-5, atol=1e-6)

    def area_mean(da):  # exact cell areas: ∝ sin(north edge) − sin(south edge)
        half = float(da.lat[1] - da.lat[0]) / 2
        area = np.sin(np.deg2rad(da.lat + half)) - np.sin(np.deg2rad(da.lat - half))
        return da.weighted(area).mean(("lat", "lon")).values

    np.testing.assert_allclose(area_mean(got.twsa), area_mean(fine.twsa), rtol=1e-4, atol=1e-5)


def test_a_bad_scheduler_is_a_clear_error():
    with pytest.raises(ConfigError, match="local:N"):
        with dask_scheduler("mpi"):
            pass
    with pytest.raises(ConfigError, match="number of workers"):
        with dask_scheduler("local:x"):
            pass
    with pytest.raises(ConfigError, match="no dask.distributed scheduler answers"):
        with dask_scheduler("tcp://127.0.0.1:9", timeout="1s"):
            pass
