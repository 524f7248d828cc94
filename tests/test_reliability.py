"""Every case of the reliability report (issue 9) gets a clear error or a correct result."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import jpl_like
from gracefuse.cli import main
from gracefuse.data.grace import open_grace
from gracefuse.data.lsm import open_era5_land, open_gldas
from gracefuse.data.tables import open_basin_table, open_wells
from gracefuse.errors import InputError
from gracefuse.recipes import load_recipe

EPOCHS = ["2004-01-16", "2004-02-15", "2004-03-16"]


def _grid(path, values=None, time_attrs=None, dims=("time", "lat", "lon"), lon=None, fmt=None):
    lat, lon = np.array([10.0, 12.0]), np.array([70.0, 72.0, 74.0]) if lon is None else lon
    shape = {"time": 3, "lat": len(lat), "lon": len(lon)}
    v = np.arange(np.prod([shape[d] for d in dims]), dtype=float).reshape([shape[d] for d in dims])
    v = v if values is None else values
    t_attrs = {"units": "days since 2004-01-01"} if time_attrs is None else time_attrs
    ds = xr.Dataset(
        {"twsa": (dims, v, {"units": "mm"})},
        coords={"time": ("time", [15.0, 45.0, 75.0], t_attrs), "lat": lat, "lon": lon},
    )
    ds.to_netcdf(path, format=fmt, encoding={"time": {"_FillValue": None}})
    return path


def test_time_without_units_is_refused_not_read_as_1970(tmp_path):
    p = _grid(tmp_path / "g.nc", time_attrs={})
    with pytest.raises(InputError, match=r"g\.nc.*time.*units"):
        open_grace(p)


def test_nan_time_is_reported_as_missing_not_as_order(tmp_path):
    p = tmp_path / "g.nc"
    _grid(p)
    ds = xr.open_dataset(p, decode_times=False)
    t = ds["time"].values.copy()
    t[1] = np.nan
    ds = ds.assign_coords(time=("time", t, ds["time"].attrs))
    ds.load().to_netcdf(tmp_path / "n.nc", encoding={"time": {"_FillValue": None}})
    with pytest.raises(InputError, match=r"n\.nc.*1 time value\(s\) are missing"):
        open_grace(tmp_path / "n.nc")


@pytest.mark.parametrize("bad", [1e30, np.inf, -np.inf, -9999.0, -99999.0, 5e5])
def test_fill_values_inf_and_implausible_values_are_refused(tmp_path, bad):
    v = np.ones((3, 2, 3))
    v[1, 0, 2] = bad
    p = _grid(tmp_path / "g.nc", values=v)
    with pytest.raises(InputError, match=r"g\.nc: variable 'twsa'.*time=2004-02, lat=10, lon=74"):
        open_grace(p)


def test_truncated_netcdf3_is_refused_not_read_as_zeros(tmp_path):
    p = _grid(tmp_path / "g.nc", fmt="NETCDF3_CLASSIC")
    assert float(open_grace(p)["twsa"].isel(time=-1).max()) > 0
    data = p.read_bytes()
    p.write_bytes(data[:-8])
    with pytest.raises(InputError, match="truncated"):
        open_grace(p)


def test_lon_0_and_360_repeat_is_dropped_when_equal_and_refused_when_not(tmp_path):
    lon = np.array([0.0, 180.0, 360.0])
    v = np.random.default_rng(0).normal(size=(3, 2, 3))
    v[..., 2] = v[..., 0]
    ds = open_grace(_grid(tmp_path / "a.nc", values=v, lon=lon))
    assert ds["lon"].values.tolist() == [-180.0, 0.0]
    np.testing.assert_allclose(ds["twsa"].sel(lon=0.0).values, v[..., 0])
    v[..., 2] += 1.0
    with pytest.raises(InputError, match="appears twice"):
        open_grace(_grid(tmp_path / "b.nc", values=v, lon=lon))


def test_all_nan_month_is_listed_as_missing(tmp_path):
    v = np.ones((3, 2, 3))
    v[1] = np.nan
    ds = open_grace(_grid(tmp_path / "g.nc", values=v))
    assert ds.attrs["missing_months"] == "2004-02"


def test_time_lon_lat_order_is_transposed(tmp_path):
    ds = open_grace(_grid(tmp_path / "g.nc", dims=("time", "lon", "lat")))
    assert ds["twsa"].dims == ("time", "lat", "lon")
    raw = xr.open_dataset(tmp_path / "g.nc", decode_times=False)["twsa"]
    np.testing.assert_allclose(ds["twsa"].values, raw.transpose("time", "lat", "lon").values)


def test_y_x_without_coordinates_is_refused(tmp_path):
    xr.Dataset(
        {"twsa": (("time", "y", "x"), np.ones((2, 2, 2)), {"units": "mm"})},
        coords={"time": ("time", [15.0, 45.0], {"units": "days since 2004-01-01"})},
    ).to_netcdf(tmp_path / "g.nc")
    with pytest.raises(InputError, match=r"no latitude coordinate"):
        open_grace(tmp_path / "g.nc")


def test_box_outside_the_data_is_refused(tmp_path):
    from gracefuse.data.grid import Box

    with pytest.raises(InputError, match="holds no cell"):
        open_grace(_grid(tmp_path / "g.nc"), box=Box(-40, -30, 10, 20))


def test_scale_factor_file_of_nans_names_the_file(tmp_path):
    p = jpl_like(tmp_path / "g.nc", EPOCHS)
    sf = tmp_path / "CLM4.SCALE_FACTOR.nc"
    xr.Dataset(
        {"scale_factor": (("lat", "lon"), np.full((8, 720), np.nan))},
        coords={"lat": np.arange(-1.75, 2.0, 0.5), "lon": np.arange(0.25, 360.0, 0.5)},
    ).to_netcdf(sf)
    with pytest.raises(InputError, match=r"CLM4\.SCALE_FACTOR\.nc.*no valid value"):
        open_grace(p, scale_factors=sf)


def _era5(path, swvl_units="m**3 m**-3", tp_units="m", scale=1.0, tp=0.003):
    t = pd.date_range("2004-01-01", periods=3, freq="MS")
    shape = (3, 2, 2)
    ds = xr.Dataset(
        {
            **{
                f"swvl{i}": (
                    ("valid_time", "latitude", "longitude"),
                    np.full(shape, 0.3 * scale),
                    {"units": swvl_units},
                )
                for i in range(1, 5)
            },  # fmt: skip
            "sd": (
                ("valid_time", "latitude", "longitude"),
                np.full(shape, 0.01),
                {"units": "m of water equivalent"},
            ),
            "tp": (
                ("valid_time", "latitude", "longitude"),
                np.full(shape, tp),
                {"units": tp_units},
            ),
            "t2m": (("valid_time", "latitude", "longitude"), np.full(shape, 290.0), {"units": "K"}),
        },
        coords={"valid_time": t, "latitude": [20.0, 10.0], "longitude": [70.0, 80.0]},
    )
    ds.to_netcdf(path)
    return path


def test_era5_units_are_converted_or_refused(tmp_path):
    ref = open_era5_land(_era5(tmp_path / "a.nc"))
    pct = open_era5_land(_era5(tmp_path / "b.nc", swvl_units="%", scale=100.0))
    np.testing.assert_allclose(pct["soil_moisture"].values, ref["soil_moisture"].values)
    assert float(ref["soil_moisture"].max()) == pytest.approx(0.3 * 2890.0)
    mm = open_era5_land(_era5(tmp_path / "c.nc", tp_units="mm", tp=3.0))
    np.testing.assert_allclose(mm["precip"].values, ref["precip"].values)
    assert float(ref["precip"].isel(time=0).max()) == pytest.approx(3.0 * 31)
    with pytest.raises(InputError, match=r"d\.nc.*swvl1.*plausible range"):
        open_era5_land(_era5(tmp_path / "d.nc", scale=100.0))  # % labelled as m3/m3
    with pytest.raises(InputError, match=r"e\.nc.*tp.*unknown"):
        open_era5_land(_era5(tmp_path / "e.nc", tp_units="inch"))


def test_gldas_rain_without_units_is_refused(tmp_path):
    from conftest import gldas_like

    p = gldas_like(tmp_path / "GLDAS_NOAH025_M.A200401.021.nc4", "2004-01-01", 1.0)
    assert float(open_gldas(p)["precip"].max()) == pytest.approx(1e-5 * 31 * 86400, rel=1e-5)
    ds = xr.open_dataset(p, decode_times=False).load()
    del ds["Rainf_f_tavg"].attrs["units"]
    bad = tmp_path / "GLDAS_NOAH025_M.A200402.021.nc4"
    ds.to_netcdf(bad)
    with pytest.raises(InputError, match=r"Rainf_f_tavg.*no 'units'"):
        open_gldas(bad)


@pytest.mark.parametrize(
    "column,value,match",
    [("lat", "100", "outside lat"), ("lon", "500", "outside lat"), ("level", "1e30", "fill value"),
     ("level", "inf", "infinite"), ("level", "dry", "not a number")],
)  # fmt: skip
def test_well_tables_refuse_bad_coordinates_and_values(tmp_path, column, value, match):
    df = pd.DataFrame(
        {"well_id": ["a", "a", "b"], "lat": [10.0, 10.0, 11.0], "lon": [70.0, 70.0, 71.0],
         "date": ["2005-01-01", "2005-02-01", "2005-01-01"], "level": ["1.0", "2.0", "3.0"]}
    )  # fmt: skip
    df[column] = df[column].astype(object)
    df.loc[2, column] = value
    df.to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(InputError, match=rf"w\.csv.*{match}"):
        open_wells(tmp_path / "w.csv", "level")


def test_basin_table_refuses_text_values(tmp_path):
    p = tmp_path / "P_X_monthly.csv"
    p.write_text(",P_X 2004-01-15,P_X 2004-02-15\nGANGES,10,lots\n")
    with pytest.raises(InputError, match=r"'lots' is not a number"):
        open_basin_table(p)


BAD_RECIPES = {
    "epochs": "[train]\nepochs = -5\n",
    "model_epochs": '[[models]]\nname = "unet"\nepochs = 0\n',
    "batch": "[train]\nbatch_size = 0\n",
    "lr": "[train]\nlr = -1.0\n",
    "threads": "[train]\nnum_threads = 0\n",
    "size": '[data]\nkind = "twin"\nsize = 0\n',
    "start": '[data]\nkind = "twin"\nstart = "1900-01"\n',
    "box": '[data]\nkind = "files"\ngrace = "g.nc"\nlsm = ["l.nc"]\nbox = [30.0, 10.0, 60.0, 100.0]\n',
    "models": "models = []\n",
    "stray": "[train]\nepoch = 5\n",
}


@pytest.mark.parametrize("case", sorted(BAD_RECIPES))
def test_bad_recipe_is_one_message_exit_2_and_no_run_folder(tmp_path, capsys, case):
    r = tmp_path / "r.toml"
    r.write_text('name = "x"\n' + BAD_RECIPES[case])
    out = tmp_path / "run"
    assert main(["run", str(r), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "r.toml" in err and "Traceback" not in err
    assert not out.exists()


def test_twin_size_must_suit_the_architectures_before_any_folder(tmp_path, capsys):
    r = tmp_path / "r.toml"
    r.write_text('[data]\nkind = "twin"\nsize = 40\n[[models]]\nname = "unet"\n')
    assert main(["run", str(r), "--out", str(tmp_path / "run")]) == 2
    assert "divisible by 32" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args", [["--size", "0"], ["--size", "7"], ["--start", "1900-01"],
             ["--start", "2010-01", "--end", "2005-01"], ["--size", "100000"]],
)  # fmt: skip
def test_synth_options_are_refused_up_front(tmp_path, capsys, args):
    assert main(["synth", "--out", str(tmp_path / "t"), *args]) == 2
    assert "synth options" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_info_on_missing_or_folder_csv(tmp_path, capsys, kind):
    p = tmp_path / "w.csv"
    if kind == "folder":
        p.mkdir()
    assert main(["info", str(p)]) == 2
    assert "w.csv" in capsys.readouterr().err


def test_killed_synth_leaves_the_previous_set_whole(tmp_path):
    from gracefuse.io import write_file_set

    folder = tmp_path / "twin"
    write_file_set(
        folder, {"a.txt": lambda p: p.write_text("old a"), "b.txt": lambda p: p.write_text("old b")}
    )
    (folder / ".a.txt.abc.part").write_text("leftover of a killed write")

    def dies(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_file_set(folder, {"a.txt": lambda p: p.write_text("new a"), "b.txt": dies})
    assert (folder / "a.txt").read_text() == "old a" and (folder / "b.txt").read_text() == "old b"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    write_file_set(
        folder, {"a.txt": lambda p: p.write_text("new a"), "b.txt": lambda p: p.write_text("new b")}
    )
    assert sorted(os.listdir(folder)) == ["a.txt", "b.txt"]
    assert (folder / "b.txt").read_text() == "new b"


def test_run_folder_of_another_recipe_is_refused(tmp_path):
    from gracefuse.errors import ConfigError
    from gracefuse.runfolder import prepare_run_folder

    prepare_run_folder(tmp_path / "run", "[data]\nseed = 0\n")
    (tmp_path / "run/config.toml").write_text("[data]\nseed = 0\n")
    (tmp_path / "run/checkpoints").mkdir()
    (tmp_path / "run/.metrics.csv.x1.part").write_text("")
    prepare_run_folder(tmp_path / "run", "[data]\nseed = 0\n")  # same recipe: resumes
    assert (tmp_path / "run/checkpoints").exists()
    assert not (tmp_path / "run/.metrics.csv.x1.part").exists()
    with pytest.raises(ConfigError, match=r"data\.seed: 0 → 1.*--overwrite"):
        prepare_run_folder(tmp_path / "run", "[data]\nseed = 1\n")
    prepare_run_folder(tmp_path / "run", "[data]\nseed = 1\n", overwrite=True)
    assert not (tmp_path / "run/checkpoints").exists()


def test_recipe_checks_come_before_loading(tmp_path):
    r = tmp_path / "r.toml"
    r.write_text(
        'method = "reconstruction"\n[data]\nkind = "twin"\n[reconstruction]\nfill_model = "nope"\n[[models]]\nname = "convlstm"\n'
    )
    from gracefuse.errors import ConfigError
    from gracefuse.runner import run_recipe

    with pytest.raises(ConfigError, match="fill_model = 'nope'"):
        run_recipe(load_recipe(r), tmp_path / "run")
    assert not (tmp_path / "run").exists()
