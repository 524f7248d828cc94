"""The groundwater analysis functions (issue 12, first part): separation with propagated
uncertainty against NASA JPL's California decomposition, the three-cornered hat (closed
and generalised forms), trends with autocorrelation-aware intervals, STL and seasons."""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gracefuse.analysis.separation import separate
from gracefuse.analysis.tch import combine, tch_covariance, tch_dataset, tch_three
from gracefuse.analysis.trends import (
    amplitude_phase,
    decimal_years,
    hotspots,
    lagged_correlation,
    sen_trend,
    stl_components,
    trend_dataset,
)
from gracefuse.data.nasa_california import read_nasa_california
from gracefuse.errors import InputError

SHARED = os.environ.get("GRACEFUSE_SHARED_DATA", os.path.join(os.path.dirname(__file__),
                        "..", "..", "shared", "data"))  # fmt: skip
MONTHS = pd.date_range("2004-01-01", periods=180, freq="MS")


def _series(values, name="x", units="mm") -> xr.DataArray:
    return xr.DataArray(values, dims="time", coords={"time": MONTHS[: len(values)]},
                        name=name, attrs={"units": units})  # fmt: skip


def _products(noise, n=240, seed=0, space=None):
    rng = np.random.default_rng(seed)
    shape = (n,) if space is None else (n, space)
    signal = rng.normal(0, 50, shape)
    return np.stack([signal + rng.normal(0, s, shape) for s in noise], axis=-1)


def test_tch_closed_and_generalised_forms_recover_known_noise():
    x = _products([4.0, 8.0, 12.0], n=20000)
    assert np.sqrt(tch_three(x)) == pytest.approx([4, 8, 12], rel=0.05)
    r = tch_covariance(x)
    assert np.sqrt(np.diag(r)) == pytest.approx([4, 8, 12], rel=0.05)
    assert np.sqrt(np.diag(tch_covariance(_products([4, 8, 12, 6], n=20000)))) == pytest.approx(
        [4, 8, 12, 6], rel=0.05)  # fmt: skip


def test_tch_is_never_negative_where_the_closed_form_is():
    # product 3's noise is twice product 2's (fully correlated): the closed form gives
    # product 2 a negative variance
    rng = np.random.default_rng(3)
    s = rng.normal(0, 30, 200)
    shared = rng.normal(0, 10, 200)
    x = np.stack([s + rng.normal(0, 1, 200), s + shared, s + 2 * shared], 1)
    assert (tch_three(x) < 0).any()
    r = tch_covariance(x)
    assert (np.diag(r) >= -1e-9).all() and np.linalg.eigvalsh(r).min() >= -1e-6


def test_tch_needs_three_products_and_combines_by_inverse_variance():
    with pytest.raises(InputError, match="at least three products"):
        tch_covariance(_products([1.0, 2.0]))
    x = _products([1.0, 2.0, 2.0], n=5000)
    comb, sd = combine(x, np.array([1.0, 2.0, 2.0]))
    assert sd == pytest.approx(1 / np.sqrt(1 + 0.25 + 0.25))
    truth = x.mean(1)  # not the truth, but the combination must be closer to product 1
    assert np.corrcoef(comb, x[:, 0])[0, 1] > np.corrcoef(truth, x[:, 0])[0, 1]


def test_tch_dataset_per_basin_names_products_and_the_combination():
    x = _products([5.0, 10.0, 15.0], n=180, space=4)  # (T, L, P)
    da = xr.DataArray(np.moveaxis(x, -1, 0), dims=("product", "time", "basin"),
                      coords={"product": ["JPL_mascons", "CSR_mascons", "ITSG_grid"],
                              "time": MONTHS, "basin": list("abcd")}, attrs={"units": "mm"})  # fmt: skip
    ds = tch_dataset(da)
    assert list(ds["product"].values) == ["JPL_mascons", "CSR_mascons", "ITSG_grid", "combined"]
    assert ds.noise_std.dims == ("product", "basin") and (ds.noise_std >= 0).all()
    noise = ds.noise_std
    # the combination's noise sqrt(wᵀRw) under the full TCH covariance: below the
    # equal-weight mean's everywhere, and about the best single product's or below
    comb = noise.sel(product="combined")
    assert (comb < ds.mean_noise_std).all()
    assert (comb < 1.1 * noise.drop_sel(product="combined").min("product")).all()


def test_trend_interval_covers_a_known_slope_under_ar1_noise():
    t = decimal_years(MONTHS)
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):
        z = rng.normal(0, 10, len(t))
        e = np.zeros_like(z)
        for i in range(len(z)):
            e[i] = (0.6 * e[i - 1] if i else 0.0) + z[i]
        tr = sen_trend(-3.0 * t + e, MONTHS)
        hits += tr.lower <= -3.0 <= tr.upper
    assert hits / 200 >= 0.93


def test_trend_uses_real_dates_across_gaps_and_flags_hotspots():
    x = 2.0 * decimal_years(MONTHS) + np.sin(np.arange(180))
    x[30:60] = np.nan  # a gap must not stretch the time axis
    tr = sen_trend(x, MONTHS)
    assert tr.slope == pytest.approx(2.0, abs=0.05) and tr.significant
    grid = xr.DataArray(np.stack([x, -x, np.random.default_rng(0).normal(size=180)], 1),
                        dims=("time", "cell"), coords={"time": MONTHS})  # fmt: skip
    ds = trend_dataset(grid)
    assert set(ds) == {"slope", "slope_lower", "slope_upper", "p_value"}
    assert hotspots(ds, threshold=-1.0).values.tolist() == [False, True, False]
    with pytest.raises(InputError, match="unknown test"):
        sen_trend(x, MONTHS, test="nope")


def test_stl_seasons_and_lagged_drivers_have_known_answers():
    t = decimal_years(MONTHS)
    season = 30 * np.cos(2 * np.pi * (t - (4 - 0.5) / 12))  # peak in April
    x = _series(season + 2 * (t - t[0]))
    x[50:53] = np.nan
    parts = stl_components(x)
    assert int(parts.filled.sum()) == 3
    assert np.nanstd(parts.seasonal) > 10 * np.nanstd(parts.resid)
    amp, peak = amplitude_phase(x)
    assert amp == pytest.approx(30, rel=0.02) and peak == pytest.approx(4, abs=0.1)
    driver = _series(np.random.default_rng(1).normal(size=180))
    target = driver.shift(time=2).fillna(0) + 0.1 * _series(
        np.random.default_rng(2).normal(size=180)
    )
    lag, r = lagged_correlation(target, driver, max_lag=4)
    assert lag == 2 and r > 0.9


def test_separation_converts_units_rereferences_baselines_and_propagates_errors(caplog):
    tws = _series(np.linspace(0, 100, 180), "twsa", "cm")
    sm = _series(np.linspace(0, 400, 180) - 50.0, "sm")  # mean over 2004-2009 is not 0
    ds = separate(tws, {"sm": sm}, {"twsa": _series(np.full(180, 30.0)), "sm": 0.1},
                  baseline=("2004-01", "2009-12"))  # fmt: skip
    assert "re-referenced" in caplog.text
    assert float(ds.twsa.max() - ds.twsa.min()) == pytest.approx(1000.0)  # cm → mm
    assert abs(float(ds.sm.sel(time=slice("2004", "2009")).mean())) < 1e-6
    expected = np.sqrt(30.0**2 + (0.1 * float(ds.sm.std())) ** 2)
    assert float(ds.gwsa_uncertainty[0]) == pytest.approx(expected)
    with pytest.raises(InputError, match="needs the region's area"):
        separate(tws, {"res": _series(np.ones(180), "res", "km3")})
    with pytest.raises(InputError, match="not a water height|units"):
        separate(tws, {"sm": _series(np.ones(180), "sm", "furlong")})


CALIFORNIA = sorted(glob.glob(os.path.join(SHARED, "nasa_grace_california",
                                           "anomaly_timeseries_all_*unsmoothed.csv")))  # fmt: skip


@pytest.mark.skipif(not CALIFORNIA, reason="nasa_grace_california not in the shared data")
@pytest.mark.parametrize("path", CALIFORNIA)
def test_separation_reproduces_nasas_california_groundwater(path):
    ds = read_nasa_california(path)
    area = ds.attrs["area_km2"]
    out = separate(ds.twsa, {k: ds[k] for k in ("sm", "swe", "reservoirs")},
                   {k: ds[f"{k}_error"] for k in ("twsa", "sm", "swe", "reservoirs")},
                   tuple(ds.attrs["baseline"]), area_km2=area)  # fmt: skip
    nasa, nasa_err = ds.gwsa_nasa * 1e6 / area, ds.gwsa_nasa_error * 1e6 / area
    ok = np.isfinite(nasa) & np.isfinite(out.gwsa)
    assert np.corrcoef(out.gwsa[ok], nasa[ok])[0, 1] >= 0.999
    assert float(np.sqrt(((out.gwsa - nasa)[ok] ** 2).mean())) <= 0.5
    assert float(abs(out.gwsa_uncertainty - nasa_err)[ok].max() / nasa_err[ok].mean()) <= 0.02
    tr = sen_trend(out.gwsa.values, out.time.values)
    assert tr.upper < 0  # California lost groundwater 2004-2025
