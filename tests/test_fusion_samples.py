"""Fusion samples: lags, splits, training-only statistics; and the same channels built
again, lazily, by ``gracefuse predict`` for another grid."""

import numpy as np
import pytest

from conftest import cached_twin
from gracefuse.config import ModelConfig
from gracefuse.data.inputs import inputs_from_twin
from gracefuse.datasets.features import trailing_mean
from gracefuse.errors import InputError
from gracefuse.methods.fusion import FusionRecipe, SamplesConfig
from gracefuse.methods.fusion.apply import (
    check_inputs,
    feature_fields,
    input_mask,
    lagged_channels,
)
from gracefuse.methods.fusion.export import predictor_spec
from gracefuse.methods.fusion.samples import build_samples


@pytest.fixture(scope="module")
def small_twin():
    return inputs_from_twin(cached_twin(size=16, seed=0), n_wells=0).observed


def test_samples_lags_split_and_training_only_normalisation(small_twin):
    cfg = SamplesConfig(lags=2, memory=["precip"], memory_efolding=[24.0])
    s = build_samples(small_twin, cfg)
    assert s.x.shape[1] == 5 * 3 and s.n_predictors == 5
    # channel 1 of month t is month t−1 of the first predictor (normalised LSM TWSA)
    np.testing.assert_allclose(s.x[10, 1], s.x[9, 0])
    n_valid = int(np.isfinite(s.y).any(axis=(1, 2)).sum())
    assert len(s.train) + len(s.val) + len(s.cal) == round(0.7 * n_valid)
    assert s.train.max() < s.val.min() < s.cal.min() < s.test.min()  # disjoint, in order
    assert np.isnan(s.y[~np.isfinite(s.y).any(axis=(1, 2))]).all()
    # changing validation, calibration or test months changes no input and no scaler
    changed = small_twin.copy(deep=True)
    later = np.concatenate([s.val, s.cal, s.test])
    changed["twsa_lsm"][later] = changed["twsa_lsm"][later] + 500.0
    changed["precip"][later] = changed["precip"][later] * 3.0
    changed["twsa_grace"][later] = changed["twsa_grace"][later] - 300.0
    s2 = build_samples(changed, cfg)
    np.testing.assert_array_equal(s2.x[s.train], s.x[s.train])
    np.testing.assert_array_equal(s2.target_std, s.target_std)
    # target round trip
    mm = s.to_mm(s.y)
    obs = (small_twin.twsa_lsm - small_twin.twsa_grace).where(small_twin.land_mask).values
    ok = np.isfinite(obs[s.train])
    np.testing.assert_allclose(mm[s.train][ok], obs[s.train][ok], rtol=1e-4, atol=1e-3)


def test_per_cell_normalisation_standardises_each_cell(small_twin):
    s = build_samples(small_twin, SamplesConfig(normalize="cell"))
    y = s.y[s.train][:, s.mask]
    np.testing.assert_allclose(np.nanmean(y, axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.nanstd(y, axis=0), 1.0, atol=1e-4)


def test_trailing_mean():
    a = np.arange(6.0)[:, None]
    assert trailing_mean(a, 3)[:, 0].tolist() == [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]


def test_predict_builds_the_training_channels_lazily_from_the_saved_statistics(small_twin):
    """Every channel of every month (lags, trailing mean, exponential memory about the
    training months' mean, global scaling) as training built it, from dask-backed grids."""
    cfg = SamplesConfig(lags=2, memory=["precip"], memory_efolding=[24.0])
    s = build_samples(small_twin, cfg)
    spec = predictor_spec(FusionRecipe(samples=cfg, models=[ModelConfig(name="segnet_lite")]),
                          s, small_twin)  # fmt: skip
    assert [f["memory"] for f in spec["fields"]] == ["none"] * 3 + ["trailing", 24.0]
    assert spec["networks"]["segnet_lite"]["not_transferable"] == ""
    lazy = small_twin.drop_vars("twsa_grace").chunk({"time": -1, "lat": 8, "lon": 8})
    fields = feature_fields(lazy, spec)
    assert fields["f04"].chunks is not None  # nothing computed yet
    channels, names = lagged_channels(fields, spec["lags"])
    x = np.stack([channels[n].values for n in names], axis=1)
    np.testing.assert_allclose(x, s.x, atol=2e-5)
    np.testing.assert_array_equal(input_mask(lazy).values, s.mask)
    check_inputs(lazy, spec, "grids.nc")
    with pytest.raises(InputError, match="lacks 1 of the run's training months"):
        check_inputs(lazy.isel(time=slice(s.train[0] + 1, None)), spec, "grids.nc")
    cell = predictor_spec(FusionRecipe(samples=SamplesConfig(normalize="cell")), s, small_twin)
    assert "per cell" in cell["networks"]["segnet_lite"]["not_transferable"]
