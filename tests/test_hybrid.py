"""The hybrid family (Kraft et al. 2020): gradients through the physics, mass closure of
the model's outputs, monthly aggregation, the loss, splits without leakage, baselines with
known answers, the real basin reader and clear errors on bad input."""

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gracefuse.cli import main
from gracefuse.data.grace import GRACE_MISSING_MONTHS
from gracefuse.errors import ConfigError, InputError
from gracefuse.methods.hybrid import baselines as bl
from gracefuse.methods.hybrid.basins import load_basins
from gracefuse.methods.hybrid.config import (
    BasinTables,
    HybridConfig,
    HybridRecipe,
    HybridTwinSource,
)
from gracefuse.methods.hybrid.loss import HybridLoss, masked_anomaly, target_error
from gracefuse.methods.hybrid.series import HybridData, to_months
from gracefuse.methods.hybrid.splits import sample_folds, spatial_roles, temporal_roles
from gracefuse.methods.hybrid.train import train_plan, training_parts
from gracefuse.methods.hybrid.tune import tuning_roles
from gracefuse.methods.hybrid.twin import load_hybrid_twin
from gracefuse.models.hybrid import (
    ConceptualModel,
    HybridLSTM,
    HybridTrend,
    SampleTrend,
    SeriesLSTM,
    SeriesTrend,
)
from gracefuse.recipes import parse_recipe
from gracefuse.training.determinism import reproducible

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "lehmannfa_basin_timeseries"


def _batch(b=3, t=30, f=2, s=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return {
        "x": torch.randn(b, t, f, generator=g, dtype=dtype),
        "p": torch.rand(b, t, generator=g, dtype=dtype) * 100,
        "s": torch.randn(b, s, generator=g, dtype=dtype),
        "scale": torch.full((b,), 50.0, dtype=dtype),
        "sample": torch.arange(b),
        "window": torch.tensor([[6, t]] * b),
    }


MODELS = {
    "hybrid": lambda: HybridLSTM(2, 1, hidden=8, branch_width=4, spinup_years=1),
    "lstm": lambda: SeriesLSTM(2, 1, hidden=8, branch_width=4),
    "conceptual": lambda: ConceptualModel(2, 3, spinup_years=1),
    "hybrid_trend": lambda: HybridTrend(2, 1, 3, hidden=8, branch_width=4, spinup_years=1),
    "lstm_trend": lambda: SeriesTrend(2, 1, 3, hidden=8, branch_width=4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradients_reach_every_parameter_through_the_water_balance(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    if hasattr(model, "trend"):  # a flux of zero would hide a broken path to the stores
        torch.nn.init.normal_(model.trend.rate)
    out = model(_batch())
    loss = out["tws"].pow(2).mean() + out["q"].mean() + out["et"].mean()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} gets no gradient"


@pytest.mark.parametrize("name", ["hybrid", "conceptual", "hybrid_trend"])
def test_the_models_storage_change_is_precipitation_minus_et_minus_runoff(name):
    torch.manual_seed(1)
    model = MODELS[name]().double()
    if hasattr(model, "trend"):
        torch.nn.init.normal_(model.trend.rate)
    batch = _batch(dtype=torch.float64)
    batch["window"] = torch.tensor([[0, 30]] * 3)
    model.spinup_years = 0
    out = model(batch)
    tws = torch.cat([torch.zeros(3, 1, dtype=torch.float64), out["tws"]], dim=1)
    change = tws.diff(dim=1)
    budget = batch["p"] - out["et"] - out["q"] + out.get("net_lateral", 0.0)
    rel = (change - budget).abs().max() / batch["p"].abs().max()
    assert rel < 1e-6
    assert (out["gw"].shape == (3, 30)) and bool((out["q"] >= -1e-9).all())


def test_the_sample_trend_recovers_a_known_lateral_flux_and_leaves_unseen_samples_at_zero():
    """TWS = a seasonal cycle + a known drift (−1.5 and +0.8 mm per step) in samples 0 and 1:
    fitting the rates alone recovers the drifts in mm per step; sample 2, never in a batch,
    keeps a flux of zero."""
    trend = SampleTrend(3)
    t = torch.arange(60, dtype=torch.float32)
    drift = torch.tensor([-1.5, 0.8])
    obs = 20 * torch.sin(2 * torch.pi * t / 12)[None] + drift[:, None] * t[None]
    batch = {"sample": torch.tensor([0, 1]), "scale": torch.tensor([30.0, 80.0])}
    out = {"tws": 20 * torch.sin(2 * torch.pi * t / 12)[None].expand(2, -1),
           "first_step": torch.tensor([5, 5])}  # fmt: skip
    opt = torch.optim.Adam(trend.parameters(), lr=0.05)
    valid = torch.ones_like(obs, dtype=torch.bool)
    for _ in range(400):
        opt.zero_grad()
        sim = trend(out, batch)["tws"]
        (masked_anomaly(sim, valid) - masked_anomaly(obs, valid)).pow(2).mean().backward()
        opt.step()
    flux = trend(out, batch)["net_lateral"][:, 0].detach()
    assert torch.allclose(flux, drift, atol=0.01)
    assert trend.rate[2].item() == 0.0


def test_a_trained_model_predicts_the_same_twice_in_eval_mode():
    model = MODELS["hybrid"]().eval()
    a, b = model(_batch())["tws"], model(_batch())["tws"]
    assert torch.equal(a, b)


def test_daily_steps_aggregate_to_monthly_sums_and_means():
    step_month = torch.tensor([0, 0, 0, 1, 1, 2])
    x = torch.tensor([[1.0, 2, 3, 4, 5, 6]])
    assert to_months(x, step_month, 3, "sum").tolist() == [[6.0, 9.0, 6.0]]
    assert to_months(x, step_month, 3, "mean").tolist() == [[2.0, 4.5, 6.0]]
    monthly = torch.arange(3)
    assert to_months(x[:, :3], monthly, 3, "sum") is not None


def test_target_error_leaves_out_missing_months_and_is_offset_free_for_tws():
    obs = torch.tensor([[1.0, float("nan"), 3.0, 5.0]])
    sim = obs.nan_to_num(99.0) + 100.0  # an offset, and a wild value in the missing month
    assert float(target_error(sim, obs, "rmse", anomaly=True)) < 1e-5
    assert float(target_error(sim, obs, "rmse", anomaly=False)) == pytest.approx(100.0)
    assert torch.isnan(target_error(sim, torch.full_like(obs, float("nan")), "nse", True))


def test_the_nse_loss_floors_a_flat_row_by_the_targets_scale():
    # a cell without snow (flat zeros) beside a snowy one; 1 mm of spurious snow in the
    # flat row must not outweigh the snowy row's error by the inverse of a ~0 variance
    t = torch.arange(24.0)
    snowy = 50.0 * (1 + torch.cos(2 * torch.pi * t / 12))
    obs = torch.stack([torch.zeros(24), snowy])
    sim = torch.stack([torch.ones(24), snowy])
    sd = float(snowy.std(unbiased=False))
    floored = target_error(sim, obs, "nse", anomaly=False, scale=sd)
    assert float(floored) == pytest.approx(0.5 * 1.0 / (0.1 * sd) ** 2, rel=1e-5)
    assert float(target_error(sim, obs, "nse", anomaly=False)) == pytest.approx(0.5, rel=1e-5)
    # a perfect row costs nothing, whatever the floor
    assert float(target_error(obs, obs, "nse", anomaly=False, scale=sd)) == 0.0


def test_the_loss_has_task_weights_and_the_groundwater_constraint():
    loss = HybridLoss(["twsa", "et"], torch.arange(30), "nse", groundwater_weight=1.0)
    out = MODELS["hybrid"]()(_batch())
    batch = {**_batch(), "y_twsa": torch.randn(3, 30), "y_et": torch.full((3, 30), float("nan"))}
    total, parts = loss(out, batch)
    assert {"twsa", "weight_twsa", "c_g"} <= set(parts) and "et" not in parts
    assert float(parts["c_g"]) >= 0.1  # mean(−min(g, 0)) + 0.1
    assert [p.requires_grad for p in loss.parameters()] == [True]


@pytest.fixture(scope="module")
def twin() -> HybridData:
    return load_hybrid_twin(HybridTwinSource(size=8, end="2010-12"))


def test_the_temporal_split_trains_before_it_tests(twin):
    cfg = HybridConfig(train_end="2006-12", test_end="2010-12", validation_months=12)
    roles = temporal_roles(twin, cfg, "test")
    fit, val, test = roles.train[1], roles.validation[1], roles.score_months
    assert not (fit & val).any() and not ((fit | val) & test).any()
    assert twin.months[fit].max() < twin.months[val].min() <= twin.months[val].max()
    assert twin.months[val].max() < twin.months[test].min()
    with pytest.raises(ConfigError, match="no training data"):
        temporal_roles(twin, HybridConfig(train_start="1950-01", train_end="1960-12"), "test")


def test_a_refit_trains_on_the_validation_months_and_tuning_never_does(twin):
    cfg = HybridConfig(train_end="2006-12", test_end="2010-12", validation_months=12, refit=True)
    roles = temporal_roles(twin, cfg, "test")
    parts = training_parts(roles)
    assert list(parts) == ["train"]  # nothing held out: the best epoch is judged on training
    months = parts["train"][1]
    assert np.array_equal(months, roles.train[1] | roles.validation[1])
    assert roles.validation[1].sum() == 12 and not (months & roles.score_months).any()
    recipe = HybridRecipe(hybrid=cfg, data=HybridTwinSource(size=8, end="2010-12"))
    tuned = training_parts(tuning_roles(recipe, twin))
    assert set(tuned) == {"train", "validation"}
    assert not (tuned["train"][1] & tuned["validation"][1]).any()
    assert list(training_parts(temporal_roles(twin, cfg.model_copy(update={"refit": False}),
                                              "test"))) == ["train", "validation"]  # fmt: skip


def test_spatial_folds_score_every_cell_once_and_never_train_on_its_buffer(twin):
    cfg = HybridConfig(spatial_folds=2, block_deg=10.0, buffer_deg=5.0)
    folds = spatial_roles(twin, cfg, "test_cells")
    held = np.concatenate([f.scored for f in folds])
    assert sorted(held) == list(range(twin.n))
    lat, lon = twin.lat, twin.lon
    for f in folds:
        train = np.concatenate([f.train[0], f.validation[0]])
        assert not set(train) & set(f.scored)
        d = np.maximum(np.abs(lat[train, None] - lat[None, f.scored]),
                       np.abs(lon[train, None] - lon[None, f.scored]))  # fmt: skip
        assert d.min() > cfg.buffer_deg


def test_basin_folds_partition_the_basins(twin):
    basins = HybridData(**{**twin.__dict__, "grid": None})
    folds = sample_folds(basins, HybridConfig(spatial_folds=3))
    assert sorted(np.concatenate([h for h, _ in folds])) == list(range(twin.n))


def test_baselines_have_known_answers():
    months = pd.date_range("2002-01", periods=48, freq="MS")
    season = np.tile(np.sin(np.arange(12) / 12 * 2 * np.pi) * 50, 4)[None]
    fit = np.arange(48) < 36
    assert np.allclose(bl.climatology(season, months, fit), season)
    storage = np.cumsum(np.sin(np.arange(48) / 6.0) * 10)[None]
    net = np.diff(np.concatenate([[0.0], storage[0]]))[None]
    data = HybridData(
        ids=np.array(["a"]), steps=months, months=months, step_month=np.arange(48),
        forcing=np.stack([net + 100, np.full_like(net, 60), np.full_like(net, 40)], 2),
        forcing_names=["P", "ET_x", "R_x"], precip=net + 100, statics=np.zeros((1, 0)),
        static_names=[], targets={"twsa": storage}, lat=np.array([0.0]), lon=np.array([0.0]),
        region=np.array(["all"]), area=np.ones(1),
    )  # fmt: skip
    cum = bl.cumulative_wb(data)
    drift = np.mean(net) * np.arange(1, 49)
    assert np.allclose(cum - cum.mean(), (storage - drift) - (storage - drift).mean())


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared basin tables absent")
def test_the_real_basin_tables_load_with_the_gap_filled_months_masked():
    data = load_basins(BasinTables(folder=str(SHARED)))
    assert data.n == 204 and data.forcing.shape == (204, 476, 3)
    gap = data.months.strftime("%Y-%m").isin(GRACE_MISSING_MONTHS)
    assert np.isnan(data.targets["twsa"][:, gap]).all()
    assert np.isfinite(data.targets["twsa"][:, ~gap & (data.months >= "2002-04")]).any(0).all()
    assert set(data.targets) == {"twsa", "et", "q"} and set(data.region) <= {
        "humid", "subhumid", "arid"}  # fmt: skip


def _tables(tmp_path: Path) -> Path:
    d = tmp_path / "basins"
    d.mkdir()
    months = pd.date_range("2001-01", "2004-12", freq="MS")
    rng = np.random.default_rng(0)
    for name, file in (("P_X", "p.csv"), ("TWS_Y", "tws.csv"), ("ET_Z", "et.csv")):
        cols = {f"{name} {m:%Y-%m}-15": rng.random(3) * 50 for m in months}
        pd.DataFrame(cols, index=["A", "B", "C"]).to_csv(d / file)
    return d


def _recipe(tmp_path: Path, folder: Path, **hybrid) -> Path:
    lines = ['method = "hybrid"', "[data]", 'kind = "basins"', f'folder = "{folder}"',
             'precip = "p.csv"', "forcing = []", 'twsa = "tws.csv"', 'et = "et.csv"', "q = ''",
             "info = ''", "[hybrid]"]  # fmt: skip
    settings = {"train_start": "2002-01", "train_end": "2003-12", "test_end": "2004-12",
                "spatial_folds": 0, **hybrid}  # fmt: skip
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in settings.items()]
    lines += ["[train]", "epochs = 1", "[[models]]", 'name = "hybrid"']
    p = tmp_path / "r.toml"
    p.write_text("\n".join(lines))
    return p


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("month", r"p\.csv: no column for month\(s\) 2002-03"),
        ("negative", r"p\.csv: variable 'P_X': negative precipitation"),
        ("empty", r"et\.csv: variable 'et': every value is missing"),
        ("split", r"hybrid\.train_start\.\.train_end .* no training data"),
    ],
)
def test_bad_basin_input_is_refused_before_training(tmp_path, capsys, breakage, message):
    folder = _tables(tmp_path)
    hybrid = {}
    if breakage == "month":
        df = pd.read_csv(folder / "p.csv", index_col=0)
        df.drop(columns=["P_X 2002-03-15"]).to_csv(folder / "p.csv")
    elif breakage == "negative":
        df = pd.read_csv(folder / "p.csv", index_col=0)
        df.iloc[1, 5] = -3.0
        df.to_csv(folder / "p.csv")
    elif breakage == "empty":
        df = pd.read_csv(folder / "et.csv", index_col=0)
        (df * np.nan).to_csv(folder / "et.csv")
    else:
        hybrid = {"train_start": "1990-01", "train_end": "1995-12"}
    code = main(["run", str(_recipe(tmp_path, folder, **hybrid)), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert re.search(message, " ".join(err.split())), err
    assert not (tmp_path / "o" / "checkpoints").exists()
    shutil.rmtree(folder)


def test_basin_tables_with_a_negative_value_name_the_basin(tmp_path):
    folder = _tables(tmp_path)
    df = pd.read_csv(folder / "p.csv", index_col=0)
    df.iloc[2, 0] = -1.0
    df.to_csv(folder / "p.csv")
    src = BasinTables(folder=str(folder), precip="p.csv", forcing=[], twsa="tws.csv", et=None,
                      q=None, info=None)  # fmt: skip
    with pytest.raises(InputError, match="in basin 'C'"):
        load_basins(src)


def test_tuning_resumes_its_sqlite_study(tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(
        'method = "hybrid"\n[data]\nkind = "hybrid_twin"\nsize = 8\nend = "2008-12"\n'
        '[hybrid]\nspinup_years = 1\ntrain_end = "2006-12"\ntest_end = "2008-12"\n'
        "validation_months = 12\nspatial_folds = 0\n[train]\nbatch_size = 64\n"
        '[[models]]\nname = "hybrid"\n'
    )
    out = tmp_path / "study"
    assert main(["tune", str(recipe), "--trials", "1", "--epochs", "2", "--out", str(out)]) == 0
    assert main(["tune", str(recipe), "--trials", "2", "--epochs", "2", "--out", str(out)]) == 0
    optuna = pytest.importorskip("optuna")
    study = optuna.load_study(study_name="hybrid", storage=f"sqlite:///{out / 'tune.sqlite'}")
    assert len(study.trials) == 2  # the second call added one trial, it did not start over
    tuned = (out / "best.toml").read_text()
    assert 'method = "hybrid"' in tuned and "hidden" in tuned


def test_trainings_side_by_side_give_the_numbers_of_one_after_another(tmp_path, caplog):
    """Three trainings (the temporal split and 2 spatial folds) in 2 spawned processes of
    1 thread predict, bit for bit, what they predict one after another on 1 thread here."""
    recipe = parse_recipe({
        "method": "hybrid", "data": {"kind": "hybrid_twin", "size": 8, "end": "2008-12"},
        "hybrid": {"hidden": 8, "branch_width": 4, "spinup_years": 1, "train_end": "2006-12",
                   "test_end": "2008-12", "validation_months": 12, "spatial_folds": 2,
                   "block_deg": 4.0, "buffer_deg": 0.0},
        "train": {"batch_size": 16, "epochs": 2}, "models": [{"name": "hybrid"}],
    }, "test")  # fmt: skip
    data = load_hybrid_twin(recipe.data)
    mc = recipe.models[0]
    plan = [(mc, temporal_roles(data, recipe.hybrid, "test"))]
    plan += [(mc, r) for r in spatial_roles(data, recipe.hybrid, "test_cells")]
    runs = {}
    for name, train in (("serial", {"jobs": 1, "num_threads": 1}), ("side", {"jobs": 2})):
        r = recipe.model_copy(update={"train": recipe.train.model_copy(update=train)})
        with caplog.at_level(logging.INFO, "gracefuse"), reproducible(r.train):
            runs[name] = train_plan(plan, r, data, tmp_path / name, progress=False)
    assert "3 trainings in 2 processes of 1 thread(s) each" in caplog.text
    assert "the training processes stopped" not in caplog.text
    for a, b in zip(runs["serial"], runs["side"], strict=True):
        assert a.monthly.keys() == b.monthly.keys() and np.isfinite(a.monthly["tws"]).any()
        for key in a.monthly:
            np.testing.assert_array_equal(a.monthly[key], b.monthly[key], err_msg=key)


def test_trend_models_run_on_the_temporal_split_only_and_write_their_lateral_store(tmp_path):
    """A refit run with the trend models: scored on ``test``, left out of the unseen cells
    (their flux is per sample), their lateral flux and store in predictions.nc, and the
    storage change of ``hybrid_trend`` closing with it there too."""
    xr = pytest.importorskip("xarray")
    recipe = tmp_path / "trend.toml"
    recipe.write_text(
        'method = "hybrid"\n[data]\nkind = "hybrid_twin"\nsize = 8\nend = "2006-12"\n'
        '[hybrid]\nhidden = 8\nbranch_width = 4\nspinup_years = 1\ntrain_end = "2005-12"\n'
        'test_end = "2006-12"\nvalidation_months = 12\nrefit = true\nspatial_folds = 2\n'
        "block_deg = 12.0\nbuffer_deg = 4.0\n[train]\nepochs = 1\njobs = 1\n"
        '[[models]]\nname = "lstm"\n[[models]]\nname = "hybrid_trend"\n'
        '[[models]]\nname = "lstm_trend"\n'
    )
    out = tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    nse = metrics[(metrics.variable == "twsa") & (metrics.metric == "nse")]
    assert {"hybrid_trend", "lstm_trend"} <= set(nse[nse.split == "test"].model)
    assert set(nse[nse.split == "test_cells"].model) & {"hybrid_trend", "lstm_trend"} == set()
    with xr.open_dataset(out / "predictions.nc") as ds:
        flux = ds["net_lateral_hybrid_trend_test"].values
        store = ds["lateral_store_hybrid_trend_test"].values
    assert np.isfinite(flux).any() and np.nanstd(flux) > 0  # fitted, one flux per cell
    step = np.diff(store, axis=1)
    ok = np.isfinite(step)
    np.testing.assert_allclose(step[ok], flux[:, 1:][ok], rtol=1e-4, atol=1e-4)
