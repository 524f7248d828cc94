import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import gracefuse.data.inputs as inputs_module
from conftest import cached_twin
from gracefuse.cli import main
from gracefuse.config import ModelConfig, TrainConfig, TwinSource
from gracefuse.data.twin import TRUTH
from gracefuse.errors import ConfigError, InputError
from gracefuse.io import write_netcdf
from gracefuse.methods.fusion import FusionMethod, FusionRecipe, SamplesConfig
from gracefuse.methods.fusion.apply import interval_halfwidth, predict_run
from gracefuse.methods.fusion.train import ModelRun, add_intervals
from gracefuse.recipes import load_recipe
from gracefuse.runner import run_recipe


@pytest.fixture(scope="module")
def twin16():
    return cached_twin(size=16, seed=0)


def _tiny_recipe(**train):
    return FusionRecipe(
        name="tiny",
        data=TwinSource(size=32, seed=0),
        samples=SamplesConfig(memory=["precip", "twsa"]),
        train=TrainConfig(epochs=3, mc_samples=3, num_threads=2, **train),
        models=[
            ModelConfig(name="segnet_pool", base_filters=8),
            ModelConfig(name="segnet_pool", base_filters=8, residual="cell_ridge"),
        ],
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = run_recipe(_tiny_recipe(), out, progress=False)
    return out, res


def test_run_folder_has_every_output(run_dir):
    out, _ = run_dir
    for name in (
        "config.toml",
        "metrics.csv",
        "comparison.csv",
        "predictions.nc",
        "report.html",
        "run.log",
        "run_info.json",
        "checkpoints/segnet_pool/best.pt",
        "checkpoints/ridge+segnet_pool/last.pt",
    ):
        assert (out / name).exists(), name
    figs = {p.name for p in (out / "figures").glob("*.png")}
    assert {
        "fig4_mismatch_seasons.png",
        "fig5a_region_series.png",
        "fig5bc_cdf_r_nse.png",
        "fig6_skill_maps.png",
        "fig7_wells.png",
        "fig8_prediction_interval.png",
    } <= figs
    assert load_recipe(out / "config.toml").name == "tiny"  # the resolved config reloads


def test_metrics_csv_holds_every_baseline_and_the_comparison(run_dir):
    out, res = run_dir
    m = pd.read_csv(out / "metrics.csv")
    assert list(m.columns) == ["model", "variable", "split", "scale", "metric", "value"]
    baselines = {"lsm", "lsm_regression", "climatology_trend", "cell_ridge"}
    assert baselines | {"segnet_pool", "ridge+segnet_pool"} == set(m.model)
    assert set(m.split) == {"train", "validation", "test"}
    for metric in ("r", "nse", "rmse", "kge", "kge_anomaly"):
        for scale in ("region", "grid_median"):
            assert len(m[(m.metric == metric) & (m.scale == scale)]) == 6 * 3
    lsm_test = m[(m.model == "lsm") & (m.split == "test") & (m.scale == "region")]
    assert lsm_test.set_index("metric").value["r"] == pytest.approx(0.825, abs=0.03)
    cov = m[(m.metric == "coverage95") & (m.split == "test")].value
    assert len(cov) == 2 and cov.between(0, 1).all()
    gains = m[m.metric == "nse_gain"]
    assert set(gains.model) == {"segnet_pool", "ridge+segnet_pool"}
    c = pd.read_csv(out / "comparison.csv")
    best = c[(c.split == "test") & (c.scale == "region")].baseline.iloc[0]
    test_nse = m[(m.split == "test") & (m.scale == "region") & (m.metric == "nse")]
    nse = test_nse.set_index("model").value
    assert nse[best] == max(nse[b] for b in baselines)  # the best baseline is the bar
    assert {"gain", "ci_low", "ci_high", "p_value", "n_eff", "beats"} <= set(c.columns)


def test_kge_is_the_published_form(run_dir):
    from gracefuse.evaluate.metrics import METRICS, kge_2012, kge_anomaly

    assert METRICS["kge"] is kge_2012 and METRICS["kge_anomaly"] is kge_anomaly


def test_model_choice_and_split_dates_come_from_validation(run_dir):
    out, res = run_dir
    info = json.loads((out / "run_info.json").read_text())
    assert info["selected_on"] == "validation grid-median NSE"
    m = res.table
    val = m[(m.split == "validation") & (m.scale == "grid_median") & (m.metric == "nse")]
    nets = val[val.model.isin(["segnet_pool", "ridge+segnet_pool"])].set_index("model").value
    assert info["selected_model"] == nets.idxmax()
    s = info["splits"]
    assert s["test"]["first"] == "2012-03" and s["test"]["last"] == "2017-06"
    assert s["train"]["last"] < s["validation"]["first"] <= s["validation"]["last"]
    assert s["validation"]["last"] < s["calibration"]["first"]


def test_predictions_cover_every_lsm_month_with_intervals(run_dir):
    out, _ = run_dir
    p = xr.open_dataset(out / "predictions.nc")
    assert p.attrs["Conventions"] == "CF-1.8"
    assert p.twsa_corrected.dims == ("model", "time", "lat", "lon")
    assert "cell_ridge" in set(p.model.values)
    gap = p.twsa_corrected.sel(model="segnet_pool", time=slice("2017-07", "2017-12"))
    assert gap.notnull().any()  # predicted in the GRACE/GRACE-FO gap
    assert p.twsa_grace.sel(time=slice("2017-07", "2017-12")).isnull().all()
    lo, hi, mid = (
        p[v].sel(model="segnet_pool")
        for v in ("twsa_corrected_lower", "twsa_corrected_upper", "twsa_corrected")
    )
    ok = mid.notnull()
    assert bool(((lo <= mid) & (mid <= hi)).where(ok, True).all())
    # corrected = LSM − Ŝ, exactly
    np.testing.assert_allclose(
        (p.twsa_lsm - p.mismatch_predicted.sel(model="segnet_pool")).values,
        mid.values,
        atol=1e-3,
        equal_nan=True,
    )


def test_report_is_self_contained_and_opens_with_the_comparison(run_dir):
    out, _ = run_dir
    html = (out / "report.html").read_text()
    assert "Table 1" in html and "Williams" in html and "best baseline" in html
    assert html.index("<h2>Does each network beat") < html.index("<h2>Table 1")
    assert "2012-03..2017-06" in html and "Segnet-3" in html
    srcs = re.findall(r'src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    base64.b64decode(srcs[0].split(",", 1)[1])


def _fusion_outputs(tmp_path, twin, monkeypatch, name):
    """Run a 1-epoch fusion on ``twin`` (injected as the twin the recipe makes)."""
    monkeypatch.setattr(inputs_module, "make_twin", lambda **kw: twin)
    recipe = FusionRecipe(
        name="leak",
        data=TwinSource(size=16, seed=0),
        train=TrainConfig(epochs=1, mc_samples=2, num_threads=2),
        models=[ModelConfig(name="segnet_pool", base_filters=4, residual="cell_ridge")],
    )
    res = run_recipe(recipe, tmp_path / name, progress=False, figures=False)
    run = res.runs[0]
    return res, (res.samples.x, res.samples.target_std, run.mismatch, run.lower, run.upper)


def test_no_truth_reaches_any_input_sample_scaler_prediction_or_interval(
    twin16, tmp_path, monkeypatch
):
    _, base = _fusion_outputs(tmp_path, twin16, monkeypatch, "a")
    rng = np.random.default_rng(9)
    perturbed = twin16.copy(deep=True)
    for name in TRUTH:  # every truth field, far from its value
        v = perturbed[name]
        noise = rng.normal(0, 500.0, v.shape) if v.dtype.kind == "f" else 0
        perturbed[name] = v + noise if v.dtype.kind == "f" else ~v
    _, other = _fusion_outputs(tmp_path, perturbed, monkeypatch, "b")
    for a, b in zip(base, other, strict=True):
        np.testing.assert_array_equal(a, b)


def test_test_months_of_grace_reach_nothing_but_the_scores(twin16, tmp_path, monkeypatch):
    res, base = _fusion_outputs(tmp_path, twin16, monkeypatch, "a")
    changed = twin16.copy(deep=True)
    test_times = res.samples.times[res.samples.test]
    g = changed["twsa_grace"]
    changed["twsa_grace"] = xr.where(g.time.isin(test_times), g + 200.0, g).transpose(*g.dims)
    res2, other = _fusion_outputs(tmp_path, changed, monkeypatch, "b")
    for a, b in zip(base, other, strict=True):
        np.testing.assert_array_equal(a, b)
    nse = [
        r.table.query("split == 'test' and scale == 'region' and metric == 'nse'").value.iloc[0]
        for r in (res, res2)
    ]
    assert nse[0] != nse[1]  # the scores do see the test months


def test_a_trained_network_applied_tile_by_tile_reproduces_the_run(run_dir, tmp_path):
    """One window over the grid gives the run's own mismatch; blended smaller windows stay
    close to it; the scratch files go; a network tied to the training grid is refused."""
    out, res = run_dir
    grids = tmp_path / "inputs.nc"
    write_netcdf(res.data.observed.drop_vars("twsa_grace"), grids)
    ref = xr.open_dataset(out / "predictions.nc")["mismatch_predicted"].sel(model="segnet_pool")
    whole = predict_run(out, grids, tmp_path / "whole.nc", progress=False)
    got = xr.open_dataset(whole)
    assert got.attrs["network"] == "segnet_pool" and got.attrs["tiling"] == "tile=32 overlap=4"
    np.testing.assert_allclose(got["mismatch_predicted"], ref, atol=1e-3)
    lsm = res.data.observed["twsa_lsm"].where(got["land_mask"])
    np.testing.assert_allclose(got["twsa_corrected"], lsm - ref, atol=1e-3)
    bounds = xr.open_dataset(out / "predictions.nc").sel(model="segnet_pool")
    run_half = (bounds["twsa_corrected_upper"] - bounds["twsa_corrected_lower"]) / 2
    half = (got["twsa_corrected_upper"] - got["twsa_corrected_lower"]) / 2
    assert bool((half > 0).where(got["land_mask"], True).all())  # MC dropout: a spread
    assert float(half.mean() / run_half.mean()) == pytest.approx(1, abs=0.2)  # other MC draws
    tiled = xr.open_dataset(predict_run(out, grids, tmp_path / "tiled.nc", tile=16, overlap=8,
                                        time_block=50, progress=False))  # fmt: skip
    diff = tiled["mismatch_predicted"] - ref
    assert tiled["mismatch_predicted"].notnull().sum() == ref.notnull().sum()
    assert float(np.sqrt((diff**2).mean())) < 0.15 * float(np.sqrt((ref**2).mean()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.nc", "tiled.nc", "whole.nc"]
    with pytest.raises(InputError, match="residual of a per-cell ridge"):
        predict_run(out, grids, tmp_path / "r.nc", model="ridge+segnet_pool", progress=False)


def test_predict_gives_clear_errors_for_bad_inputs(run_dir, tmp_path, capsys):
    out, res = run_dir
    obs = res.data.observed
    cases = {
        "no_tair.nc": (obs.drop_vars("tair"), "variable 'tair': missing"),
        "no_lsm.nc": (obs.drop_vars("twsa_lsm"), "variable 'twsa_lsm': missing"),
        "coarse.nc": (obs.isel(lat=slice(None, None, 2), lon=slice(None, None, 2)),
                      "spacing 2.5° differs from the 1.25°"),
        "gap.nc": (obs.drop_isel(time=5), "variable 'time': months are not consecutive"),
        "north_first.nc": (obs.isel(lat=slice(None, None, -1)),
                           "variable 'lat': is not strictly ascending"),
        "flat.nc": (obs.assign(precip=obs["precip"].isel(time=0, drop=True)),
                    "variable 'precip': dims ('lat', 'lon') are not (time, lat, lon)"),
    }  # fmt: skip
    for name, (ds, message) in cases.items():
        write_netcdf(ds, tmp_path / name)
        assert main(["predict", str(out), str(tmp_path / name), "--out",
                     str(tmp_path / "p.nc"), "--quiet"]) == 2  # fmt: skip
        assert message in capsys.readouterr().err.replace("\n", " "), name
    assert main(["predict", str(tmp_path), str(tmp_path / "flat.nc")]) == 2
    assert "no predictor.json" in capsys.readouterr().err
    (tmp_path / "predictor.json").write_text("{cut off")
    assert main(["predict", str(tmp_path), str(tmp_path / "flat.nc")]) == 2
    assert "predictor.json: not readable JSON" in capsys.readouterr().err
    assert not (tmp_path / "p.nc").exists()


def test_the_interval_rule_kept_for_other_grids_is_the_runs_own(run_dir):
    """With a spread, ``q × (spread + offset)`` is the run's half-width cell by cell; without
    one, the constant half-width covers 95 % of the calibration months' errors."""
    _, res = run_dir
    run, samples = res.runs[0], res.samples
    assert run.interval["kind"] == "spread" and run.interval["q"] > 0
    on = np.isfinite(run.lower)
    np.testing.assert_allclose(interval_halfwidth(run.interval, run.mismatch_sd)[on],
                               ((run.upper - run.lower) / 2)[on], rtol=1e-5)  # fmt: skip
    flat = ModelRun("flat", 0, 0, run.mismatch, None)
    add_intervals(flat, samples)
    half = interval_halfwidth(flat.interval, None)
    errors = (samples.to_mm(samples.y) - run.mismatch)[samples.cal]
    errors = np.abs(errors[np.isfinite(errors)])
    assert flat.interval["kind"] == "constant" and half > 0
    assert 0.95 <= float((errors <= half).mean()) < 0.96


def test_rerun_resumes_from_checkpoints(run_dir):
    out, first = run_dir
    again = run_recipe(_tiny_recipe(), out, progress=False, figures=False)
    np.testing.assert_allclose(first.runs[0].mismatch, again.runs[0].mismatch, atol=1e-5)


def test_deep_ensemble_averages_members(tmp_path):
    recipe = _tiny_recipe()
    recipe.train = recipe.train.model_copy(update={"epochs": 1, "mc_samples": 0})
    recipe.models = [ModelConfig(name="segnet_pool", base_filters=8, ensemble=2)]
    res = run_recipe(recipe, tmp_path, progress=False)
    assert (tmp_path / "checkpoints/segnet_pool/member0/best.pt").exists()
    assert (tmp_path / "checkpoints/segnet_pool/member1/best.pt").exists()
    assert (tmp_path / "report.html").exists()
    run = res.runs[0]
    assert run.mismatch_sd is not None and float(np.nanmean(run.mismatch_sd)) > 0
    assert run.epochs == 2
    # applied to its own grid, the members' mean and spread give the run's own interval
    grids = tmp_path / "inputs.nc"
    write_netcdf(res.data.observed.drop_vars("twsa_grace"), grids)
    got = xr.open_dataset(predict_run(tmp_path, grids, tmp_path / "p.nc", progress=False))
    ref = xr.open_dataset(tmp_path / "predictions.nc").sel(model="segnet_pool")
    for var in ("twsa_corrected", "twsa_corrected_lower", "twsa_corrected_upper"):
        np.testing.assert_allclose(got[var], ref[var].where(got["land_mask"]), atol=2e-3)


def test_vgg16_without_weights_runs_as_vgg16_scratch(tmp_path, caplog):
    recipe = _tiny_recipe()
    recipe.train = recipe.train.model_copy(update={"epochs": 1, "mc_samples": 0})
    recipe.models = [ModelConfig(name="vgg16", pretrained=str(tmp_path / "none.pth"))]
    res = run_recipe(recipe, tmp_path / "v", progress=False)
    assert [r.name for r in res.runs] == ["vgg16_scratch"]
    assert "vgg16_scratch" in set(res.table.model) and "vgg16" not in set(res.table.model)
    assert "reported as vgg16_scratch" in caplog.text
    assert (tmp_path / "v/checkpoints/vgg16_scratch/last.pt").exists()


def test_recipe_with_missing_files_fails_before_training(tmp_path):
    r = tmp_path / "r.toml"
    r.write_text('name = "x"\n[data]\nkind = "files"\ngrace = "nope.nc"\nlsm = ["gldas/*.nc4"]\n')
    recipe = load_recipe(r)
    with pytest.raises(InputError, match="nope.nc"):
        run_recipe(recipe, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_bad_recipes_give_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochz = 3\n")
    with pytest.raises(ConfigError, match="epochz"):
        load_recipe(bad)
    bad.write_text("this is = = not toml")
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="divisible"):
        FusionMethod().check(
            FusionRecipe(data=TwinSource(size=48), models=[ModelConfig(name="unet")])
        )
    bad.write_text('[[models]]\nname = "segnet"\n')
    with pytest.raises(ConfigError, match="segnet_lite"):
        load_recipe(bad)


def test_builtin_recipes_load():
    twin = load_recipe("sun2019_twin")
    assert {m.label for m in twin.models} == {"segnet_lite", "unet", "segnet_pool"}
    india = load_recipe("sun2019_india")
    assert india.data.kind == "files" and india.samples.image_size == 128


def test_wells_outside_the_grid_are_left_out_not_matched_to_the_edge(caplog):
    from gracefuse.data.inputs import Inputs
    from gracefuse.methods.fusion.outputs import well_correlations
    from gracefuse.methods.fusion.train import ModelRun

    time = pd.date_range("2005-01-01", periods=24, freq="MS")
    lat, lon = np.array([10.25, 10.75, 11.25]), np.array([70.25, 70.75])
    observed = xr.Dataset(coords={"time": time, "lat": lat, "lon": lon})
    rng = np.random.default_rng(0)
    mismatch = rng.normal(size=(24, 3, 2))
    inside = mismatch[:, 2, 1] + 0.1 * rng.normal(size=24)
    wells = pd.concat([
        pd.DataFrame({"well_id": "in", "lat": 11.4, "lon": 70.9, "time": time, "value": inside}),
        pd.DataFrame({"well_id": "north", "lat": 12.0, "lon": 70.9, "time": time,
                      "value": inside}),
    ])  # fmt: skip
    run = ModelRun("cnn", 1, 1, mismatch, None)
    with caplog.at_level("WARNING"):
        table = well_correlations(Inputs(observed, wells=wells), [run])
    assert table.well_id.tolist() == ["in"] and table.cnn.iloc[0] > 0.9
    assert "1 wells lie outside the grid" in caplog.text and "north" in caplog.text
