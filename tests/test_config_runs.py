"""Every built-in twin recipe runs end to end, shrunk (neuralhydrology's test_config_runs):
a small twin, one epoch, narrow networks. Checks the run folder the runner writes for every
family, and that recipes refuse what belongs to another family."""

import json
import tomllib

import pandas as pd
import pytest

from gracefuse.cli import main
from gracefuse.errors import ConfigError
from gracefuse.evaluate.table import METRIC_COLUMNS
from gracefuse.methods import METHODS
from gracefuse.recipes import builtin_recipes, load_recipe, parse_recipe
from gracefuse.runner import run_recipe

TWIN_RECIPES = [
    name for name, path in sorted(builtin_recipes().items())
    if tomllib.loads(path.read_text())["data"]["kind"] in ("twin", "hybrid_twin",
                                                           "groundwater_twin", "downscaling_twin")
]  # fmt: skip


def shrunk(name: str):
    """The recipe on a small twin (32×32 from 1996; 16×16 from 2000 for reconstruction) with one epoch per model and narrow networks."""
    raw = load_recipe(name).model_dump(mode="json")
    if raw["method"] == "groundwater":
        raw["data"] |= {"size": 8}
        return parse_recipe(raw, name)
    if raw["method"] == "downscaling":
        raw["data"] |= {"size": 6, "factor": 2, "start": "2010-01", "end": "2014-12"}
        raw["downscaling"] |= {"hidden": [8, 4], "forest_trees": 10, "memory": 2,
                               "shap_samples": 2, "shap_coalitions": 16}  # fmt: skip
        for m in raw["models"]:
            m |= {"base_filters": 4}
        raw["train"] |= {"epochs": 1}
        return parse_recipe(raw, name)
    if raw["method"] == "hybrid":
        raw["data"] |= {"size": 8}
        raw["hybrid"] |= {"hidden": 8, "branch_width": 4, "spinup_years": 1, "spatial_folds": 2,
                          "block_deg": 12.0, "buffer_deg": 4.0}  # fmt: skip
    else:
        raw["data"] |= {"size": 32, "start": "1996-01"}
    if raw["method"] == "reconstruction":
        raw["data"] |= {"size": 16, "start": "2000-01"}
        raw["reconstruction"] |= {"sequence": 6}
    raw["train"] |= {"epochs": 1, "mc_samples": 0}
    for m in raw["models"]:
        m |= {"epochs": 1, "ensemble": 1}
        if m["name"] not in (
            "vgg16",
            "vgg16_scratch",
            "vgg16_unet",
            "dcae",
            "hybrid",
            "lstm",
            "conceptual",
        ):
            m["base_filters"] = 8
    return parse_recipe(raw, name)


#: families whose data are real tables only (run end to end on a small table in their tests)
REAL_ONLY = {"wells"}


def test_there_is_a_twin_recipe_for_every_method():
    methods = {load_recipe(n).method for n in TWIN_RECIPES}
    assert methods == set(METHODS) - REAL_ONLY


@pytest.mark.parametrize("name", TWIN_RECIPES)
def test_every_builtin_twin_recipe_runs_end_to_end(name, tmp_path):
    recipe = shrunk(name)
    out = tmp_path / name
    run_recipe(recipe, out, progress=False)
    for f in ("config.toml", "run.log", "run_info.json", "metrics.csv", "comparison.csv",
              "report.html", *METHODS[recipe.method].products):  # fmt: skip
        assert (out / f).is_file(), f
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    assert list(metrics.columns) == METRIC_COLUMNS
    scored = metrics[metrics.scale != "model"]
    variables = {
        "hybrid": {"twsa", "et", "q", "swe", "gw", "cwd"},
        "groundwater": {"gwsa", "gwsa_uncertainty", "precipitation", "soil_moisture", "snowmelt"},
        "downscaling": {"gwsa"},
    }.get(recipe.method, {"twsa"})
    assert set(scored.variable) - {"frac_fast", "frac_soil", "frac_gw", "frac_et_soil"} <= variables
    assert set(scored.variable) >= variables - {"gwsa_uncertainty"}
    assert len(scored) > 20
    info = json.loads((out / "run_info.json").read_text())
    assert info["method"] == recipe.method and info["recipe"] == recipe.name
    machine = info["machine"]  # what can make two machines of one kind differ
    assert machine["torch_threads"] >= 1 and machine["cpu_model"]
    assert set(machine["torch_build"]) == {"onednn", "mkl", "cpu_capability"}
    assert load_recipe(out / "config.toml") == recipe  # the resolved recipe reloads as run
    assert not list(out.rglob(".*.part"))


@pytest.mark.parametrize(
    ("method", "section", "stray"),
    [
        ("fusion", "reconstruction", "reconstruction"),
        ("reconstruction", "samples", "samples"),
        ("fusion", "hybrid", "hybrid"),
        ("hybrid", "samples", "samples"),
    ],
)
def test_a_section_of_another_family_is_refused_by_name(method, section, stray):
    raw = {"method": method, "models": [{"name": "seunet" if method != "fusion" else "unet"}]}
    raw[section] = {}
    with pytest.raises(ConfigError, match=rf"{stray}: a section of \w+ recipes, not of {method}"):
        parse_recipe(raw, "recipe")


def test_a_model_or_method_of_another_family_is_refused():
    with pytest.raises(ConfigError, match="'convlstm' is a reconstruction model"):
        parse_recipe({"method": "fusion", "models": [{"name": "convlstm"}]}, "recipe")
    with pytest.raises(ConfigError, match="method: 'bogus' is not a method"):
        parse_recipe({"method": "bogus", "models": [{"name": "unet"}]}, "recipe")
    with pytest.raises(ConfigError, match="'unet' is a fusion model, not a hybrid one"):
        parse_recipe({"method": "hybrid", "data": {"kind": "hybrid_twin"},
                      "models": [{"name": "unet"}]}, "recipe")  # fmt: skip
    with pytest.raises(ConfigError, match="data: .*'grace_only'.*'twin', 'files'"):
        parse_recipe({"data": {"kind": "grace_only", "grace": "g.nc"},
                      "models": [{"name": "unet"}]}, "recipe")  # fmt: skip


def test_the_shared_data_folder_is_found_or_named(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GRACEFUSE_SHARED_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no shared/data beside it or above it
    assert main(["fill", "yu2021_india_grace_only", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--data DIR" in err and "GRACEFUSE_SHARED_DATA" in err and "$" not in err.split(":")[0]
    data = tmp_path / "mine"
    with pytest.raises(ConfigError, match="--data .*mine: not a folder"):
        load_recipe("yu2021_india_grace_only", data_dir=data)
    data.mkdir()
    recipe = load_recipe("yu2021_india_grace_only", data_dir=data)
    assert recipe.data.grace.startswith(str(data))
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shared")  # found in a parent: ../shared/data
    found = load_recipe("yu2021_india_grace_only")
    assert found.data.grace.startswith(str(tmp_path / "shared" / "data"))


def test_methods_lists_every_family_and_its_recipes(capsys):
    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    for name in (*METHODS, "sun2019_twin", "yu2021_twin"):
        assert name in text
