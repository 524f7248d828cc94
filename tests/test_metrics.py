import HydroErr as he
import hydroeval
import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest
import xarray as xr

from gracefuse.evaluate import metrics as m
from gracefuse.evaluate import seasonal, stats


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    obs = 100 + 20 * np.sin(np.arange(120) / 6) + rng.normal(0, 5, 120)
    sim = 0.9 * obs + rng.normal(0, 8, 120) + 12
    return sim, obs


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (m.pearson_r, he.pearson_r),
        (m.nse, he.nse),
        (m.rmse, he.rmse),
        (m.mae, he.mae),
        (m.bias, he.me),
        (m.r_squared, he.r_squared),
        (m.kge, he.kge_2009),
        (m.kge_2012, he.kge_2012),
    ],
)
def test_metrics_match_hydroerr(pair, ours, theirs):
    sim, obs = pair
    assert float(ours(sim, obs)) == pytest.approx(theirs(sim, obs), rel=1e-9)


def test_kge_matches_hydroeval(pair):
    sim, obs = pair
    assert float(m.kge(sim, obs)) == pytest.approx(
        hydroeval.evaluator(hydroeval.kge, sim, obs)[0][0]
    )
    assert float(m.nse(sim, obs)) == pytest.approx(hydroeval.evaluator(hydroeval.nse, sim, obs)[0])


def test_nan_pairs_are_skipped(pair):
    sim, obs = pair
    s2, o2 = sim.copy(), obs.copy()
    s2[5] = np.nan
    o2[17] = np.nan
    keep = np.isfinite(s2) & np.isfinite(o2)
    assert float(m.nse(s2, o2)) == pytest.approx(he.nse(sim[keep], obs[keep]))
    assert float(m.pearson_r(s2, o2)) == pytest.approx(he.pearson_r(sim[keep], obs[keep]))


def test_grid_metrics_equal_cell_by_cell(pair):
    rng = np.random.default_rng(1)
    t = pd.date_range("2003-01-01", periods=60, freq="MS")
    obs = xr.DataArray(rng.normal(size=(60, 3, 4)), coords={"time": t}, dims=("time", "lat", "lon"))
    sim = obs + rng.normal(scale=0.5, size=obs.shape)
    sim[:10, 0, 0] = np.nan
    for name in ("r", "nse", "rmse", "kge"):
        grid = m.METRICS[name](sim, obs)
        assert grid.dims == ("lat", "lon")
        one = m.METRICS[name](sim[:, 0, 0].values, obs[:, 0, 0].values, dim="time")
        assert float(grid[0, 0]) == pytest.approx(float(one))


def test_kge_anomaly_is_defined_for_zero_mean(pair):
    sim, obs = pair
    assert float(m.kge_anomaly(sim - obs.mean(), obs - obs.mean())) < 1
    assert float(m.kge_anomaly(obs, obs)) == pytest.approx(1.0)


def test_williams_test():
    t, p = stats.williams_test(0.9, 0.8, 0.85, 100)
    assert t > 0 and p < 0.01
    t0, p0 = stats.williams_test(0.8, 0.8, 0.5, 50)
    assert t0 == 0 and p0 == pytest.approx(1.0)
    # a larger gain with the same n is more significant
    assert stats.williams_test(0.95, 0.8, 0.85, 60)[1] < stats.williams_test(0.85, 0.8, 0.85, 60)[1]


def test_sen_slope_per_cell_matches_pymannkendall():
    rng = np.random.default_rng(0)
    t = pd.date_range("2003-01-01", periods=96, freq="MS")
    trend = np.array([[-2.0, 0.0], [1.0, 3.0]])  # mm/yr
    data = trend[None] * (np.arange(96) / 12)[:, None, None] + rng.normal(0, 1, (96, 2, 2))
    data[[3, 40], 0, 0] = np.nan
    da = xr.DataArray(data, coords={"time": t}, dims=("time", "lat", "lon"), attrs={"units": "mm"})
    res = stats.sen_mann_kendall(da, n_jobs=1)
    ref = mk.original_test(data[:, 1, 1])
    assert float(res.slope[1, 1]) == pytest.approx(ref.slope * 12)
    assert float(res.slope[0, 0]) == pytest.approx(-2.0, abs=0.2)
    assert bool(res.significant[0, 0]) and res.slope.attrs["units"] == "mm/year"
    big = xr.concat([da] * 40, dim="lat").assign_coords(lat=np.arange(80))
    par = stats.sen_mann_kendall(big, n_jobs=2)
    np.testing.assert_allclose(par.slope.values[:2], res.slope.values)


def test_seasonal_statistics():
    t = pd.date_range("2004-01-01", periods=48, freq="MS")
    cycle = np.tile(np.arange(12.0), 4)
    da = xr.DataArray(cycle + np.repeat([0.0, 1.0, 2.0, 3.0], 12), coords={"time": t}, dims="time")
    seas = seasonal.seasonal_means(da)
    assert list(seas.season.values) == ["DJF", "MAM", "JJA", "SON"]
    assert float(seas.sel(season="JJA")) == pytest.approx(np.mean([5, 6, 7]) + 1.5)
    clim = seasonal.seasonal_cycle(da)
    assert float(clim.sel(month=3)) == pytest.approx(2 + 1.5)
    iav = seasonal.interannual_variability(da)
    assert float(iav.isel(time=30)) == pytest.approx(0.5)  # year 3 (+2) minus the mean year (+1.5)
    assert float(seasonal.amplitude(da)) == pytest.approx(5.5)
    v, p = seasonal.empirical_cdf(np.array([3.0, np.nan, 1.0]))
    assert v.tolist() == [1.0, 3.0] and p.tolist() == [0.5, 1.0]
