import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gracefuse.data.twin import grace_available
from gracefuse.datasets.features import exponential_memory
from gracefuse.datasets.scaling import Scaler
from gracefuse.datasets.splits import Splits, reconstruction_splits
from gracefuse.errors import ConfigError, InputError
from gracefuse.evaluate.baselines import (
    climatology_trend,
    linear_interp,
    lsm_regression,
    persistence,
)
from gracefuse.methods.reconstruction import ReconstructionConfig, ReconstructionRecipe
from gracefuse.methods.reconstruction.baselines import baseline_predictions
from gracefuse.methods.reconstruction.convlstm import bidirectional_fill, convlstm_predict
from gracefuse.methods.reconstruction.image import _augment
from gracefuse.methods.reconstruction.intervals import fill_intervals
from gracefuse.methods.reconstruction.method import load_reconstruction_data
from gracefuse.methods.reconstruction.predictors import lsm_predictors
from gracefuse.runner import run_recipe


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
    parts = [s.train, s.test, s.hidden_single, s.hidden_block, s.forecast_1m, s.validation_block]
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            if {a, b} != {1, 4}:  # the last test months lie in the forecast window
                assert not np.intersect1d(parts[a], parts[b]).size, (a, b)
    assert len(s.test) == 40 and len(s.hidden_single) == 10
    assert len(s.hidden_block) == 11  # 2008-01..2008-11, all GRACE months
    assert pd.Timestamp(t[s.hidden_block[0]]) == pd.Timestamp("2008-01-01")
    # the fill model is chosen on another block, never on the reported one
    assert len(s.validation_block) == 11
    assert pd.Timestamp(t[s.validation_block[0]]) == pd.Timestamp("2010-01-01")
    assert set(s.withheld()) >= set(s.validation_block) | set(s.test)
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


def test_exponential_memory_is_a_linear_reservoir():
    tau = 24.0
    k = np.exp(-1 / tau)
    step = exponential_memory(np.ones((120, 2)), tau)
    np.testing.assert_allclose(step[:, 0], 1 - k ** np.arange(1, 121))  # 1 − exp(−t/τ)
    pulse = np.zeros(60)
    pulse[10] = 1.0
    m = exponential_memory(pulse, tau)
    assert np.all(m[:10] == 0)  # causal: nothing before the pulse
    np.testing.assert_allclose(m[11:] / m[10:-1], k)  # drains by exp(−1/τ) per month
    # gain 1: a long constant recharge anomaly is remembered in full; NaN is no anomaly
    assert exponential_memory(np.full(2000, 3.0), tau)[-1] == pytest.approx(3.0)
    assert exponential_memory(np.array([np.nan, 1.0]), tau)[0] == 0.0
    with pytest.raises(ValueError, match="positive"):
        exponential_memory(np.ones(3), 0.0)


def test_precipitation_memory_explains_what_the_lsm_misses():
    """On the twin (no groundwater in its LSM), GRACE − LSM follows the memory of the LSM's
    own precipitation, and one month of it does not. (With the truth's precipitation the
    memory fit reaches r 0.7–0.9; the LSM's forcing errors cost the rest.)"""
    from conftest import cached_twin

    tw = cached_twin(size=16, seed=0, start="1979-01").sel(time=slice("1990-01", "2017-12"))
    land = tw["land_mask"]
    w = np.cos(np.deg2rad(tw["lat"])) * land
    mean = lambda a: (a.fillna(0) * w).sum(("lat", "lon")).values / float(w.sum())  # noqa: E731
    missing = mean(tw["twsa_grace_clean"]) - mean(tw["twsa_lsm"])
    p = mean(tw["lsm_precip"])
    train = np.arange(len(p)) < 250
    p = p - p[train].mean()

    def test_r(*columns):
        x = np.stack([np.ones_like(p), *columns], 1)
        coef, *_ = np.linalg.lstsq(x[train], missing[train], rcond=None)
        return np.corrcoef(x[~train] @ coef, missing[~train])[0, 1]

    one_month = test_r(p)
    memory = test_r(exponential_memory(p, 24), exponential_memory(p, 96))
    assert memory > 0.35 and memory > one_month + 0.3


def test_lsm_predictors_channels_scaling_and_errors():
    t = pd.date_range("2002-01-01", periods=60, freq="MS")
    rng = np.random.default_rng(1)
    dims = ("time", "lat", "lon")
    land = np.ones((3, 4), bool)
    land[0, 0] = False
    grid = xr.Dataset(
        {
            "twsa_lsm": (dims, rng.normal(0, 50, (60, 3, 4))),
            "precip": (dims, rng.gamma(2.0, 40.0, (60, 3, 4))),
            "land_mask": (("lat", "lon"), land),
        },
        coords={"time": t},
    )
    train = np.arange(40)
    splits = Splits(train, *(np.arange(0),) * 6)
    cfg = ReconstructionConfig(memory_months=12, memory_efolding=[12.0, 48.0])
    x = lsm_predictors(grid, splits, cfg)
    assert x.shape == (60, 1 + 2 + 2, 3, 4)
    assert np.all(np.abs(x) <= 1.0) and np.all(x[:, :, 0, 0] == 0.0)  # ocean is 0
    assert np.abs(x[train]).max(axis=(0, 2, 3)) == pytest.approx(np.ones(5))  # training scale
    with pytest.raises(InputError, match="precip"):
        lsm_predictors(grid.drop_vars("precip"), splits, ReconstructionConfig(memory_efolding=[6]))


def test_fill_intervals_widen_outside_the_training_span_and_cover_honestly():
    """Errors twice as large at the record's ends: exterior intervals are twice as wide, and
    every reported coverage is near 95 % though none is measured on its own calibration."""
    n, rng = 520, np.random.default_rng(3)
    t = pd.date_range("1980-01-01", periods=n, freq="MS")
    known = np.arange(n) >= 100
    cfg = ReconstructionConfig(
        test_first=60, test_last=60, hidden_single=40, hidden_block_start="2002-01",
        hidden_block_length=60, validation_block_start="1995-01", forecast_months=0,
    )  # fmt: skip
    s = reconstruction_splits(t, known, cfg)
    truth = rng.normal(0, 50, (n, 6, 6))
    scale = np.where((np.arange(n) < s.train.min()) | (np.arange(n) > s.train.max()), 2.0, 1.0)
    sigma = np.linspace(5, 15, 36).reshape(6, 6)  # per-cell error size
    pred = truth + rng.normal(0, 1, truth.shape) * sigma * scale[:, None, None]
    grace = np.where(known[:, None, None], truth, np.nan)
    iv = fill_intervals(pred, grace, s, reference=truth)
    assert set(iv.coverage) == {"hidden_single", "hidden_block", "test", "hindcast"}
    for split, cov in iv.coverage.items():
        assert 0.92 < cov < 0.98, (split, cov)
    np.testing.assert_allclose(iv.exterior / iv.interior, 2.0, rtol=0.15)
    assert np.median(iv.interior / sigma) == pytest.approx(1.96, rel=0.1)
    assert np.corrcoef(iv.interior.ravel(), sigma.ravel())[0, 1] > 0.9  # width follows the cell
    band = iv.halfwidth(n, s.train)
    assert band[0, 0, 0] == iv.exterior[0, 0] and band[s.train[5], 0, 0] == iv.interior[0, 0]


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
    withheld = s.withheld()
    leaked[withheld] += 1000.0  # a model that peeks at test, gaps or blocks would be far off
    x = (grid + np.random.default_rng(5).normal(0, 1, grid.shape))[:, None]
    preds, _ = baseline_predictions(leaked, grid, x, t, s)
    assert {"cell_ridge", "lsm_regression", "persistence"} <= set(preds)
    for name, p in preds.items():
        for role in (s.hidden_block, s.test, s.validation_block):
            ok = np.isfinite(p[role])
            err = np.abs(p[role][ok] - grid[role][ok]).mean()
            assert err < 100, name


# ------------------------------------------------------------------ end to end on a tiny twin
from conftest import shared_file  # noqa: E402
from gracefuse.config import ModelConfig, TrainConfig, TwinSource  # noqa: E402
from gracefuse.recipes import load_recipe  # noqa: E402


@pytest.fixture(scope="module")
def reconstruction_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fill")
    recipe = ReconstructionRecipe(
        name="tiny_fill",
        method="reconstruction",
        data=TwinSource(size=16, seed=0, start="1998-01", end="2019-12"),
        reconstruction=ReconstructionConfig(
            sequence=8, forecast_months=24, hindcast_model="best_lsm"
        ),
        train=TrainConfig(epochs=2, batch_size=16, mc_samples=0, num_threads=2),
        models=[
            ModelConfig(name="seunet", base_filters=4, depth=2),
            ModelConfig(name="dcae"),
            ModelConfig(name="pix2pix", base_filters=4, depth=2),
            ModelConfig(name="convlstm", base_filters=4, epochs=1),
        ],
    )
    return out, run_recipe(recipe, out, progress=False)


def test_fill_run_writes_everything(reconstruction_run):
    out, res = reconstruction_run
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
        "cell_ridge",
        "seunet",
        "dcae",
        "pix2pix",
        "convlstm",
        "lsm",
    } <= set(m.model)
    roles = {"train", "test", "hidden_single", "hidden_block", "hindcast", "forecast_1m"}
    assert roles | {"validation_block"} <= set(m.split)
    assert (out / "comparison.csv").exists() and (m.metric == "nse_gain_p").any()
    info = json.loads((out / "run_info.json").read_text())
    assert info["fill_model_chosen_on"] == "validation_block"
    assert (m.metric == "parameters").sum() == 4
    assert (m.metric == "coverage95").any()
    assert "does" in (out / "report.html").read_text()


def test_filled_series_keeps_observed_months_and_flags_the_rest(reconstruction_run):
    out, res = reconstruction_run
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


def test_hindcast_is_filled_by_the_best_lsm_driven_model(reconstruction_run):
    """With ``hindcast_model = "best_lsm"`` months before GRACE's training span come from
    the LSM-driven model with the lowest RMSE on the validation block; months inside the
    span from the fill model."""
    out, res = reconstruction_run
    f = xr.open_dataset(out / "filled.nc")
    hind = f.attrs["hindcast_model"]
    assert hind == res.hindcast_model and hind != "convlstm" and hind in set(f.model.values)
    val = res.table[
        (res.table.split == "validation_block")
        & (res.table.scale == "grid_median")
        & (res.table.metric == "rmse")
    ].set_index("model")["value"]
    pool = [
        m for m in val.index if m in {"seunet", "dcae", "pix2pix", "lsm_regression", "cell_ridge"}
    ]
    assert hind == val[pool].idxmin()
    land = f.land_mask.astype(bool)
    early = f.sel(time=slice("1998-01", "1998-12"))
    np.testing.assert_allclose(
        early.twsa.where(land).values,
        early.twsa_reconstructed.sel(model=hind).where(land).values,
        rtol=1e-5,
        equal_nan=True,
    )
    gap = f.sel(time=slice("2017-07", "2018-05"))
    np.testing.assert_allclose(
        gap.twsa.where(land).values,
        gap.twsa_reconstructed.sel(model=res.fill_model).where(land).values,
        rtol=1e-5,
        equal_nan=True,
    )


def test_reconstruction_recipes_load(tmp_path):
    r = load_recipe("yu2021_twin")
    assert r.method == "reconstruction" and r.data.start == "1979-01"
    assert r.reconstruction.memory_efolding == [12, 24, 48, 96]
    assert {m.name for m in r.models} == {"seunet", "dcae", "pix2pix", "convlstm"}
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\nmethod = "reconstruction"\n[data]\nkind = "twin"\n'
        "[reconstruction]\nmemory_efolding = [12, -3]\n"
    )
    with pytest.raises(ConfigError, match="memory_efolding"):
        load_recipe(bad)
    india = load_recipe("yu2021_india_grace_only")
    assert india.data.kind == "grace_only" and [m.name for m in india.models] == ["convlstm"]


def test_india_grace_only_baselines_run():
    p = shared_file("india_grace_recon_moudgil", "reconstructed_grace_tws_v1.nc")
    from gracefuse.data.grace import open_grace

    ds = open_grace(p)
    g = ds.twsa.values
    t = pd.DatetimeIndex(ds.time.values)
    s = reconstruction_splits(t, np.isfinite(g).any((1, 2)), ReconstructionConfig())
    preds, ahead = baseline_predictions(g, None, None, t, s)
    preds.update(ahead)
    err = {k: np.nanmean(np.abs(v[s.forecast_1m] - g[s.forecast_1m])) for k, v in preds.items()}
    assert all(np.isfinite(v) for v in err.values())
    assert err["persistence"] < 200  # mm: one-month-ahead persistence is a real competitor


def test_file_recipe_reaches_back_to_the_first_lsm_month(tmp_path):
    """Real-format inputs: the LSM's months before GRACE are kept (to be hindcast)."""
    from conftest import jpl_like
    from gracefuse.config import FileSource

    epochs = [f"{t:%Y-%m}-16" for t in pd.date_range("2002-04-01", "2006-12-01", freq="MS")]
    lat = np.arange(8.25, 10.0, 0.5)
    grace = jpl_like(tmp_path / "grace.nc", epochs, lat=lat, lon=np.arange(60.25, 62.0, 0.5))
    t = pd.date_range("1999-01-01", "2006-12-01", freq="MS")
    shape = (len(t), 8, 8)
    dims = ("valid_time", "latitude", "longitude")
    rng = np.random.default_rng(0)
    wet = {"units": "m**3 m**-3"}
    era5 = {f"swvl{i}": (dims, 0.3 + 0.01 * rng.random(shape), wet) for i in range(1, 5)}
    era5["sd"] = (dims, np.zeros(shape), {"units": "m of water equivalent"})
    era5["tp"] = (dims, 0.002 * rng.random(shape), {"units": "m"})
    coords = {
        "valid_time": t,
        "latitude": np.arange(9.9, 7.9, -0.25),  # descending, as ERA5 writes them
        "longitude": np.arange(60.1, 62.0, 0.25),
    }
    xr.Dataset(era5, coords=coords).to_netcdf(tmp_path / "era5.nc")
    recipe = ReconstructionRecipe(
        name="files",
        method="reconstruction",
        data=FileSource(
            grace=str(grace),
            lsm=[str(tmp_path / "era5.nc")],
            lsm_model="era5_land",
            box=(8.0, 10.0, 60.0, 62.0),
        ),
        models=[ModelConfig(name="seunet")],
    )
    grid = load_reconstruction_data(recipe).grid
    assert pd.Timestamp(grid.time.values[0]) == pd.Timestamp("1999-01-01")
    land = grid.land_mask
    before = grid.twsa_grace.sel(time=slice("1999-01", "2002-03"))
    assert bool(before.isnull().all())  # no GRACE before 2002-04
    lsm_before = grid.twsa_lsm.sel(time=slice("1999-01", "2002-03")).where(land)
    assert int(lsm_before.notnull().sum()) == 39 * int(land.sum())  # the LSM is all there
    assert int(grid.precip.sel(time="2000-06").notnull().sum()) >= int(land.sum())


class _Persistence:
    """A stand-in forecaster that repeats the nearest input month (for exact answers)."""

    def eval(self):
        return self

    def __call__(self, batch):
        return {"y_hat": batch["x"][:, -1, 0]}


def test_gaps_are_filled_from_both_sides_and_long_recursions_relax():
    values = np.concatenate([np.full(10, 1.0), np.full(5, np.nan), np.full(10, 3.0)])
    values = values[:, None, None] * np.ones((1, 2, 2))
    avail = np.isfinite(values[:, 0, 0])
    gap = np.arange(10, 15)
    m = _Persistence()
    filled = bidirectional_fill(m, m, values, avail, gap, 6, "cpu")[:, 0, 0]
    w = (5 - np.arange(5)) / 6  # forward weight falls across the gap
    np.testing.assert_allclose(filled, w * 1.0 + (1 - w) * 3.0, rtol=1e-6)
    # a 200-month hindcast: undamped it repeats the edge forever, damped it relaxes to 0
    series = np.concatenate([np.full(200, np.nan), np.full(30, 2.0)])[:, None, None]
    known = np.isfinite(series[:, 0, 0])
    early = np.arange(200)
    plain = convlstm_predict(m, series, known, early, 6, True, True, "cpu")[:, 0, 0]
    damped = convlstm_predict(m, series, known, early, 6, True, True, "cpu", damping=12.0)
    damped = damped[:, 0, 0]
    assert np.allclose(plain, 2.0)
    assert damped[-1] == pytest.approx(2.0)  # the month next to GRACE is not damped
    assert abs(damped[0]) < 1e-3 and np.all(np.diff(damped) >= 0)  # relaxes with distance


def test_augmentation_adds_the_symmetries_of_the_training_months_only():
    x = np.arange(5 * 2 * 4 * 4, dtype=float).reshape(5, 2, 4, 4)
    y = x[:, 0] * 10
    train = np.array([1, 3])
    xf, yf, idx = _augment(x, y, train)
    assert len(xf) == 5 + 3 * 2 and list(idx[:2]) == [1, 3]
    np.testing.assert_array_equal(xf[5], x[1, :, ::-1, :])  # north–south flip of month 1
    xr_, yr_, idx_r = _augment(x, y, train, rotate=True)
    assert len(xr_) == 5 + 7 * 2 and len(idx_r) == 2 + 7 * 2
    # each copy is a transform of its month's pair: predictand moves with predictors
    for k in range(5, len(xr_)):
        np.testing.assert_array_equal(yr_[k], xr_[k, 0] * 10)
    copies = {xr_[k, 0].tobytes() for k in range(5, len(xr_))}
    assert len(copies) == 14  # the 7 non-identity symmetries of a square are all distinct
    x_rect = np.zeros((5, 1, 4, 6))
    assert len(_augment(x_rect, x_rect[:, 0], train, rotate=True)[0]) == 5 + 3 * 2


def test_no_truth_reaches_the_reconstruction_inputs(monkeypatch):
    """Perturbing every truth field of the twin leaves the grid every reconstruction model
    and baseline reads (and its LSM predictors) bit-identical; only the hindcast reference
    (scores) changes."""
    from gracefuse.config import TwinSource
    from gracefuse.data import inputs as inputs_module
    from gracefuse.data.twin import TRUTH, make_twin

    twin = make_twin(size=16, seed=0, start="1998-01", end="2019-12", make_fine=False)
    perturbed = twin.copy(deep=True)
    rng = np.random.default_rng(4)
    for name in TRUTH:
        v = perturbed[name]
        perturbed[name] = v + rng.normal(0, 500.0, v.shape) if v.dtype.kind == "f" else ~v
    recipe = ReconstructionRecipe(
        data=TwinSource(size=16, start="1998-01", end="2019-12"),
        models=[ModelConfig(name="seunet")],
    )
    loaded = []
    for world in (twin, perturbed):
        monkeypatch.setattr(inputs_module, "make_twin", lambda w=world, **kw: w)
        loaded.append(load_reconstruction_data(recipe))
    a, b = loaded
    assert set(a.grid.data_vars) == set(b.grid.data_vars)
    for name in a.grid.data_vars:
        np.testing.assert_array_equal(a.grid[name].values, b.grid[name].values)
    times = pd.DatetimeIndex(a.grid["time"].values)
    grace = a.grid["twsa_grace"].where(a.grid["land_mask"]).values
    splits = reconstruction_splits(times, np.isfinite(grace).any((1, 2)), recipe.reconstruction)
    np.testing.assert_array_equal(
        lsm_predictors(a.grid, splits, recipe.reconstruction),
        lsm_predictors(b.grid, splits, recipe.reconstruction),
    )
    assert not np.allclose(a.reference, b.reference, equal_nan=True)


def test_hindcast_model_settings():
    """``fill_model`` (the default) hindcasts with the fill model; ``best_lsm`` takes the best
    LSM-driven model on the validation block; a name is taken as given."""
    from gracefuse.methods.reconstruction.method import choose_models

    table = pd.DataFrame(
        [
            dict(model=m, split="validation_block", scale="grid_median", metric="rmse", value=v)
            for m, v in (("convlstm", 30.0), ("seunet", 32.0), ("cell_ridge", 31.0))
        ]
    )
    predictions = ["lsm", "convlstm", "seunet", "cell_ridge"]
    lsm_driven = ["seunet", "cell_ridge"]
    for setting, expected in (
        ("fill_model", "convlstm"),
        ("best_lsm", "cell_ridge"),
        ("seunet", "seunet"),
    ):
        rc = ReconstructionConfig(hindcast_model=setting)
        assert choose_models(table, predictions, lsm_driven, rc, "validation_block") == (
            "convlstm",
            expected,
        )
    with pytest.raises(InputError, match="not trained"):
        choose_models(
            table,
            predictions,
            lsm_driven,
            ReconstructionConfig(hindcast_model="x"),
            "validation_block",
        )
