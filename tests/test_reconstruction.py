import numpy as np
import pandas as pd
import pytest

from gracefuse.config import ReconstructionConfig
from gracefuse.data.synthetic import grace_available
from gracefuse.reconstruction import (
    Scaler,
    baseline_predictions,
    climatology_trend,
    linear_interp,
    lsm_regression,
    persistence,
    reconstruction_splits,
)


def _series(n=120, seed=0):
    t = pd.date_range("2002-04-01", periods=n, freq="MS")
    years = np.arange(n) / 12
    clean = 30 * np.cos(2 * np.pi * (t.month.to_numpy() - 8) / 12) - 5 * years
    rng = np.random.default_rng(seed)
    grid = clean[:, None, None] + rng.normal(0, 1, (n, 2, 3))
    return t, clean, grid


def test_splits_are_disjoint_and_follow_the_record():
    t = pd.date_range("1998-01-01", "2017-12-01", freq="MS")
    known = grace_available(t)
    s = reconstruction_splits(t, known, ReconstructionConfig())
    parts = [s.train, s.test, s.hidden_single, s.hidden_block, s.forecast_1m]
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            if {a, b} != {1, 4}:  # the last test months lie in the forecast window
                assert not np.intersect1d(parts[a], parts[b]).size, (a, b)
    assert len(s.test) == 40 and len(s.hidden_single) == 10
    assert len(s.hidden_block) == 11  # 2008-01..2008-11, all GRACE months
    assert pd.Timestamp(t[s.hidden_block[0]]) == pd.Timestamp("2008-01-01")
    assert known[np.concatenate(parts)].all()
    assert pd.Timestamp(t[s.hindcast[-1]]) == pd.Timestamp("2002-03-01")
    assert set(s.withheld()) >= set(s.hidden_single)


def test_scaler_round_trip():
    sc = Scaler.fit(np.array([-50.0, 20.0, np.nan]))
    assert sc.scale == 50
    np.testing.assert_allclose(sc.inverse(sc.forward(np.array([-25.0, 10.0]))), [-25.0, 10.0])
    assert sc.forward(np.array([100.0]))[0] == 1.0


def test_climatology_trend_recovers_cycle_and_trend():
    t, clean, grid = _series()
    pred = climatology_trend(grid, t, np.arange(0, 100))
    rmse = np.sqrt(np.mean((pred[100:] - clean[100:, None, None]) ** 2))
    assert rmse < 3.0  # extrapolates the trend and the cycle into unseen months


def test_linear_interp_and_persistence():
    a = np.array([0.0, np.nan, 4.0, 6.0])[:, None, None]
    avail = np.isfinite(a[:, 0, 0])
    assert linear_interp(a, avail)[1, 0, 0] == pytest.approx(2.0)
    p = persistence(a, avail)
    assert np.isnan(p[0, 0, 0]) and p[2, 0, 0] == 0.0 and p[3, 0, 0] == 4.0


def test_lsm_regression_scales_the_model_to_grace():
    t, clean, grid = _series()
    lsm = 0.5 * grid - 3.0
    pred = lsm_regression(grid, lsm, t, np.arange(80))
    np.testing.assert_allclose(pred, grid, atol=1e-6)


def test_baselines_never_see_hidden_months():
    t, clean, grid = _series(160)
    known = np.ones(160, bool)
    cfg = ReconstructionConfig(
        test_first=10,
        test_last=10,
        hidden_single=4,
        hidden_block_start="2006-01",
        forecast_months=12,
    )
    s = reconstruction_splits(t, known, cfg)
    leaked = grid.copy()
    leaked[s.hidden_block] += 1000.0  # a model that peeks would be far off
    preds = baseline_predictions(leaked, None, t, s)
    for name, p in preds.items():
        err = np.abs(p[s.hidden_block] - grid[s.hidden_block]).mean()
        assert err < 100, name


# ------------------------------------------------------------------ end to end on a tiny twin
import xarray as xr  # noqa: E402

from conftest import shared_file  # noqa: E402
from gracefuse.config import ModelConfig, Recipe, TrainConfig, TwinSource, load_recipe  # noqa: E402
from gracefuse.reconstruction import run_reconstruction  # noqa: E402


@pytest.fixture(scope="module")
def recon(tmp_path_factory):
    out = tmp_path_factory.mktemp("fill")
    recipe = Recipe(
        name="tiny_fill",
        method="reconstruction",
        data=TwinSource(size=16, seed=0, start="1998-01", end="2019-12"),
        reconstruction=ReconstructionConfig(sequence=8, forecast_months=24),
        train=TrainConfig(epochs=2, batch_size=16, mc_samples=0, num_threads=2),
        models=[
            ModelConfig(name="seunet", base_filters=4, depth=2),
            ModelConfig(name="dcae"),
            ModelConfig(name="pix2pix", base_filters=4, depth=2),
            ModelConfig(name="convlstm", base_filters=4, epochs=1),
        ],
    )
    return out, run_reconstruction(recipe, out, progress=False)


def test_fill_run_writes_everything(recon):
    out, res = recon
    for name in (
        "config.toml",
        "metrics.csv",
        "filled.nc",
        "report.html",
        "figures/fig11_cc_rmse_maps.png",
        "figures/fig12_region_series.png",
        "figures/example_filled_months.png",
        "figures/fig17_before_2002.png",
    ):
        assert (out / name).exists(), name
    m = pd.read_csv(out / "metrics.csv")
    assert {
        "persistence",
        "climatology_trend",
        "linear_interp",
        "lsm_regression",
        "seunet",
        "dcae",
        "pix2pix",
        "convlstm",
        "lsm",
    } <= set(m.model)
    assert {"train", "test", "hidden_single", "hidden_block", "hindcast", "forecast_1m"} <= set(
        m.split
    )
    assert (m.metric == "parameters").sum() == 4
    assert (m.metric == "coverage95").any()
    assert "does" in (out / "report.html").read_text()


def test_filled_series_keeps_observed_months_and_flags_the_rest(recon):
    out, res = recon
    f = xr.open_dataset(out / "filled.nc")
    twin_grace = res.data.grid["twsa_grace"].sel(lat=f.lat, lon=f.lon)
    observed = twin_grace.notnull()
    np.testing.assert_allclose(
        f.twsa.where(observed).values,
        twin_grace.where(observed).values,
        rtol=1e-5,
        atol=1e-3,
        equal_nan=True,
    )  # untouched (float32)
    gap = f.filled.sel(time=slice("2017-07", "2018-05"))
    land = f.land_mask.astype(bool)
    assert bool(gap.where(land, True).all())  # the whole GRACE/GRACE-FO gap is filled
    assert bool(f.twsa.sel(time=slice("1998-01", "2001-12")).notnull().where(land, True).all())
    assert not bool(f.filled.sel(time="2004-01-01").any())
    assert bool(((f.twsa_upper >= f.twsa_lower) | f.twsa_upper.isnull()).all())
    assert bool(f.twsa_upper.notnull().where(land, True).all())  # bounds on every land cell
    assert f.attrs["fill_model"] in set(f.model.values)


def test_reconstruction_recipes_load():
    r = load_recipe("yu2021_twin")
    assert r.method == "reconstruction" and r.data.start == "1979-01"
    india = load_recipe("yu2021_india_grace_only")
    assert india.data.kind == "grace_only" and [m.name for m in india.models] == ["convlstm"]


def test_india_grace_only_baselines_run():
    p = shared_file("india_grace_recon_moudgil", "reconstructed_grace_tws_v1.nc")
    from gracefuse.data.grace import open_grace

    ds = open_grace(p)
    g = ds.twsa.values
    t = pd.DatetimeIndex(ds.time.values)
    s = reconstruction_splits(t, np.isfinite(g).any((1, 2)), ReconstructionConfig())
    preds = baseline_predictions(g, None, t, s)
    err = {k: np.nanmean(np.abs(v[s.forecast_1m] - g[s.forecast_1m])) for k, v in preds.items()}
    assert all(np.isfinite(v) for v in err.values())
    assert err["persistence"] < 200  # mm: one-month-ahead persistence is a real competitor
