"""Every registered model: output shapes for each head it offers, and gradient reaching every
trainable parameter (generic_deltamodel's test_gradients); the factory's capability checks;
losses and extra terms over dicts."""

import numpy as np
import pytest
import torch

from gracefuse.config import TrainConfig
from gracefuse.datasets import ArrayDataset
from gracefuse.models import REGISTRY, build_model, get_spec
from gracefuse.models.pix2pix import PatchGAN
from gracefuse.training import (
    AdversarialTerm,
    GaussianNLL,
    MaskedL1,
    MaskedMSE,
    TaskUncertaintyLoss,
    TotalVariation,
    fit,
)

CASES = [
    (name, head)
    for name, spec in REGISTRY.items()
    for head in spec.heads
    if spec.inputs not in ("series", "points", "coarse_fine")
]  # the hybrid family's models: tests/test_hybrid.py; the point regressions: test_downscaling


def _batch(name: str, size: int = 32) -> dict:
    g = torch.Generator().manual_seed(0)
    if get_spec(name).inputs == "sequence":
        return {"x": torch.randn(2, 4, 2, size, size, generator=g)}
    return {"x": torch.randn(2, 6, size, size, generator=g)}


def _model(name: str, head: str):
    torch.manual_seed(0)
    spec = get_spec(name)
    predictors, months = (2, 1) if spec.inputs == "sequence" else (3, 2)
    small = {"base_filters": 8} if name not in ("vgg16_scratch", "vgg16_unet", "dcae") else {}
    return build_model(name, predictors, months, head=head, size=32, **small)


def test_every_model_is_registered_with_a_known_method():
    methods = {m for s in REGISTRY.values() for m in s.methods}
    assert {"fusion", "reconstruction", "hybrid", "downscaling", "wells"} == methods


def test_point_regressions_and_coarse_fine_networks_refuse_to_be_built_from_images():
    with pytest.raises(ValueError, match="point regression of the downscaling/wells family"):
        build_model("gnnwr", 3, 1)
    with pytest.raises(ValueError, match="coarse-to-fine network of the downscaling family"):
        build_model("pi_convlstm_unet", 3, 1)


# vgg16 needs ImageNet weights: test_models_train checks it with a fake weights file
@pytest.mark.parametrize(("name", "head"), [c for c in CASES if c[0] != "vgg16"])
def test_shapes_and_gradient_reach_every_parameter(name, head):
    model = _model(name, head)
    out = model(_batch(name))
    assert set(out) == {"y_hat"} | ({"variance"} if head == "gaussian" else set())
    for v in out.values():
        assert v.shape == (2, 32, 32)
    if head == "gaussian":
        assert bool((out["variance"] > 0).all())
    if get_spec(name).output == "tanh":
        assert float(out["y_hat"].detach().abs().max()) <= 1.0
    sum(v.pow(2).mean() for v in out.values()).backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient reaches {pname}"
            assert torch.isfinite(p.grad).all(), pname
            assert float(p.grad.abs().sum()) > 0, f"{name}: zero gradient at {pname}"


def test_the_factory_checks_capabilities():
    with pytest.raises(ValueError, match="no gaussian head"):
        build_model("seunet", 3, 2, head="gaussian")
    with pytest.raises(ValueError, match="divisible by 8"):
        build_model("segnet_pool", 3, 2, size=36)
    with pytest.raises(ValueError, match="divisible by 16"):
        build_model("unet", 3, 2, depth=4, size=40)
    with pytest.raises(ValueError, match="needs the image size"):
        build_model("dcae", 3, 2)
    with pytest.raises(ValueError, match="choose one of segnet_lite"):
        build_model("segnet", 3, 2)


def _toy(n=24, size=16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, size, size, generator=g)
    y = 0.7 * x[:, 0] - 0.3 * x[:, 1]
    y[:, 0, 0] = float("nan")
    return ArrayDataset(x=x.numpy(), y=y.numpy())


CFG = TrainConfig(epochs=4, lr=3e-3, batch_size=6, patience=50, mc_samples=0)


def test_a_gaussian_head_trains_on_its_likelihood():
    """The NLL over dicts uses both outputs; the variance learns the residual spread."""
    torch.manual_seed(0)
    model = build_model("segnet_lite", 2, 1, head="gaussian", base_filters=4)
    res = fit(model, _toy(), np.arange(18), np.arange(18, 24), GaussianNLL(), CFG, progress=False)
    assert res.best_loss < res.history[0]["val_loss"] or res.best_epoch == 0
    assert set(res.history[-1]["parts"]) == {"nll"}


def test_extra_terms_plug_into_the_loop_and_are_logged():
    def run(terms):
        torch.manual_seed(0)
        model = build_model("segnet_lite", 2, 1, base_filters=4)
        res = fit(model, _toy(), np.arange(18), np.arange(18, 24), MaskedMSE(), CFG,
                  terms=terms, progress=False)  # fmt: skip
        return model, res

    plain, _ = run([])
    smooth, res = run([TotalVariation(weight=5.0)])
    assert set(res.history[0]["parts"]) == {"mse", "total_variation"}
    assert res.history[0]["train_loss"] > res.history[0]["parts"]["mse"]  # the term counts
    assert not torch.allclose(plain.net.head.weight, smooth.net.head.weight)


def test_an_adversarial_run_resumes_exactly(tmp_path):
    """The discriminator and its optimiser travel in the checkpoint: a crash after two
    epochs and a resume give the same generator as a run straight through."""

    def run(folder, stop_after=None):
        torch.manual_seed(0)
        model = build_model("pix2pix", 2, 1, base_filters=4, depth=2)
        term = AdversarialTerm(PatchGAN(2, filters=4))
        res = fit(model, _toy(), np.arange(18), np.arange(18, 24), MaskedL1(100.0), CFG,
                  folder, terms=[term], progress=False, stop_after=stop_after)  # fmt: skip
        return model, res

    straight, _ = run(tmp_path / "a")
    run(tmp_path / "b", stop_after=2)
    resumed, res = run(tmp_path / "b")
    assert res.resumed_from == 1
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_memory_mapped_samples_train_like_samples_in_memory(tmp_path):
    """The loop reads batches through the Dataset: arrays memory-mapped from disk (samples
    that need not fit in memory) give bit-identical weights to the same arrays in memory."""
    data = _toy()
    for key in ("x", "y"):
        np.save(tmp_path / f"{key}.npy", data.arrays[key])
    mapped = ArrayDataset(**{k: np.load(tmp_path / f"{k}.npy", mmap_mode="r") for k in "xy"})
    assert mapped.digest() == data.digest()  # one run: a checkpoint of one resumes the other

    def run(ds):
        torch.manual_seed(0)
        model = build_model("segnet_lite", 2, 1, base_filters=4)
        fit(model, ds, np.arange(18), np.arange(18, 24), MaskedMSE(), CFG, progress=False)
        return model

    a, b = run(data), run(mapped)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


class _TwoTargets(torch.nn.Module):
    """A linear model with two outputs (the batch-dict contract, several targets)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)

    def forward(self, batch):
        return {"a": self.a(batch["x"])[:, 0], "b": self.b(batch["x"])[:, 0]}


def _two_task_run(folder=None, stop_after=None, epochs=60):
    g = np.random.default_rng(0)
    x = g.normal(size=(200, 3)).astype(np.float32)
    ya = (x @ [1.0, -2.0, 0.5] + g.normal(0, 3.0, 200)).astype(np.float32)  # noisy task
    yb = (x @ [0.5, 1.0, -1.0] + g.normal(0, 0.3, 200)).astype(np.float32)  # clean task
    tasks = {k: (lambda o, b, k=k: ((o[k] - b[f"y{k}"]) ** 2).mean()) for k in "ab"}
    torch.manual_seed(0)
    model, loss = _TwoTargets(), TaskUncertaintyLoss(tasks, lr=0.05)
    cfg = TrainConfig(epochs=epochs, lr=0.05, batch_size=20, patience=500, mc_samples=0)
    res = fit(model, ArrayDataset(x=x, ya=ya, yb=yb), np.arange(160), np.arange(160, 200),
              loss, cfg, folder, progress=False, stop_after=stop_after)  # fmt: skip
    return model, loss, res


def test_task_uncertainty_weights_learn_each_tasks_noise():
    """Kendall et al. (2018): at the optimum exp(s_i) is the task's loss, so the clean task
    (noise σ 0.3) ends up weighed about (3 / 0.3)² = 100 times the noisy one (σ 3)."""
    _, loss, res = _two_task_run()
    w = loss.weights()
    assert 30 < w["b"] / w["a"] < 300
    assert {"a", "b", "weight_a", "weight_b"} <= set(res.history[-1]["parts"])
    assert np.exp(float(loss.log_vars.detach()[0])) == pytest.approx(9.0, rel=0.35)  # σ_a² ≈ 9


def test_learned_task_weights_resume_exactly(tmp_path):
    model, loss, _ = _two_task_run(tmp_path / "a", epochs=6)
    _two_task_run(tmp_path / "b", stop_after=2, epochs=6)
    model2, loss2, res = _two_task_run(tmp_path / "b", epochs=6)
    assert res.resumed_from == 1
    assert torch.equal(loss.log_vars, loss2.log_vars)
    assert torch.equal(model.a.weight, model2.a.weight)
