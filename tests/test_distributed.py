"""Training on two CPU processes (DDP with gloo, started by torchrun) takes the same steps as
one process: the loss curves agree to 1e-4 relative, and ``gracefuse run --nproc 2``
writes one run folder whose scores are those of the one-process run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gracefuse.cli import main
from gracefuse.config import dump_recipe
from gracefuse.recipes import parse_recipe
from gracefuse.training.distributed import Ranks, share
from test_config_runs import shrunk

WORKER = Path(__file__).with_name("ddp_fit_worker.py")


def torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    """``torchrun --standalone`` with ``nproc`` processes of one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", *args]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def curve(tmp_path: Path, nproc: int) -> dict:
    out = tmp_path / f"n{nproc}"
    out.mkdir()
    done = torchrun(nproc, str(WORKER), str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "curve.json").read_text())


def test_shares_of_a_batch_cover_it_once_and_weigh_to_its_mean():
    batch = np.arange(11)
    parts = [share(batch, Ranks(r, 3)) for r in range(3)]
    assert np.array_equal(np.concatenate([p for p, _ in parts]), batch)
    # DDP averages the ranks' gradients: (1/world) Σ scale_r · mean_r is the batch mean
    values = np.random.default_rng(0).normal(size=11)
    ddp = sum(scale * values[p].mean() for p, scale in parts) / 3
    assert ddp == pytest.approx(values.mean(), rel=1e-12)


@pytest.mark.slow
def test_two_gloo_processes_follow_the_one_process_loss_curve(tmp_path):
    one, two = curve(tmp_path, 1), curve(tmp_path, 2)
    assert two["world"] == 2 and one["world"] == 1
    assert len(one["train_loss"]) == len(two["train_loss"]) == 4
    assert one["train_loss"][-1] < one["train_loss"][0]  # it learns
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-4)
    np.testing.assert_allclose(two["weights_norm"], one["weights_norm"], rtol=1e-4)
    # only rank 0 wrote checkpoints, and whole ones
    assert sorted(p.name for p in (tmp_path / "n2" / "checkpoints").iterdir()) == [
        "best.pt", "last.pt"
    ]  # fmt: skip


@pytest.mark.slow
def test_run_with_two_processes_writes_one_folder_with_the_one_process_scores(tmp_path):
    raw = shrunk("sun2019_twin").model_dump(mode="json")
    # the paper's U-Net (no batch norm), no dropout (another mask per rank), and the plain
    # MSE form of Sun et al.'s loss (its NSE-L1 part is a ratio of sums over each rank's share)
    raw["models"] = [m | {"dropout": 0.0} for m in raw["models"] if m["name"] == "unet"]
    raw["train"] |= {"loss_weight": 1.0}
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(dump_recipe(parse_recipe(raw, "tiny fusion")))
    assert main(["run", str(recipe), "--out", str(tmp_path / "one"), "--quiet"]) == 0
    assert main(["run", str(recipe), "--out", str(tmp_path / "two"), "--quiet",
                 "--nproc", "2"]) == 0  # fmt: skip
    info = json.loads((tmp_path / "two" / "run_info.json").read_text())
    assert info["reproducibility"]["processes"] == 2
    one = pd.read_csv(tmp_path / "one" / "metrics.csv")
    two = pd.read_csv(tmp_path / "two" / "metrics.csv")
    assert (two[["model", "split", "scale", "metric"]] == one[["model", "split", "scale",
                                                               "metric"]]).all().all()  # fmt: skip
    net = (one.model == "unet").to_numpy()
    assert net.any()
    np.testing.assert_allclose(two.value[net], one.value[net], rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(two.value[~net], one.value[~net])  # baselines: untouched
