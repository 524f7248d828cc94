"""The downscaling family: the fine twin world, mass conservation, the KD-tree proximity,
GNNWR/GTNNWR (OLS start, gradients, a known spatially varying answer), no leakage of
test-month truth, the run folder and its contract names, and clear errors."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.data.grid import block_mean
from gracefuse.data.twin.fine_world import COVARIATES, make_fine_world
from gracefuse.errors import ConfigError, InputError
from gracefuse.methods.downscaling.conservation import bilinear, conserve, mass_error
from gracefuse.methods.downscaling.problem import load_twin_problem, upsample
from gracefuse.methods.downscaling.run import finish
from gracefuse.methods.downscaling.weighted import fit_weighted
from gracefuse.models.gnnwr import WeightedRegression, knn_proximity, ols, unit_vectors
from gracefuse.recipes import load_recipe, parse_recipe
from gracefuse.runner import run_recipe


@pytest.fixture(scope="module")
def world():
    return make_fine_world(size=6, factor=3, seed=1, start="2008-01", end="2012-12",
                           noise_mm=0.0)  # fmt: skip


def _weights(ds):
    from gracefuse.data.grid import cell_area

    return np.where(ds.land_mask.values, cell_area(ds.lat.values, ds.lon.values).values, 0.0)


def test_coarse_field_is_the_area_weighted_land_mean_of_fine_truth(world):
    coarse = block_mean(world.gwsa_true.values, _weights(world), 3)
    np.testing.assert_allclose(coarse, world.gwsa.values, atol=1e-9, equal_nan=True)


def test_the_user_sees_covariates_not_the_hidden_aquifer(world):
    for name in COVARIATES:
        assert name in world
    hidden = ["specific_yield", "recharge_lag", "irrigated_true"]
    for h in hidden:
        assert world[h].attrs.get("hidden")
    # the land-use map is not the true irrigated share, nor is any covariate the truth
    land = world.land_mask.values
    assert not np.allclose(world.irrigated.values[land], world.irrigated_true.values[land])
    g = world.gwsa_true.values[:, land].ravel()
    for name in ("precip", "et", "soil_moisture", "ndvi"):
        v = world[name].values[:, land].ravel()
        assert abs(np.corrcoef(v, g)[0, 1]) < 0.9


def test_same_seed_same_world_and_pumping_lowers_irrigated_cells():
    a = make_fine_world(size=4, factor=2, seed=3, start="2005-01", end="2014-12")
    b = make_fine_world(size=4, factor=2, seed=3, start="2005-01", end="2014-12")
    xr.testing.assert_identical(a, b)
    late = a.gwsa_true.isel(time=slice(-24, None)).mean("time")
    irrigated = a.irrigated_true > 0.3
    assert float(late.where(irrigated).mean()) < float(late.where(~irrigated).mean()) - 20


def test_conserve_is_exact_and_bilinear_keeps_a_constant():
    rng = np.random.default_rng(0)
    coarse = rng.normal(size=(3, 4, 5))
    coarse[:, 0, 0] = np.nan
    w = rng.uniform(0.5, 1.5, (12, 15))
    w[:2, :3] = 0.0  # sea in one block
    fine = rng.normal(size=(3, 12, 15)) * 10
    out, corr = conserve(fine, coarse, w, 3)
    assert mass_error(out, coarse, w, 3) < 1e-10
    np.testing.assert_allclose(bilinear(np.full((2, 3), 7.0), 4), 7.0)
    np.testing.assert_array_equal(upsample(np.array([[1, 2]]), 2), [[1, 1, 2, 2], [1, 1, 2, 2]])


def test_knn_proximity_finds_the_nearest_training_points():
    rng = np.random.default_rng(1)
    anchors = unit_vectors(rng.uniform(30, 40, 200), rng.uniform(70, 80, 200))
    points = unit_vectors(rng.uniform(30, 40, 50), rng.uniform(70, 80, 50))
    idx, w, h = knn_proximity(points, anchors, k=5)
    dense = np.linalg.norm(points[:, None] - anchors[None], axis=-1)
    np.testing.assert_array_equal(np.sort(idx, 1), np.sort(np.argsort(dense, 1)[:, :5], 1))
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-6)
    assert (np.diff(w, axis=1) <= 1e-7).all() and h > 0  # nearer weighs more
    assert idx.shape == (50, 5)  # k per point, never a 50 × 200 matrix


def _batch(n, k, p, temporal=True):
    g = torch.Generator().manual_seed(0)
    b = {"x": torch.randn(n, p, generator=g), "space_idx": torch.randint(0, 10, (n, k)),
         "space_w": torch.full((n, k), 1.0 / k)}  # fmt: skip
    b["x"][:, 0] = 1.0
    if temporal:
        b["time_idx"], b["time_w"] = torch.randint(0, 6, (n, 2)), torch.full((n, 2), 0.5)
    return b


def test_weighted_regression_starts_as_ols_and_gradients_reach_every_parameter():
    beta = torch.tensor([0.5, 2.0, -1.0])
    m = WeightedRegression(beta, n_space_anchors=10, n_time_anchors=6, hidden=(8, 4))
    b = _batch(7, 3, 3)
    out = m(b)
    torch.testing.assert_close(out["y_hat"], b["x"] @ beta)
    torch.nn.init.normal_(m.net[-1].weight, std=0.1)  # leave the OLS start
    m(b)["y_hat"].pow(2).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gnnwr_recovers_a_spatially_varying_coefficient(tmp_path):
    """y = β(lon)·x with β from −1 (west) to +1 (east): OLS sees β ≈ 0, GNNWR the gradient."""
    from gracefuse.methods.downscaling.config import DownscalingConfig
    from gracefuse.methods.downscaling.problem import DownscalingProblem

    rng = np.random.default_rng(2)
    t, n, f = 36, 8, 2
    lat = np.linspace(30, 34, n * f)
    lon = np.linspace(70, 74, n * f)
    x = rng.normal(size=(t, n * f, n * f))
    beta = np.broadcast_to(np.linspace(-1, 1, n * f), (n * f, n * f))
    truth = 50 * beta * x
    land = np.ones((n * f, n * f), bool)
    months = pd.date_range("2001-01", periods=t, freq="MS")
    split = np.array(["train"] * 24 + ["validation"] * 6 + ["test"] * 6)
    p = DownscalingProblem(
        coarse=block_mean(truth, np.ones_like(land, float), f), coarse_sigma=1.0,
        features=x[..., None].astype(np.float32), names=["x"], land=land, factor=f,
        months=months, split=split, lat=lat, lon=lon, lat_coarse=lat.reshape(n, f).mean(1),
        lon_coarse=lon.reshape(n, f).mean(1), truth=truth,
    )  # fmt: skip
    cfg = DownscalingConfig(train_end="2002-12", validation_end="2003-06", k_space=4,
                            hidden=[32, 16], covariates=["precip"])  # fmt: skip
    train = TrainConfig(lr=3e-3, batch_size=64, epochs=60, patience=60)
    pred, *_ = fit_weighted("gnnwr", ModelConfig(name="gnnwr", dropout=0.0), p, cfg, train,
                           tmp_path, False)  # fmt: skip
    test = split == "test"
    err = np.abs(pred[test] - truth[test]).mean()
    xb = block_mean(x, np.ones_like(land, float), f)
    b_ols = ols(np.c_[np.ones(xb[:24].size), xb[:24].ravel()], p.coarse[:24].ravel())
    err_ols = np.abs(b_ols[0] + b_ols[1] * x[test] - truth[test]).mean()
    assert err < 0.6 * err_ols


def test_finish_never_reads_test_month_truth(world):
    from gracefuse.methods.downscaling.config import DownscalingConfig, DownscalingTwinSource

    src = DownscalingTwinSource(size=6, factor=3, seed=1, start="2008-01", end="2012-12")
    cfg = DownscalingConfig(train_end="2010-12", validation_end="2011-06")
    p = load_twin_problem(src, cfg)
    raw = upsample(p.coarse, p.factor) + 1.0
    a = finish(p, raw, True, 0.05)
    p.truth = p.truth.copy()
    p.truth[p.months_of("test")] += 1000.0
    b = finish(p, raw, True, 0.05)
    np.testing.assert_array_equal(a["gwsa"], b["gwsa"])
    np.testing.assert_array_equal(a["half"], b["half"])
    p.truth[p.months_of("validation")] += 1000.0
    c = finish(p, raw, True, 0.05)
    assert np.nanmean(c["half"]) > np.nanmean(a["half"])  # calibration uses validation truth
    d = finish(p, raw, True, 0.05, growth="log")
    p.truth[p.months_of("test")] -= 500.0
    e = finish(p, raw, True, 0.05, growth="log")
    np.testing.assert_array_equal(d["half"], e["half"])


def _coverage(p, f, months):
    inside = np.abs(f["gwsa"] - p.truth) <= f["half"]
    return inside[months][p.land[None].repeat(months.sum(), 0)].mean()


@pytest.mark.parametrize("drift", [0.0, 0.3])
def test_intervals_grow_with_the_lead_only_when_validation_errors_do(drift):
    """Errors whose spread grows as sqrt(1 + drift·log(1 + L)) after training: the fixed
    scale under-covers the test months, the grown one covers them; with no drift the
    growth stays near one and coverage near nominal either way."""
    from gracefuse.methods.downscaling.config import DownscalingConfig, DownscalingTwinSource
    from gracefuse.methods.downscaling.scoring import lead_growth

    src = DownscalingTwinSource(size=8, factor=3, seed=2, start="2006-01", end="2012-12")
    p = load_twin_problem(src, DownscalingConfig(train_end="2009-12", validation_end="2010-12"))
    lead = np.cumsum(p.split != "train") * (p.split != "train")
    sd = 5.0 * np.sqrt(1 + drift * 4 * np.log1p(lead))[:, None, None]
    rng = np.random.default_rng(0)
    raw = p.truth + sd * rng.standard_normal(p.truth.shape)
    scale = np.full(raw.shape, 5.0)
    fixed = finish(p, raw, False, 0.05, scale)
    grown = finish(p, raw, False, 0.05, scale, growth="log")
    test = p.months_of("test")
    g = lead_growth(p, raw, scale)
    assert np.all(g[p.months_of("train")] == 1.0) and np.all(np.diff(g) >= 0)
    assert 0.93 <= _coverage(p, grown, test) <= 0.97
    if drift:
        assert _coverage(p, fixed, test) < 0.93
        assert g[-1] > 1.2
    else:
        assert g[-1] < 1.1


def test_recipe_run_writes_downscaled_nc_with_contract_names(tmp_path):
    raw = load_recipe("liang2025_twin").model_dump(mode="json")
    raw["data"] |= {"size": 6, "factor": 2, "start": "2010-01", "end": "2014-12"}
    raw["downscaling"] |= {"hidden": [8, 4], "forest_trees": 10, "shap_samples": 2,
                           "shap_coalitions": 16}  # fmt: skip
    raw["train"] |= {"epochs": 2}
    run_recipe(parse_recipe(raw, "t"), tmp_path / "r", progress=False)
    m = pd.read_csv(tmp_path / "r" / "metrics.csv")
    fine = m[(m.split == "test") & (m.scale == "fine_grid")]
    assert set(fine.model) == {"nearest", "bilinear", "random_forest", "gnnwr", "gtnnwr", "ssvaer"}
    assert set(fine.metric) >= {"mae", "rmse", "r2", "coverage95"}
    assert (m[m.metric == "mass_error"].value < 1e-6).all()
    comp = pd.read_csv(tmp_path / "r" / "comparison.csv")
    assert set(comp.model) == {"gnnwr", "gtnnwr", "ssvaer"}
    assert set(comp.baseline) <= {"nearest", "bilinear", "random_forest"}
    assert (comp.ci_low <= comp.gain).all() and (comp.gain <= comp.ci_high).all()
    shap = pd.read_csv(tmp_path / "r" / "shap.csv")
    assert set(shap.model) == {"random_forest", "gnnwr", "gtnnwr", "ssvaer"}
    assert (shap.mean_abs_shap >= 0).all() and (tmp_path / "r" / "shap.png").is_file()
    ds = xr.open_dataset(tmp_path / "r" / "downscaled.nc")
    assert set(ds.gwsa.dims) == {"method", "time", "lat", "lon"}
    assert bool((ds.gwsa_lower <= ds.gwsa_upper).where(ds.gwsa.notnull(), True).all())
    # the validation rows are the validation months' errors, and the model is chosen on them
    val = m[(m.split == "validation") & (m.metric == "mae")].set_index("model").value
    months = ds.split.values == "validation"
    err = abs(ds.gwsa.isel(time=months) - ds.gwsa_true.isel(time=months))
    np.testing.assert_allclose(val[list(ds.method.values)], err.mean(("time", "lat", "lon")),
                               rtol=1e-4)  # fmt: skip
    info = json.loads((tmp_path / "r" / "run_info.json").read_text())
    assert info["selected_model"] == val.idxmin()
    ds.close()


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="covariates"):
        parse_recipe({"method": "downscaling", "data": {"kind": "downscaling_twin"},
                      "downscaling": {"covariates": ["gravity"]}}, "r")  # fmt: skip
    from gracefuse.methods.downscaling.config import DownscalingConfig, DownscalingTwinSource

    src = DownscalingTwinSource(size=4, factor=2, start="2008-01", end="2009-12")
    with pytest.raises(InputError, match="no test months"):
        load_twin_problem(src, DownscalingConfig(train_end="2008-12", validation_end="2010-06"))


def test_fine_covariates_that_do_not_nest_or_lack_units_or_values_are_named():
    from gracefuse.data.twin.fine_world import make_fine_world
    from gracefuse.methods.downscaling.problem import check_fine_inputs

    w = make_fine_world(size=4, factor=2, start="2005-01", end="2005-12")
    lat_c, lon_c = w.lat_coarse.values, w.lon_coarse.values
    assert check_fine_inputs(w, ["precip", "sand"], lat_c, lon_c, "f.nc") == 2
    shifted = w.assign_coords(lat=w.lat + 0.1)
    with pytest.raises(InputError, match="f.nc: variable 'lat': the fine grid .* does not nest"):
        check_fine_inputs(shifted, ["precip"], lat_c, lon_c, "f.nc")
    with pytest.raises(InputError, match="does not nest"):
        check_fine_inputs(w.isel(lon=slice(0, 7)), ["precip"], lat_c, lon_c, "f.nc")
    bad = w.copy()
    bad["precip"].attrs.pop("units")
    with pytest.raises(InputError, match="'precip': has no units"):
        check_fine_inputs(bad, ["precip"], lat_c, lon_c, "f.nc")
    bad = w.assign(sand=w.sand * np.nan)
    bad["sand"].attrs["units"] = "1"
    with pytest.raises(InputError, match="'sand': no finite value"):
        check_fine_inputs(bad, ["sand"], lat_c, lon_c, "f.nc")
