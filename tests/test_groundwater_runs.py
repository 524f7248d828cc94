"""The groundwater family end to end: every built-in groundwater recipe (the twin shrunk,
the real ones on ../shared/data when present), the contract files and metric labels, the
known answers (NASA's California groundwater, the north-west India hotspot, the twin's
true groundwater beating TWSA taken as GWSA) and the clear errors on bad input."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gracefuse.errors import ConfigError, InputError
from gracefuse.methods.groundwater.analyse import run_tch
from gracefuse.methods.groundwater.config import GridComponent, GridFilesSource
from gracefuse.methods.groundwater.inputs import GroundwaterInputs, load_grids
from gracefuse.recipes import load_recipe, parse_recipe
from gracefuse.runner import run_recipe

SHARED = os.environ.get("GRACEFUSE_SHARED_DATA", os.path.join(os.path.dirname(__file__),
                        "..", "..", "shared", "data"))  # fmt: skip
needs_data = pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/data absent")


def _metric(folder, model, scale, metric, variable=None) -> float:
    t = pd.read_csv(folder / "metrics.csv")
    sel = (t.model == model) & (t.scale == scale) & (t.metric == metric)
    if variable is not None:
        sel &= t.variable == variable
    assert sel.sum() == 1, (model, scale, metric)
    return float(t[sel].value.iloc[0])


def _run(name: str, tmp_path, **changes):
    raw = load_recipe(name, data_dir=SHARED).model_dump(mode="json")
    for section, values in changes.items():
        raw[section] |= values
    recipe = parse_recipe(raw, name)
    run_recipe(recipe, tmp_path, progress=False)
    return tmp_path


def test_twin_separation_beats_twsa_and_writes_the_contract(tmp_path):
    out = _run("groundwater_twin", tmp_path, data={"size": 12})
    gw = xr.open_dataset(out / "gwsa.nc")
    assert {"gwsa", "gwsa_uncertainty", "sm", "sm_uncertainty", "swe", "canopy"} <= set(gw)
    assert gw["gwsa"].dims == ("time", "lat", "lon") and gw["gwsa"].attrs["units"] == "mm"
    assert float(gw["gwsa_uncertainty"].min()) > 0
    tr = xr.open_dataset(out / "trends.nc")
    assert {"slope", "slope_lower", "slope_upper", "p_value"} <= set(tr)
    ok = np.isfinite(tr.slope.values)
    assert ok.sum() > 20
    assert (tr.slope_lower.values[ok] <= tr.slope.values[ok]).all()
    assert (tr.slope.values[ok] <= tr.slope_upper.values[ok]).all()
    for scale in ("region", "grid_median"):
        for metric in ("r", "rmse", "coverage95"):
            _metric(out, "separation", scale, metric, "gwsa")
    # taking the LSM stores off brings GRACE closer to the true groundwater
    assert _metric(out, "separation", "region", "r") > _metric(out, "twsa_only", "region", "r")
    assert _metric(out, "separation", "grid_median", "rmse") < _metric(
        out, "twsa_only", "grid_median", "rmse")  # fmt: skip
    assert 0.8 <= _metric(out, "separation", "grid_median", "coverage95") <= 1.0
    assert (out / "report.html").stat().st_size > 10_000
    t = pd.read_csv(out / "metrics.csv")
    assert {"precipitation", "soil_moisture", "snowmelt"} <= set(t[t.model == "drivers"].variable)


@needs_data
def test_california_recipe_reproduces_nasa(tmp_path):
    out = _run("groundwater_california", tmp_path)
    assert _metric(out, "separation", "region", "r", "gwsa") >= 0.999
    assert _metric(out, "separation", "region", "rmse", "gwsa") <= 0.5
    assert _metric(out, "separation", "region", "max_rel_diff", "gwsa_uncertainty") <= 0.02
    lo = _metric(out, "trend", "region", "slope_lower")
    hi = _metric(out, "trend", "region", "slope_upper")
    assert lo < _metric(out, "trend", "region", "slope") < hi < 0  # depletion, significant
    assert xr.open_dataset(out / "gwsa.nc")["gwsa"].dims == ("time",)


@needs_data
def test_basin_tch_recipe_names_products_and_beats_each(tmp_path):
    out = _run("groundwater_basins_tch", tmp_path, data={"max_basins": 25})
    tch = xr.open_dataset(out / "tch.nc")
    assert tch["noise_std"].dims == ("product", "basin")
    assert list(tch["product"].values) == ["JPL_mascons", "CSR_mascons", "ITSG_grid", "combined"]
    assert float(tch["noise_std"].min()) >= 0
    assert _metric(out, "combined", "locations", "share_below_every_product") > 0.5
    assert np.isfinite(_metric(out, "JPL_mascons", "locations", "spearman_own_uncertainty"))
    assert not os.path.exists(out / "gwsa.nc")  # no stores given: nothing separated


@needs_data
def test_india_recipe_finds_the_north_west_depletion(tmp_path):
    out = _run("groundwater_india_trends", tmp_path)
    assert _metric(out, "trend", "nw_india", "hotspot_found") == 1
    assert _metric(out, "trend", "nw_india", "p_value") < 0.05
    assert _metric(out, "trend", "nw_india", "slope_upper") < 0
    assert _metric(out, "trend", "nw_india", "hotspot_share") > 0.3
    hot = xr.open_dataset(out / "trends.nc")["hotspot"]
    assert hot.dims == ("lat", "lon") and int(hot.sum()) > 0


def test_fewer_than_three_products_is_a_clear_error():
    raw = {"method": "groundwater", "data": {"kind": "basin_products", "folder": "x",
                                             "products": ["a.csv", "b.csv"]}}  # fmt: skip
    with pytest.raises(ConfigError, match="products: .*at least 3"):
        parse_recipe(raw, "r")
    products = xr.DataArray(np.zeros((2, 30, 1)), dims=("product", "time", "basin"))
    with pytest.raises(InputError, match="at least three products|≥ 3 products"):
        run_tch(GroundwaterInputs(source="t", space="basin", products=products))


def _grid_file(path, step, units="mm", name="v", values=None):
    lat = np.arange(10 + step / 2, 20, step)
    lon = np.arange(70 + step / 2, 80, step)
    time = pd.date_range("2004-01-01", periods=24, freq="MS")
    rng = np.random.default_rng(int(step * 10))
    data = values if values is not None else rng.normal(0, 10, (24, len(lat), len(lon)))
    ds = xr.Dataset({name: (("time", "lat", "lon"), data, {"units": units})},
                    coords={"time": time, "lat": lat, "lon": lon})  # fmt: skip
    ds.to_netcdf(path)
    return ds


def test_a_component_on_another_grid_is_regridded_conservatively_and_logged(tmp_path, caplog):
    _grid_file(tmp_path / "tws.nc", 0.5, units="cm", name="lwe_thickness")
    coarse = _grid_file(tmp_path / "sm.nc", 1.0, units="kg m-2", name="SoilMoi")
    src = GridFilesSource(twsa=str(tmp_path / "tws.nc"),
                          components={"sm": GridComponent(file=str(tmp_path / "sm.nc"),
                                                          variable="SoilMoi")})  # fmt: skip
    with caplog.at_level(logging.INFO, logger="gracefuse"):
        inputs = load_grids(src)
    assert "regridded conservatively" in caplog.text
    sm = inputs.components["sm"]
    assert sm.sizes["lat"] == 20 and sm.sizes["lon"] == 20
    # conservative: the area-weighted mean over the box is kept (kg m-2 = mm)
    w_c = np.cos(np.radians(coarse.lat))
    w_f = np.cos(np.radians(sm.lat))
    before = coarse.SoilMoi.weighted(w_c).mean(("lat", "lon"))
    after = sm.weighted(w_f).mean(("lat", "lon"))
    np.testing.assert_allclose(after.values, before.values, rtol=1e-6)


def test_a_component_in_unknown_units_names_its_file_and_variable(tmp_path):
    _grid_file(tmp_path / "tws.nc", 0.5, units="cm", name="lwe_thickness")
    _grid_file(tmp_path / "sm.nc", 0.5, units="furlong", name="SoilMoi")
    src = GridFilesSource(twsa=str(tmp_path / "tws.nc"),
                          components={"sm": GridComponent(file=str(tmp_path / "sm.nc"),
                                                          variable="SoilMoi")})  # fmt: skip
    with pytest.raises(InputError, match=r"sm\.nc.*SoilMoi.*furlong"):
        load_grids(src)


def test_a_missing_product_table_stops_the_cli_before_any_folder(tmp_path, capsys):
    from gracefuse.cli import main

    (tmp_path / "data" / "lehmannfa_basin_timeseries").mkdir(parents=True)
    out = tmp_path / "run"
    code = main(["run", "groundwater_basins_tch", "--out", str(out), "--data",
                 str(tmp_path / "data")])  # fmt: skip
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "TWS_GRACE_JPL_mascons_monthly.csv" in err and "table not found" in err
    assert "Traceback" not in err
