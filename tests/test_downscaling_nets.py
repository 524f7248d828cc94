"""The patch-trained PI-ConvLSTM + U-Net, SSVAER and the per-cell baseline of the
downscaling family: gradients through the physics terms, patches that cover the grid,
known answers, and no test-month leakage."""

import numpy as np
import pytest
import torch

from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.errors import InputError
from gracefuse.methods.downscaling.baselines import cell_regression
from gracefuse.methods.downscaling.config import DownscalingConfig, DownscalingTwinSource
from gracefuse.methods.downscaling.importance import point_importance
from gracefuse.methods.downscaling.patches import (
    PatchScaling,
    fit_patch,
    month_fields,
    physics_terms,
    sample_arrays,
    windows,
)
from gracefuse.methods.downscaling.physics import PatchMass
from gracefuse.methods.downscaling.problem import load_twin_problem, upsample
from gracefuse.methods.downscaling.semi_supervised import SSVAELoss, fit_ssvaer
from gracefuse.models.pi_convlstm_unet import build_pi_convlstm_unet
from gracefuse.models.ssvaer import SSVAER


@pytest.fixture(scope="module")
def problem():
    src = DownscalingTwinSource(size=4, factor=4, seed=3, start="2009-01", end="2014-12")
    return load_twin_problem(src, DownscalingConfig(lags=[1, 12]))


def test_gradients_reach_every_parameter_through_the_likelihood_and_physics(problem):
    s = PatchScaling.of(problem)
    arrays, _ = sample_arrays(month_fields(problem, s), problem.factor, 3, 16)
    model = build_pi_convlstm_unet(arrays["x"].shape[1], arrays["seq"].shape[2], 4, 0.0)
    model.out.weight.data.normal_(0, 0.1)  # off the zero start, so every path carries gradient
    batch = {k: torch.as_tensor(v[:3]) for k, v in arrays.items()}
    out = model(batch)
    terms = physics_terms(DownscalingConfig(), s)
    assert {t.name for t in terms} == {"sign", "magnitude", "mass", "total_variation"}
    total = sum(t.weight * t(out, batch) for t in terms) + out["variance"].mean()
    total.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not silent, silent
    assert model.cells[0].gates.weight.grad.abs().sum() > 0  # the ConvLSTM memory learns


def test_patch_mass_is_zero_exactly_when_block_means_agree():
    term = PatchMass(0.0, 1.0, block=4)
    rng = np.random.default_rng(0)
    coarse = torch.as_tensor(np.repeat(np.repeat(rng.normal(size=(1, 2, 2)), 4, 1), 4, 2))
    wiggle = torch.as_tensor(rng.normal(size=(1, 8, 8)))
    wiggle = wiggle - torch.nn.functional.avg_pool2d(wiggle[:, None], 4).repeat_interleave(
        4, -1).repeat_interleave(4, -2)[:, 0]  # fmt: skip
    land = torch.ones(1, 8, 8, dtype=torch.float64)
    assert float(term({"y_hat": coarse + wiggle}, {"coarse": coarse, "land": land})) < 1e-20
    assert float(term({"y_hat": coarse + 1.0}, {"coarse": coarse, "land": land})) == pytest.approx(
        1.0
    )


def test_patches_cover_the_grid_and_refuse_a_grid_smaller_than_one():
    for n, patch, step in ((64, 128, 4), (96, 32, 8), (40, 16, 4)):
        starts = windows(n, patch, step, "latitude")
        p = min(patch, n) // step * step
        covered = np.zeros(n, bool)
        for a in starts:
            covered[a : a + p] = True
            assert a % step == 0 or a == n - p
        assert covered.all()
    with pytest.raises(InputError, match="latitude"):
        windows(6, 32, 8, "latitude")


def test_cell_regression_recovers_a_per_cell_linear_relation(problem):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=problem.land.shape), rng.uniform(0.5, 2, problem.land.shape)
    truth = a + b * upsample(problem.coarse, problem.factor)
    p = problem.__class__(**{**problem.__dict__, "reference": np.where(
        (problem.split != "test")[:, None, None], truth, np.nan)})  # fmt: skip
    pred = cell_regression(p, ridge=1e-6)
    test = p.months_of("test")
    assert np.nanmax(np.abs(pred[test] - truth[test])[:, p.land]) < 1e-3


def test_ssvaer_loss_regresses_only_labelled_samples_and_shapes_the_latent():
    model = SSVAER(4, latent=2, hidden=(8,))
    x = torch.randn(6, 4)
    y = torch.tensor([1.0, 2.0, float("nan"), float("nan"), float("nan"), float("nan")])
    out = model({"x": x})
    total, parts = SSVAELoss()(out, {"x": x, "y": y})
    expected = ((out["y_hat"][:2] - y[:2]) ** 2).mean()
    assert float(parts["regression"].detach()) == pytest.approx(float(expected.detach()))
    total.backward()
    assert model.decoder[-1].weight.grad.abs().sum() > 0  # unlabelled rows train the VAE


def test_patch_and_ssvaer_predictions_do_not_read_test_month_truth(problem, tmp_path):
    cfg = DownscalingConfig(lags=[1, 12], memory=2, patch=16)
    train = TrainConfig(epochs=1, batch_size=8, lr=1e-3)
    runs = []
    for k, scale in enumerate((1.0, 5.0)):
        truth = problem.truth.copy()
        truth[problem.months_of("test")] *= scale
        p = problem.__class__(**{**problem.__dict__, "truth": truth})
        mean, sd, *_ = fit_patch("pi_convlstm_unet", ModelConfig(name="pi_convlstm_unet",
                                base_filters=4), p, cfg, train, tmp_path / f"p{k}", False)  # fmt: skip
        ss, *_ = fit_ssvaer(ModelConfig(name="ssvaer", epochs=1), p, train, tmp_path / f"s{k}",
                           False)  # fmt: skip
        runs.append((mean, sd, ss))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (
        np.isfinite(runs[0][0][:, problem.land]).all() and (runs[0][1][:, problem.land] > 0).all()
    )


def test_a_patch_network_without_a_fine_reference_is_refused(problem, tmp_path):
    p = problem.__class__(**{**problem.__dict__, "reference": None})
    with pytest.raises(InputError, match="reference"):
        fit_patch("pi_convlstm_unet", ModelConfig(name="pi_convlstm_unet"), p,
                  DownscalingConfig(), TrainConfig(epochs=1), tmp_path, False)  # fmt: skip


def test_shap_of_a_linear_model_is_its_coefficient_times_the_spread(problem):
    coef = np.zeros(problem.features.shape[-1])
    coef[[0, 2]] = [3.0, -1.0]
    scale = np.nanstd(problem.features[:, problem.land], axis=(0, 1))

    def linear(x, *_):
        return x @ coef

    values = point_importance(linear, problem, samples=24, nsamples=64, seed=0, per_sample=True)
    strength = np.abs(coef) * scale
    assert set(np.argsort(-values)[:2]) == {0, 2}
    assert np.all(values[strength == 0] < 1e-6)
