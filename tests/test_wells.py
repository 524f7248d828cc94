"""The wells family: the reader's fixes and errors, folds over wells, proximity that never
includes the well itself, no leakage from held-out wells, and a run end to end (on a small
table written here; on the real Illinois table where ../shared/data has it)."""

import numpy as np
import pandas as pd
import pytest

from gracefuse.data.wells import COVARIATES, locate_wells, read_well_table
from gracefuse.errors import InputError
from gracefuse.methods.wells.fit import fit_fold, space_proximity
from gracefuse.methods.wells.problem import load_wells_problem, well_folds
from gracefuse.recipes import find_shared_data, parse_recipe
from gracefuse.runner import run_recipe

ILLINOIS = "illinois_wells_grace_dgwl/dgwlData.csv"


def small_table(path, n_wells=8, years=(2005, 2008), seed=0):
    """A well table shaped like Illinois': depth responds to GRACE and rain, with quirks."""
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(n_wells):
        lat, lon, base = 38 + rng.uniform(0, 3), -90 + rng.uniform(0, 2), rng.uniform(1, 6)
        for year in range(years[0], years[1] + 1):
            for month in range(1, 13):
                t = (year - years[0]) * 12 + month
                tws = 80 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 10)
                row = {
                    "Month": month,
                    "Year": year,
                    "wellme": f"W{w}",
                    "Lat": lat,
                    "Long": lon,
                    "GRACE_TWSA": tws,
                    "DGWL_m": base - 0.01 * tws + rng.normal(0, 0.1),
                }
                row |= {c: rng.normal(10, 2) for c in COVARIATES if c not in row}
                row["Conductivity"] = np.nan if w == 0 else 20 + w
                row["Thickness"] = 50 + 5 * w
                rows.append(row)
    df = pd.DataFrame(rows)
    df.loc[3, "LST"] = -171.0
    df.loc[df.index % 7 == 0, "DGWL_m"] = np.nan
    df.to_csv(path, index=False)
    return path


def recipe_for(path, **wells):
    raw = {"name": "wells_small", "method": "wells", "folds_seed": 1,
           "data": {"kind": "well_table", "file": str(path)},
           "wells": {"folds": 4, "published_test_wells": 3, "forest_trees": 20,
                     "hidden": [8], "k_space": 3, **wells},
           "train": {"epochs": 3, "batch_size": 64},
           "models": [{"name": "gnnwr"}, {"name": "gtnnwr"}]}  # fmt: skip
    return parse_recipe(raw, "wells_small")


def test_the_reader_fixes_the_known_quirks(tmp_path):
    df, notes = read_well_table(small_table(tmp_path / "w.csv"))
    assert df["LST"].min() > -60 and not df["Conductivity"].isna().any()
    assert any("LST" in n for n in notes) and any("Conductivity" in n for n in notes)
    assert df["dgwl"].isna().any()  # unmeasured months stay NaN: never fitted or scored
    w0 = df[df.well == "W0"].Conductivity.iloc[0]
    assert w0 in set(df[df.well != "W0"].Conductivity)  # from its nearest well


@pytest.mark.parametrize(
    ("change", "message"),
    [(lambda d: d.drop(columns="GRACE_TWSA"), "columns missing: GRACE_TWSA"),
     (lambda d: d.assign(TRMM=np.nan), "variable 'TRMM': no value at all"),
     (lambda d: pd.concat([d, d.iloc[:1]]), "two rows for"),
     (lambda d: d.assign(Month=13), "months outside")],
)  # fmt: skip
def test_bad_tables_are_named(tmp_path, change, message):
    path = small_table(tmp_path / "w.csv")
    change(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(InputError, match=message) as err:
        read_well_table(path)
    assert "w.csv" in str(err.value)


def test_wells_outside_the_grid_are_named():
    lat, lon = np.arange(36.25, 40, 0.5), np.arange(-91.75, -88, 0.5)
    i, j = locate_wells([37.1, 38.9], [-90.2, -88.4], ["A", "B"], lat, lon, "wells.csv")
    assert lat[i].tolist() == [37.25, 38.75] and lon[j].tolist() == [-90.25, -88.25]
    with pytest.raises(InputError, match="wells outside the grid.*: C") as err:
        locate_wells([37.1, 45.0], [-90.2, -89.0], ["A", "C"], lat, lon, "wells.csv")
    assert "wells.csv" in str(err.value)


def test_folds_hold_every_well_out_once_and_proximity_skips_the_well_itself(tmp_path):
    problem = load_wells_problem(recipe_for(small_table(tmp_path / "w.csv")))
    folds = well_folds(problem.wells, 3, seed=5)
    assert sorted(sum(folds, [])) == problem.wells
    anchors = problem.wells[:5]
    rows = np.arange(len(problem.well))
    idx, w = space_proximity(problem, rows, anchors, k=3)
    own = np.array([anchors.index(x) if x in anchors else -1 for x in problem.well])
    assert not (idx == own[:, None]).any() and np.allclose(w.sum(1), 1)


def test_held_out_wells_do_not_leak_into_their_predictions(tmp_path):
    recipe = recipe_for(small_table(tmp_path / "w.csv"))
    problem = load_wells_problem(recipe)
    test = ["W2", "W5"]
    a = fit_fold(problem, recipe, test, "dgwl", tmp_path / "a", False, 0)
    held = np.isin(problem.well, test)
    problem.targets = {k: np.where(held, v + 100.0, v) for k, v in problem.targets.items()}
    b = fit_fold(problem, recipe, test, "dgwl", tmp_path / "b", False, 0)
    for m in a:
        np.testing.assert_allclose(a[m], b[m], rtol=1e-6)
        assert np.isfinite(a[m][np.isin(problem.well, test)]).all()


def test_a_wells_run_writes_the_contract(tmp_path):
    recipe = recipe_for(small_table(tmp_path / "w.csv"))
    run_recipe(recipe, tmp_path / "run", progress=False)
    m = pd.read_csv(tmp_path / "run" / "metrics.csv")
    t = m[m.split == "test_wells"].set_index(["model", "variable", "scale", "metric"]).value
    for model in ("grace", "random_forest", "gnnwr", "gtnnwr"):
        assert np.isfinite(t[(model, "dgwl", "pooled", "r")])
        assert np.isfinite(t[(model, "dgwl", "pooled", "nse")])
        assert np.isfinite(t[(model, "dgwl_anomaly", "well_median", "r")])
    assert t[("grace", "dgwl_anomaly", "well_median", "r")] > 0.8  # depth follows GRACE here
    assert (m.split == "test_wells_published").any()
    for f in ("predictions.nc", "report.html", "well_r.png"):
        assert (tmp_path / "run" / f).is_file()


def test_the_illinois_table_reads_with_its_quirks_fixed():
    shared, _ = find_shared_data(None)
    if shared is None or not (shared / ILLINOIS).is_file():
        pytest.skip("../shared/data/illinois_wells_grace_dgwl is absent")
    df, notes = read_well_table(shared / ILLINOIS)
    assert df.well.nunique() == 32 and int(df.dgwl.isna().sum()) == 752
    assert df.LST.min() > -60 and not df.Conductivity.isna().any()
    assert any("LST" in n for n in notes)
