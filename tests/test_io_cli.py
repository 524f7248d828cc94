import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from conftest import jpl_like, shared_file
from gracefuse.cli import main
from gracefuse.io import write_netcdf


def test_write_netcdf_is_cf_and_round_trips(tmp_path):
    ds = xr.Dataset(
        {
            "twsa": (("lat", "lon"), np.ones((2, 2)), {"units": "mm"}),
            "mask": (("lat", "lon"), np.array([[True, False], [True, True]])),
        },
        coords={"lat": [0.0, 1.0], "lon": [0.0, 1.0]},
    )
    p = write_netcdf(ds, tmp_path / "out.nc")
    back = xr.open_dataset(p)
    assert back.attrs["Conventions"] == "CF-1.8"
    assert back.twsa.attrs["units"] == "mm" and back.lat.attrs["standard_name"] == "latitude"
    assert list(tmp_path.iterdir()) == [p]  # no temporary file left behind


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    target = tmp_path / "out.nc"
    target.write_text("old")
    bad = xr.Dataset({"x": ("t", np.array([object(), object()]))})
    with pytest.raises(Exception):  # noqa: B017 - any writer failure
        write_netcdf(bad, target)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def test_cli_synth_and_info(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--size", "16", "--end", "2006-12"]) == 0
    for name in ("twin.nc", "twin_fine.nc", "wells.csv"):
        assert (tmp_path / name).exists()
    twin = xr.open_dataset(tmp_path / "twin.nc")
    assert twin.attrs["Conventions"] == "CF-1.8" and twin.twsa_grace.attrs["units"] == "mm"
    assert main(["info", str(tmp_path / "twin.nc")]) == 0
    out = capsys.readouterr().out
    assert "gracefuse_twin" in out and "2002-06" in out


def test_cli_info_on_real_india_grid(capsys):
    p = shared_file("india_grace_recon_moudgil", "reconstructed_grace_tws_v1.nc")
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "grace_like" in out and "244 steps" in out


@pytest.mark.parametrize("case", ["missing", "text", "no_var", "units", "duplicated"])
def test_cli_bad_input_is_one_clear_message(tmp_path, capsys, case):
    p = tmp_path / "f.nc"
    if case == "text":
        p.write_text("not netcdf")
    elif case == "no_var":
        xr.Dataset({"foo": (("lat",), [1.0])}, coords={"lat": [0.0]}).to_netcdf(p)
    elif case == "units":
        jpl_like(p, ["2004-01-16", "2004-02-15"], units="parsec")
    elif case == "duplicated":
        jpl_like(p, ["2004-01-16", "2004-01-16"], with_bounds=False)
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and str(p.name) in err
    assert "Traceback" not in err


def test_cli_subprocess_exit_code(tmp_path):
    bad = tmp_path / "x.nc"
    bad.write_text("junk")
    res = subprocess.run(
        [sys.executable, "-m", "gracefuse.cli", "info", str(bad)], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert "x.nc" in res.stderr and "Traceback" not in res.stderr


def test_cli_unknown_option_is_a_usage_message_not_a_traceback(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "gracefuse.cli", "run", "liang2025_twin", "--out",
         str(tmp_path / "r"), "--no-such-option"], capture_output=True, text=True,
    )  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode == 2
    assert "--no-such-option" in out and "Traceback" not in out
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "module",
    ["gracefuse.report", "gracefuse.methods", "gracefuse.training", "gracefuse.recipes",
     "gracefuse.runner", "gracefuse.models", "gracefuse.datasets", "gracefuse.physics"],
)  # fmt: skip
def test_every_package_imports_first_in_a_fresh_interpreter(module):
    """No import cycle: each package can be the first thing a user imports."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
