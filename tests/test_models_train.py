import numpy as np
import pytest
import torch

from gracefuse.config import TrainConfig
from gracefuse.datasets import ArrayDataset
from gracefuse.models import build_model, count_parameters
from gracefuse.models.vgg import vgg16_features
from gracefuse.training import MismatchLoss, choose_device, fit, predict
from gracefuse.training.losses import mismatch_loss


def test_parameter_counts_match_the_paper_scale():
    assert 0.5e6 < count_parameters(build_model("segnet_lite", 3, 3)) < 0.9e6
    assert 0.5e6 < count_parameters(build_model("segnet_pool", 3, 3)) < 0.9e6
    unet = build_model("unet", 3, 3)
    assert count_parameters(unet) > 10e6  # 32 → 512 filters, 5 down / 5 up


def test_paper_forms_are_as_published():
    """segnet_lite never pools; unet upsamples without parameters; ours keep their names."""
    lite = build_model("segnet_lite", 3, 3)
    x = torch.randn(1, 9, 12, 20)  # any size: no pooling, nothing to divide
    assert lite({"x": x})["y_hat"].shape == (1, 12, 20)
    pooled = build_model("segnet_pool", 3, 3)
    with pytest.raises(RuntimeError):
        pooled({"x": x})  # 12 × 20 does not divide by 8
    unet = build_model("unet", 3, 3, base_filters=8, depth=3)
    kinds = {type(m).__name__ for m in unet.modules()}
    assert "Upsample" in kinds and "ConvTranspose2d" not in kinds and "BatchNorm2d" not in kinds
    seunet = build_model("seunet", 3, 3, base_filters=8, depth=3)
    assert "ConvTranspose2d" in {type(m).__name__ for m in seunet.modules()}


def _fake_imagenet(tmp_path):
    feats = vgg16_features()
    torch.manual_seed(1)
    state = {f"features.{k}": v.normal_() for k, v in feats.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(state, path)
    return path, state


def test_vgg16_is_the_papers_frozen_encoder_with_a_dense_head(tmp_path):
    path, state = _fake_imagenet(tmp_path)
    model = build_model("vgg16", 3, 3, pretrained=str(path), size=64).net
    assert model.pretrained
    assert torch.equal(model.features[0].weight, state["features.0.weight"])
    assert not any(p.requires_grad for p in model.features.parameters())
    assert model.dense.in_features == 512 * 2 * 2 and model.dense.out_features == 64 * 64
    trainable = count_parameters(model, trainable_only=True)
    assert trainable == count_parameters(model) - count_parameters(model.features)
    # ImageNet input normalisation: an all-equal Stage I output becomes ImageNet's stats
    z = model.imagenet(torch.zeros(1, 3, 2, 2))
    np.testing.assert_allclose(z[0, :, 0, 0], (0.5 - np.array([0.485, 0.456, 0.406]))
                               / np.array([0.229, 0.224, 0.225]), rtol=1e-5)  # fmt: skip
    assert model(torch.randn(2, 9, 64, 64)).shape == (2, 1, 64, 64)


def test_vgg16_needs_local_weights_and_scratch_trains_everything(tmp_path):
    from gracefuse.models import resolve_name

    absent = str(tmp_path / "absent.pth")
    with pytest.raises(FileNotFoundError, match="vgg16_scratch"):
        build_model("vgg16", 3, 3, pretrained=absent, size=32)
    assert resolve_name("vgg16", absent) == "vgg16_scratch"
    scratch = build_model("vgg16_scratch", 3, 3, size=32).net
    assert not scratch.pretrained
    assert all(p.requires_grad for p in scratch.parameters())
    path, state = _fake_imagenet(tmp_path)
    ours = build_model("vgg16_unet", 3, 3, pretrained=str(path)).net
    assert ours.pretrained and not any(p.requires_grad for p in ours.features.parameters())


def test_loss_ignores_missing_cells_and_has_the_paper_form():
    target = torch.tensor([[[1.0, np.nan], [3.0, -1.0]]])
    cell_mean = torch.zeros(2, 2)
    perfect = torch.tensor([[[1.0, 99.0], [3.0, -1.0]]])
    assert float(mismatch_loss(perfect, target, cell_mean)) == pytest.approx(0.0)
    pred = torch.tensor([[[2.0, 0.0], [3.0, 1.0]]])
    mse = (1 + 0 + 4) / 3
    nse_l1 = (1 + 0 + 2) / (1 + 3 + 1)
    assert float(mismatch_loss(pred, target, cell_mean, 1.0)) == pytest.approx(mse)
    assert float(mismatch_loss(pred, target, cell_mean, 0.0)) == pytest.approx(nse_l1)
    assert float(mismatch_loss(pred, target, cell_mean, 0.5)) == pytest.approx((mse + nse_l1) / 2)


def _toy(n=40, size=16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=g)
    y = 0.8 * x[:, 0] - 0.5 * x[:, 2]
    y[:, 0, 0] = float("nan")
    return x, y


_loss = MismatchLoss(torch.zeros(16, 16), 0.5)


def _data(x, y):
    return ArrayDataset(x=x, y=y)


def _fresh(dropout: float = 0.1):
    """The same small model every time (a new process would build it so)."""
    torch.manual_seed(0)
    return build_model("segnet_pool", 1, 3, base_filters=8, dropout=dropout)


def test_training_converges_on_a_learnable_map():
    x, y = _toy()
    torch.manual_seed(0)
    model = build_model("segnet_pool", 1, 3, base_filters=8)
    cfg = TrainConfig(epochs=25, lr=3e-3, batch_size=8, patience=50, mc_samples=0)
    res = fit(model, _data(x, y), np.arange(32), np.arange(32, 40), _loss, cfg, progress=False)
    first, last = res.history[0]["val_loss"], res.best_loss
    assert last < 0.35 * first
    mean, sd = predict(model, ArrayDataset(x=x[:4]), mc_samples=0)
    assert mean.shape == (4, 16, 16) and sd is None


def _check_resume_is_exact(cfg: TrainConfig, dropout: float, tmp_path):
    """Train straight through, and again with a crash after 3 epochs plus a resume in a
    fresh model (weights only from the checkpoint): the weights must be identical."""
    x, y = _toy()
    train, val = np.arange(32), np.arange(32, 40)
    straight = _fresh(dropout)
    fit(straight, _data(x, y), train, val, _loss, cfg, tmp_path / "a", progress=False)
    part = fit(
        _fresh(dropout),
        _data(x, y),
        train,
        val,
        _loss,
        cfg,
        tmp_path / "b",
        progress=False,
        stop_after=3,
    )
    assert part.epochs_run == 3
    resumed = _fresh(dropout)
    res = fit(resumed, _data(x, y), train, val, _loss, cfg, tmp_path / "b", progress=False)
    assert res.resumed_from == 2 and res.epochs_run == cfg.epochs
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float()), k
    return straight


def test_interrupted_training_resumes_to_the_same_result(tmp_path):
    cfg = TrainConfig(epochs=6, lr=1e-3, batch_size=8, patience=50, mc_samples=0)
    _check_resume_is_exact(cfg, 0.2, tmp_path)


def test_device_choice_never_requires_a_gpu():
    assert choose_device("cpu").type == "cpu"
    dev = choose_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert choose_device("cuda").type in {"cuda", "cpu"}


def test_mc_dropout_spread():
    x, _ = _toy(8)
    torch.manual_seed(0)
    model = build_model("segnet_pool", 1, 3, base_filters=8, dropout=0.5)
    mean, sd = predict(model, ArrayDataset(x=x), mc_samples=5)
    assert sd.shape == mean.shape and float(sd.mean()) > 0


def test_ema_weights_are_checkpointed_and_resume_exactly(tmp_path):
    cfg = TrainConfig(epochs=5, lr=1e-3, batch_size=8, patience=50, mc_samples=0, ema_decay=0.8)
    with_ema = _check_resume_is_exact(cfg, 0.1, tmp_path)
    x, y = _toy()
    plain = _fresh()
    fit(
        plain,
        _data(x, y),
        np.arange(32),
        np.arange(32, 40),
        _loss,
        cfg.model_copy(update={"ema_decay": 0.0}),
        progress=False,
    )
    assert not torch.allclose(
        plain.net.head.weight, with_ema.net.head.weight
    )  # EMA changes the result


def test_a_checkpoint_of_other_data_is_never_resumed(tmp_path, caplog):
    """Same architecture and settings, different samples (another twin seed, box or file):
    the fingerprint differs, so training starts fresh and says so."""
    cfg = TrainConfig(epochs=3, lr=1e-3, batch_size=8, patience=50, mc_samples=0)
    x, y = _toy()
    train, val = np.arange(32), np.arange(32, 40)
    fit(_fresh(), _data(x, y), train, val, _loss, cfg, tmp_path, progress=False)
    again = fit(_fresh(), _data(x, y), train, val, _loss, cfg, tmp_path, progress=False)
    assert again.resumed_from == 2  # the same run resumes (and has nothing left to do)
    x2 = x.clone()
    x2[0, 0, 0, 0] += 1e-3  # one value of one sample differs
    with caplog.at_level("WARNING", logger="gracefuse"):
        other = fit(_fresh(), _data(x2, y), train, val, _loss, cfg, tmp_path, progress=False)
    assert other.resumed_from is None and other.epochs_run == cfg.epochs
    assert "starting fresh" in caplog.text
    moved = fit(_fresh(), _data(x, y), train[:-1], val, _loss, cfg, tmp_path, progress=False)
    assert moved.resumed_from is None  # another split is another run too


def test_a_planted_pickle_never_runs(tmp_path, caplog):
    """``last.pt`` is loaded with weights_only=True: a pickle that would run a command is
    refused, reported, and training starts fresh."""
    import os
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ckpt = tmp_path / "run"
    ckpt.mkdir()
    (ckpt / "last.pt").write_bytes(pickle.dumps({"fingerprint": Payload()}))
    cfg = TrainConfig(epochs=2, lr=1e-3, batch_size=8, patience=50, mc_samples=0)
    x, y = _toy()

    def run():
        return fit(_fresh(), _data(x, y), np.arange(32), np.arange(32, 40), _loss, cfg, ckpt,
                   progress=False)  # fmt: skip

    with caplog.at_level("WARNING", logger="gracefuse"):
        res = run()
    assert not marker.exists()
    assert res.resumed_from is None and res.epochs_run == 2
    assert "cannot be loaded safely" in caplog.text
    for bad in (b"", b"not a checkpoint at all"):
        (ckpt / "last.pt").write_bytes(bad)
        assert run().resumed_from is None


def test_model_epochs_zero_is_refused_not_replaced():
    from pydantic import ValidationError

    from gracefuse.config import ModelConfig

    for bad in ({"epochs": 0}, {"epochs": -5}):
        with pytest.raises(ValidationError):
            ModelConfig(name="unet", **bad)
    x, y = _toy(8)
    with pytest.raises(ValueError, match="at least 1"):
        fit(_fresh(), _data(x, y), np.arange(4), np.arange(4, 8), _loss, TrainConfig(), epochs=0)
