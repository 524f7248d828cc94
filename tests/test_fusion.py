import base64
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gracefuse.cli import main
from gracefuse.config import (
    ModelConfig,
    Recipe,
    SamplesConfig,
    TrainConfig,
    TwinSource,
    load_recipe,
)
from gracefuse.data.synthetic import make_twin
from gracefuse.errors import ConfigError, InputError
from gracefuse.fusion import run_fusion
from gracefuse.samples import build_samples, trailing_mean


@pytest.fixture(scope="module")
def small_twin():
    tw = make_twin(size=16, seed=0, make_fine=False)
    return tw[["twsa_lsm", "twsa_grace", "precip", "tair", "land_mask"]]


def test_samples_lags_split_and_training_only_normalisation(small_twin):
    cfg = SamplesConfig(lags=2, memory=["precip"])
    s = build_samples(small_twin, cfg)
    assert s.x.shape[1] == 4 * 3 and s.n_predictors == 4
    # channel 1 of month t is month t−1 of the first predictor (normalised LSM TWSA)
    np.testing.assert_allclose(s.x[10, 1], s.x[9, 0])
    n_valid = int(np.isfinite(s.y).any(axis=(1, 2)).sum())
    assert len(s.train) + len(s.val) == round(0.7 * n_valid)
    assert s.train.max() < s.val.min() < s.test.min()
    assert np.isnan(s.y[~np.isfinite(s.y).any(axis=(1, 2))]).all()
    # changing test months must not change the normalisation
    changed = small_twin.copy(deep=True)
    changed["twsa_lsm"][s.test] = changed["twsa_lsm"][s.test] + 500.0
    s2 = build_samples(changed, cfg)
    np.testing.assert_allclose(s2.x[s.train], s.x[s.train])
    # target round trip
    mm = s.to_mm(s.y)
    obs = (small_twin.twsa_lsm - small_twin.twsa_grace).where(small_twin.land_mask).values
    np.testing.assert_allclose(
        mm[s.train][np.isfinite(obs[s.train])],
        obs[s.train][np.isfinite(obs[s.train])],
        rtol=1e-4,
        atol=1e-3,
    )


def test_trailing_mean():
    a = np.arange(6.0)[:, None]
    assert trailing_mean(a, 3)[:, 0].tolist() == [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]


def _tiny_recipe(**train):
    return Recipe(
        name="tiny",
        data=TwinSource(size=32, seed=0),
        samples=SamplesConfig(memory=["precip", "twsa"]),
        train=TrainConfig(epochs=3, mc_samples=3, num_threads=2, **train),
        models=[ModelConfig(name="segnet", base_filters=8)],
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = run_fusion(_tiny_recipe(), out, progress=False)
    return out, res


def test_run_folder_has_every_output(run_dir):
    out, _ = run_dir
    for name in (
        "config.toml",
        "metrics.csv",
        "predictions.nc",
        "report.html",
        "run.log",
        "checkpoints/segnet/best.pt",
        "checkpoints/segnet/last.pt",
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


def test_metrics_csv_is_the_long_table1(run_dir):
    out, _ = run_dir
    m = pd.read_csv(out / "metrics.csv")
    assert list(m.columns) == ["model", "split", "scale", "metric", "value"]
    assert set(m.model) == {"lsm", "segnet"} and set(m.split) == {"train", "test"}
    for metric in ("r", "nse", "rmse", "kge"):
        for scale in ("region", "grid_median"):
            assert len(m[(m.metric == metric) & (m.scale == scale)]) == 4
    lsm_test = m[(m.model == "lsm") & (m.split == "test") & (m.scale == "region")]
    assert lsm_test.set_index("metric").value["r"] == pytest.approx(0.82, abs=0.06)
    cov = m[(m.metric == "coverage95") & (m.split == "test")].value.iloc[0]
    assert 0 < cov <= 1
    assert (m.metric == "williams_p").any()


def test_predictions_cover_every_lsm_month_with_intervals(run_dir):
    out, _ = run_dir
    p = xr.open_dataset(out / "predictions.nc")
    assert p.attrs["Conventions"] == "CF-1.8"
    assert p.twsa_corrected.dims == ("model", "time", "lat", "lon")
    gap = p.twsa_corrected.sel(model="segnet", time=slice("2017-07", "2017-12"))
    assert gap.notnull().any()  # predicted in the GRACE/GRACE-FO gap
    assert p.twsa_grace.sel(time=slice("2017-07", "2017-12")).isnull().all()
    lo, hi, mid = (
        p[v].sel(model="segnet")
        for v in ("twsa_corrected_lower", "twsa_corrected_upper", "twsa_corrected")
    )
    ok = mid.notnull()
    assert bool(((lo <= mid) & (mid <= hi)).where(ok, True).all())
    # corrected = LSM − Ŝ, exactly
    np.testing.assert_allclose(
        (p.twsa_lsm - p.mismatch_predicted.sel(model="segnet")).values,
        mid.values,
        atol=1e-3,
        equal_nan=True,
    )


def test_report_is_self_contained(run_dir):
    out, _ = run_dir
    html = (out / "report.html").read_text()
    assert "Table 1" in html and "Williams" in html
    srcs = re.findall(r'src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    base64.b64decode(srcs[0].split(",", 1)[1])


def test_rerun_resumes_from_checkpoints(run_dir, tmp_path):
    out, first = run_dir
    again = run_fusion(_tiny_recipe(), out, progress=False, figures=False)
    a = first["runs"][0].mismatch
    b = again["runs"][0].mismatch
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_deep_ensemble_averages_members(tmp_path):
    recipe = _tiny_recipe()
    recipe.train = recipe.train.model_copy(update={"epochs": 1, "mc_samples": 0})
    recipe.models = [ModelConfig(name="segnet", base_filters=8, ensemble=2)]
    res = run_fusion(recipe, tmp_path, progress=False)
    assert (tmp_path / "checkpoints/segnet/member0/best.pt").exists()
    assert (tmp_path / "report.html").exists() and (
        tmp_path / "figures/training_curves.png"
    ).exists()
    assert (tmp_path / "checkpoints/segnet/member1/best.pt").exists()
    run = res["runs"][0]
    assert run.mismatch_sd is not None and float(np.nanmean(run.mismatch_sd)) > 0
    assert run.epochs == 2


def test_recipe_with_missing_files_fails_before_training(tmp_path):
    r = tmp_path / "r.toml"
    r.write_text('name = "x"\n[data]\nkind = "files"\ngrace = "nope.nc"\nlsm = ["gldas/*.nc4"]\n')
    recipe = load_recipe(r)
    with pytest.raises(InputError, match="nope.nc"):
        run_fusion(recipe, tmp_path / "out", progress=False)
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
        from gracefuse.fusion import check_recipe

        check_recipe(Recipe(data=TwinSource(size=48), models=[ModelConfig(name="unet")]))


def test_builtin_recipes_load():
    twin = load_recipe("sun2019_twin")
    assert {m.name for m in twin.models} == {"segnet", "unet"}
    india = load_recipe("sun2019_india")
    assert india.data.kind == "files" and india.samples.image_size == 128
