import json
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest

import gracefuse.data.twin.build as build
from conftest import cached_twin
from gracefuse.data.grace import GRACE_MISSING_MONTHS
from gracefuse.data.grid import coarsen_mean, region_mean
from gracefuse.data.twin import (
    SUN2019_TABLE1,
    TwinConfig,
    calibrate_lsm,
    calibration_table,
    make_fine_grid,
    make_twin,
    make_wells,
)
from gracefuse.data.twin.bucket import BucketParams, simulate
from gracefuse.data.twin.build import calibration_world, render, solve_lsm_errors
from gracefuse.data.twin.lsm import LSMErrors


@pytest.fixture(scope="module")
def twin():
    return cached_twin(size=32, seed=0)


def test_water_balance_closes(twin):
    storage_change = twin.tws_true.diff("time")
    fluxes = (twin.precip - twin.et - twin.runoff).isel(time=slice(1, None))
    err = np.abs(storage_change.values - fluxes.values)
    assert np.nanmax(err) < 1e-8  # mm, to numerical precision
    assert float(twin.precip.mean()) > 0 and float(twin.et.mean()) > 0


def test_truth_is_the_sum_of_its_stores(twin):
    parts = sum(twin[k] for k in ("soil_moisture", "swe", "canopy", "surface_water", "groundwater"))
    np.testing.assert_allclose(parts.values, twin.tws_true.values, equal_nan=True)
    assert float(twin.surface_water.std()) > 0 and float(twin.swe.max()) > 10


def test_lsm_misses_groundwater_and_surface_water(twin):
    mismatch = region_mean(twin.twsa_lsm - twin.twsa_grace, twin.land_mask)
    missing = region_mean(
        -(twin.gwsa_true + twin.surface_water - twin.surface_water.mean("time")), twin.land_mask
    )
    ok = mismatch.notnull()
    r = np.corrcoef(mismatch[ok], missing[ok])[0, 1]
    assert r > 0.4  # the mismatch is dominated by what the LSM lacks


def test_grace_has_real_missing_months_and_noise(twin):
    months = {f"{t:%Y-%m}" for t in pd.DatetimeIndex(twin.time.values)}
    missing = {m for m in GRACE_MISSING_MONTHS if m in months}
    empty = twin.twsa_grace.isnull().all(("lat", "lon"))
    got = {f"{pd.Timestamp(t):%Y-%m}" for t in twin.time.values[empty.values]}
    assert got == missing
    noise = (twin.twsa_grace - twin.twsa_true).std()
    assert 10 < float(noise) < 40  # mm, the size of real mascon noise
    assert float(twin.twsa_grace_uncertainty.mean()) > 10


def test_depletion_trend_in_the_north_west(twin):
    g = region_mean(twin.twsa_grace, twin.depletion_region)
    ok = np.isfinite(g.values)
    years = np.arange(g.size)[ok] / 12
    slope = np.polyfit(years, g.values[ok], 1)[0]
    assert -25 < slope < -2  # mm/yr
    trend_true = np.polyfit(
        np.arange(g.size) / 12, region_mean(twin.gwsa_true, twin.depletion_region).values, 1
    )[0]
    assert trend_true < slope  # smoothing spreads the depletion: GRACE sees less of it


def _assert_table1(table, tol=0.03):
    for split, target in SUN2019_TABLE1.items():
        for metric, value in target.items():
            got = table.loc[split, metric]
            assert got == pytest.approx(value, abs=tol), (split, metric, got)


def test_calibrated_to_sun2019_table1(twin):
    _assert_table1(calibration_table(twin))
    skill = json.loads(twin.attrs["lsm_skill"])
    assert skill["test"]["nse"] == pytest.approx(calibration_table(twin).loc["test", "nse"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_worlds_reproduce_table1_row1(seed):
    """The calibration is a procedure: other seeds at sizes 32 and 64 meet Table 1 row 1.

    Each world's errors are solved once, on its 32×32 rendering, as make_twin does at any
    size (test_lsm_errors_are_solved_once_per_world), then both sizes are built from them.
    Three worlds here; ``benchmarks/calibration_twin.py`` surveys thirty.
    """
    errors = solve_lsm_errors(TwinConfig(seed=seed))
    for size in (32, 64):
        tw = make_twin(size=size, seed=seed, make_fine=False, lsm_errors=errors)
        _assert_table1(calibration_table(tw))


def test_calibration_is_a_procedure_not_constants():
    """Other targets give another LSM: the solved errors follow what is asked."""
    cfg = TwinConfig(size=32, seed=0)
    world = calibration_world(cfg, render(cfg, 32))
    worse = {"train": {"r": 0.70, "nse": 0.45}, "test": {"r": 0.75, "nse": 0.40}}
    errors, achieved = calibrate_lsm(world, worse)
    for split, target in worse.items():
        assert achieved[split]["r"] == pytest.approx(target["r"], abs=0.03)
        assert achieved[split]["nse"] == pytest.approx(target["nse"], abs=0.03)
    paper, reached = calibrate_lsm(world)
    assert errors != paper  # other targets, another LSM
    for split, target in SUN2019_TABLE1.items():
        assert reached[split]["nse"] == pytest.approx(target["nse"], abs=0.03)


def test_lsm_errors_are_solved_once_per_world(twin):
    """Same seed, same LSM at every size and period: the errors are solved on one 32×32
    rendering of 2002–2017."""
    a = json.loads(cached_twin(size=16, seed=0).attrs["twin_config"])
    b = json.loads(twin.attrs["twin_config"])
    c = json.loads(cached_twin(size=16, seed=0, start="1979-01").attrs["twin_config"])
    assert a["lsm_errors"] == b["lsm_errors"] == c["lsm_errors"]
    assert a["lsm_errors"] == solve_lsm_errors(TwinConfig(seed=0, size=64)).model_dump()


def test_a_world_is_solved_once_per_process_whatever_its_size_and_period(monkeypatch):
    """The memo keys on what the solve reads: size, start, wells and fine grid share one
    solve; another seed, other targets or a period past 2017 solve again."""
    calls = []

    def fake(cfg, world=None):
        calls.append(cfg)
        return LSMErrors(noise=0.1 + 0.01 * len(calls))

    monkeypatch.setattr(build, "solve_lsm_errors", fake)
    memo = OrderedDict()
    a = build.solved_lsm_errors(TwinConfig(size=16), memo=memo)
    b = build.solved_lsm_errors(
        TwinConfig(size=64, start="1979-01", end="2010-12", n_wells=0, make_fine=False),
        memo=memo,
    )
    assert len(calls) == 1 and a == b
    b.noise = 9.0  # a copy: the memo keeps its own
    assert build.solved_lsm_errors(TwinConfig(size=8), memo=memo).noise == a.noise
    targets = {k: dict(v) | {"r": 0.5} for k, v in SUN2019_TABLE1.items()}
    others = [TwinConfig(seed=1), TwinConfig(lsm_targets=targets), TwinConfig(end="2020-12"),
              TwinConfig(recharge_coef=0.2)]  # fmt: skip
    solved = [build.solved_lsm_errors(c, memo=memo) for c in others]
    assert len(calls) == 5 and len({s.noise for s in solved}) == 4
    monkeypatch.setattr(build, "MEMO_SIZE", 2)
    build.solved_lsm_errors(TwinConfig(seed=7), memo=memo)
    assert len(memo) == 2 and len(calls) == 6  # the least recently used went first
    build.solved_lsm_errors(TwinConfig(recharge_coef=0.2), memo=memo)
    assert len(calls) == 6
    build.solved_lsm_errors(TwinConfig(size=16), memo=memo)
    assert len(calls) == 7


def test_bucket_model_closes_mass_with_a_partial_deep_store():
    rng = np.random.default_rng(0)
    p = rng.gamma(2.0, 40.0, (60, 5))
    t = rng.normal(10.0, 8.0, (60, 5))
    prm = BucketParams(
        smax=np.full(5, 200.0),
        cmax=np.ones(5),
        melt=25.0,
        f_sw=0.0,
        k_sw=0.0,
        k_gw=0.05,
        k_rech=0.3,
        rech_share=np.array([0.0, 0.3, 0.6, 1.0, 0.5]),
        gw_ref=0.0,
    )
    out = simulate(p, t, None, prm, 0)
    store = sum(out[k] for k in ("snow", "canopy", "sm", "sw", "gw"))
    change = np.diff(store, axis=0)
    flux = (p - out["et"] - out["runoff"])[1:]
    np.testing.assert_allclose(change, flux, atol=1e-9)
    assert np.all(out["gw"][:, 0] == 0) and out["gw"][-1, 3] > out["gw"][-1, 1] > 0


def test_same_seed_same_world():
    errors = solve_lsm_errors(TwinConfig(seed=3))
    a = make_twin(size=16, seed=3, end="2005-12", lsm_errors=errors)
    b = make_twin(size=16, seed=3, end="2005-12", lsm_errors=errors)
    np.testing.assert_array_equal(a.twsa_grace.values, b.twsa_grace.values)
    np.testing.assert_array_equal(a.twsa_lsm.values, b.twsa_lsm.values)
    c = make_twin(size=16, seed=4, end="2005-12", lsm_errors=errors)
    assert not np.allclose(a.twsa_true.fillna(0), c.twsa_true.fillna(0))


def test_same_world_at_other_sizes_and_start_dates(twin):
    small = cached_twin(size=16, seed=0)
    a = region_mean(small.twsa_true, small.land_mask)
    b = region_mean(twin.twsa_true, twin.land_mask)
    assert np.corrcoef(a, b)[0, 1] > 0.99
    early = cached_twin(size=16, seed=0, start="1979-01")
    assert early.sizes["time"] == (2017 - 1979 + 1) * 12
    np.testing.assert_allclose(
        early.tws_true.sel(time=small.time).values, small.tws_true.values, equal_nan=True
    )
    assert early.twsa_grace.sel(time=slice("1979", "2001")).isnull().all()


def test_grace_fo_months_after_the_gap():
    tw = cached_twin(size=16, seed=0, end="2019-12")
    assert tw.twsa_grace.sel(time="2018-06-01").notnull().any()
    assert tw.twsa_grace.sel(time="2018-08-01").isnull().all()
    assert tw.twsa_grace.sel(time=slice("2017-07", "2018-05")).isnull().all()


def test_fine_grid_block_means_equal_coarse(twin):
    fine = make_fine_grid(twin.isel(time=slice(0, 24)))
    assert fine.sizes["lat"] == 4 * twin.sizes["lat"]
    block = coarsen_mean(fine.gwsa_true, 4)
    coarse = twin.gwsa_true.isel(time=slice(0, 24))
    np.testing.assert_allclose(block.values, coarse.values, atol=1e-8, equal_nan=True)
    # heterogeneity is real: fine cells differ inside a block
    assert float(fine.gwsa_true.std(("lat", "lon")).mean()) > 0


def test_wells_sample_groundwater_with_specific_yield(twin):
    fine = make_fine_grid(twin)
    wells = make_wells(fine, n_wells=20)
    assert wells.well_id.nunique() == 20
    assert set(pd.DatetimeIndex(wells.time).month) <= {1, 5, 8, 11}
    w = wells[wells.well_id == wells.well_id.iloc[0]]
    i = int(np.argmin(np.abs(fine.lat.values - w.lat.iloc[0])))
    j = int(np.argmin(np.abs(fine.lon.values - w.lon.iloc[0])))
    gw = fine.gwsa_true.isel(lat=i, lon=j).sel(time=pd.DatetimeIndex(w.time)).values
    expected = gw / 1000.0 / w.specific_yield.iloc[0]
    resid = w.head_anomaly_m.to_numpy() - expected
    assert np.std(resid) == pytest.approx(0.15, abs=0.08)  # the stated measurement noise, m
    assert abs(np.mean(resid)) < 0.1
