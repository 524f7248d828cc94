"""Same recipe, same seed, same numbers; and the spread over seeds.

A shrunk recipe run twice gives a byte-identical ``metrics.csv`` (the second time inside a
multi-seed run, the first in a process whose threads and generators were moved); a
multi-seed run writes
per-seed and aggregated rows whose aggregates are those of the per-seed rows, makes its
choices on the seed-mean validation rows, resumes without retraining, and reports; the
``reproducible`` context restores every global it touches.
"""

import json
import random
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from gracefuse.cli import main
from gracefuse.config import TrainConfig
from gracefuse.evaluate.seeds import AGGREGATES, ranking, seed_summary, seed_table
from gracefuse.methods import get_method
from gracefuse.recipes import parse_recipe
from gracefuse.runner import run_recipe
from gracefuse.training.determinism import PORTABLE_THREADS, reproducible
from test_config_runs import shrunk


def tiny_fusion(seeds=()):
    """The demo's recipe shrunk further: one network, 32×32, one epoch."""
    raw = shrunk("sun2019_twin").model_dump(mode="json")
    raw["models"] = [m for m in raw["models"] if m["name"] == "segnet_lite"]
    raw["train"] |= {"seeds": list(seeds)}
    return parse_recipe(raw, "tiny fusion")


def test_portable_kernels_pin_the_thread_count_and_turn_onednn_off():
    with reproducible(TrainConfig(kernels="portable")) as facts:
        assert torch.get_num_threads() == PORTABLE_THREADS and not torch.backends.mkldnn.enabled
    assert facts["torch_threads"] == PORTABLE_THREADS and facts["onednn"] is False
    with reproducible(TrainConfig(kernels="fast")) as facts:
        assert torch.backends.mkldnn.enabled
    assert facts["onednn"] is True


def test_reproducible_restores_every_global_it_touches():
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002
    random.seed(3)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    flags = (torch.are_deterministic_algorithms_enabled(), torch.backends.mkldnn.enabled,
             torch.get_num_threads())  # fmt: skip
    with reproducible(TrainConfig(seed=9, num_threads=1, kernels="portable")) as facts:
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.backends.mkldnn.enabled and torch.get_num_threads() == 1
        drawn = torch.rand(3), np.random.rand(3), random.random()  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002
    assert random.getstate() == before[2]
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.mkldnn.enabled,
            torch.get_num_threads()) == flags  # fmt: skip
    with reproducible(TrainConfig(seed=9, num_threads=1)):  # every stream from the seed
        again = torch.rand(3), np.random.rand(3), random.random()  # noqa: NPY002
    assert torch.equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1])
    assert drawn[2] == again[2] and facts["torch_threads"] == 1


def test_operations_without_a_deterministic_form_are_named_and_other_warnings_pass():
    with pytest.warns(UserWarning, match="unrelated"):
        with reproducible(TrainConfig()) as facts:
            warnings.warn("scatter_cuda does not have a deterministic implementation, but "
                          "you set 'torch.use_deterministic_algorithms(True, warn_only=True)'",
                          UserWarning, stacklevel=1)  # fmt: skip
            warnings.warn("unrelated", UserWarning, stacklevel=1)
    assert facts["nondeterministic_ops"] == ["scatter_cuda"]


def _table(values: dict[str, list[float]], split="test", metric="nse") -> dict:
    """Per-seed metrics tables of models with the given values per seed."""
    out = {}
    for s in range(len(next(iter(values.values())))):
        out[s] = pd.DataFrame([{"model": m, "variable": "twsa", "split": split,
                                "scale": "region", "metric": metric, "value": v[s]}
                               for m, v in values.items()])  # fmt: skip
    return out


def test_seed_aggregates_and_the_within_spread_flag_have_known_answers():
    table = seed_table(_table({"net": [0.80, 0.90, 0.85], "ridge": [0.86] * 3,
                               "climatology": [0.5] * 3}))  # fmt: skip
    agg = table[table.seed.isin(AGGREGATES) & (table.model == "net")].set_index("seed").value
    assert agg["mean"] == pytest.approx(0.85) and agg["sd"] == pytest.approx(0.05)
    assert (agg["min"], agg["max"]) == (0.80, 0.90)
    ranked = ranking(seed_summary(table), "test", "region", "nse")
    assert ranked.model.tolist() == ["ridge", "net", "climatology"]
    assert ranked.within_spread_of_best.tolist() == [True, True, False]
    assert ranked.n.tolist() == [3, 3, 3]
    lower = ranking(seed_summary(seed_table(_table({"a": [3.0, 4.0], "b": [1.0, 2.0]},
                                                   metric="rmse"))), "test", "region", "rmse")  # fmt: skip
    assert lower.model.tolist() == ["b", "a"] and lower.within_spread_of_best.tolist() == [
        True,
        False,
    ]
    with pytest.raises(ValueError, match="no direction"):
        ranking(seed_summary(table), "test", "region", "williams_p")


def test_the_fill_model_is_chosen_on_the_seed_mean_of_the_validation_block():
    recipe = shrunk("yu2021_twin")
    tables = _table({"seunet": [10.0, 30.0], "pix2pix": [19.0, 19.0], "lsm": [5.0, 5.0]},
                    split="validation_block", metric="rmse")  # fmt: skip
    for t in tables.values():
        t["scale"] = "grid_median"
    method = get_method("reconstruction")
    per_seed = [method.choices(recipe, t)["fill_model"] for t in tables.values()]
    mean = seed_table(tables).query("seed == 'mean'")
    assert per_seed == ["seunet", "pix2pix"]  # the seeds disagree; the lsm is no candidate
    assert method.choices(recipe, mean)["fill_model"] == "pix2pix"  # 19 < mean 20


def test_a_multi_seed_run_writes_per_seed_and_aggregated_rows_and_resumes(tmp_path):
    """Also: seed 1 run alone, in a process whose generators were moved, gives the
    multi-seed run's seed-1 metrics byte for byte (the same recipe twice)."""
    torch.manual_seed(123)
    np.random.seed(7)  # noqa: NPY002
    random.seed(5)
    alone = tiny_fusion().model_copy(update={"train": tiny_fusion().train.model_copy(
        update={"seed": 1})})  # fmt: skip
    run_recipe(alone, tmp_path / "alone", progress=False, figures=False)
    info = json.loads((tmp_path / "alone" / "run_info.json").read_text())["reproducibility"]
    assert info["kernels"] == "fast" and info["onednn"] is True
    assert info["deterministic_algorithms"] is True and info["torch_threads"] >= 1
    assert isinstance(info["nondeterministic_ops"], list)
    out = tmp_path / "seeds"
    result = run_recipe(tiny_fusion(seeds=[0, 1]), out, progress=False)
    assert (out / "seed1" / "metrics.csv").read_bytes() == (
        tmp_path / "alone" / "metrics.csv").read_bytes()  # fmt: skip
    table = pd.read_csv(out / "metrics.csv", keep_default_na=False,
                        na_values={"value": ["nan"]})  # fmt: skip
    assert list(table.columns[:2]) == ["seed", "model"]
    assert set(table.seed) == {"0", "1", *AGGREGATES}
    key = (table.model == "segnet_lite") & (table.split == "test") & (table.scale == "region")
    key &= table.metric == "nse"
    per_seed = table[key & table.seed.isin(["0", "1"])].value
    assert per_seed.nunique() == 2  # the seeds differ
    mean = table[key & (table.seed == "mean")].value.item()
    assert mean == pytest.approx(per_seed.mean(), rel=1e-5)
    info = json.loads((out / "run_info.json").read_text())
    assert info["seeds"] == [0, 1] and "selected_model" in info["choices_on_seed_mean"]
    for s in (0, 1):
        assert (out / f"seed{s}" / "predictions.nc").is_file()
    assert "within the seed spread" in (out / "report.html").read_text()
    assert "seed" in pd.read_csv(out / "comparison.csv").columns
    stamp = (out / "seed0" / "run_info.json").stat().st_mtime_ns
    again = run_recipe(tiny_fusion(seeds=[0, 1]), out, progress=False, figures=False)
    assert (out / "seed0" / "run_info.json").stat().st_mtime_ns == stamp  # read back
    assert again.choices == result.choices


def test_bad_seeds_on_the_command_line_are_a_clear_error(capsys, tmp_path):
    assert main(["run", "sun2019_twin", "--seeds", "0,x", "--out", str(tmp_path / "r")]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["run", "sun2019_twin", "--seeds", "1,1", "--out", str(tmp_path / "r")]) == 2
    assert "each seed at most once" in capsys.readouterr().err
    # a family that trains nothing: three seeds would be three identical runs
    assert main(["run", "groundwater_twin", "--seeds", "0,1", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "trains nothing" in err and "groundwater" in err
    assert not (tmp_path / "g").exists()
