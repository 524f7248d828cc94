"""``gracefuse predict`` on a downscaling run: a patch-trained network applied to a grid
tile by tile gives the run's own fields where one window covers the grid, keeps the coarse
mass exactly whatever the windows, and refuses bad inputs with a clear message."""

import numpy as np
import pytest
import xarray as xr

from gracefuse.cli import main
from gracefuse.config import ModelConfig, TrainConfig
from gracefuse.data.grid import block_mean, cell_area
from gracefuse.data.twin.fine_world import COVARIATES, make_fine_world
from gracefuse.errors import InputError
from gracefuse.io import write_netcdf
from gracefuse.methods.downscaling.config import (
    DownscalingConfig,
    DownscalingRecipe,
    DownscalingTwinSource,
)
from gracefuse.methods.predict import predict_run
from gracefuse.runner import run_recipe

WORLD = {"size": 4, "factor": 4, "seed": 3, "start": "2009-01", "end": "2014-12"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny downscaling run (a PI-ConvLSTM + U-Net and a GNNWR) and its world's inputs,
    as a user has them: the covariates, the land mask and the coarse GWSA."""
    folder = tmp_path_factory.mktemp("dsrun")
    recipe = DownscalingRecipe(
        name="tiny", data=DownscalingTwinSource(**WORLD),
        downscaling=DownscalingConfig(lags=[1, 12], memory=2, patch=16, shap_samples=0,
                                      forest_trees=10, forest_samples=1000),
        train=TrainConfig(epochs=2, batch_size=8, mc_samples=0),
        models=[ModelConfig(name="pi_convlstm_unet", base_filters=4),
                ModelConfig(name="gnnwr", epochs=1)],
    )  # fmt: skip
    run_recipe(recipe, folder / "run", progress=False, figures=False)
    world = make_fine_world(**WORLD)
    inputs = world[[*COVARIATES, "land_mask", "gwsa"]]
    write_netcdf(inputs, folder / "inputs.nc")
    return folder, world, inputs


def test_a_trained_downscaler_applied_tile_by_tile_reproduces_the_run(run):
    folder, world, _ = run
    ref = xr.open_dataset(folder / "run" / "downscaled.nc")
    ref = ref.sel({"method": "pi_convlstm_unet"})  # not sel(method=…): xarray's own argument
    whole = xr.open_dataset(predict_run(folder / "run", folder / "inputs.nc",
                                        folder / "whole.nc", progress=False))  # fmt: skip
    assert (
        whole.attrs["network"] == "pi_convlstm_unet"
        and whole.attrs["tiling"] == "tile=16 overlap=0"
    )
    for var in ("gwsa", "gwsa_lower", "gwsa_upper"):  # one window: the run's own fields
        np.testing.assert_allclose(whole[var], ref[var], atol=1e-3)
    tiled = xr.open_dataset(predict_run(folder / "run", folder / "inputs.nc", folder / "tiled.nc",
                                        tile=8, overlap=4, time_block=5, progress=False))  # fmt: skip
    land = world["land_mask"].values
    weights = np.where(land, cell_area(world["lat"].values, world["lon"].values).values, 0.0)
    mass = block_mean(tiled["gwsa"].values, weights, 4) - world["gwsa"].values
    assert np.nanmax(np.abs(mass)) < 1e-3  # each coarse cell's land mean is the coarse input
    assert np.isfinite(tiled["gwsa"].values[:, land]).all()
    assert np.isnan(tiled["gwsa"].values[:, ~land]).all()
    assert bool((tiled["gwsa_upper"] - tiled["gwsa_lower"]).where(tiled["land_mask"] > 0).min() > 0)
    diff = tiled["gwsa"] - ref["gwsa"]  # small windows see less of the coarse field: close
    assert float(np.sqrt((diff**2).mean())) < 0.5 * float(np.sqrt((ref["gwsa"] ** 2).mean()))
    assert sorted(p.name for p in folder.iterdir()) == ["inputs.nc", "run", "tiled.nc", "whole.nc"]
    with pytest.raises(InputError, match="distance to the training grid's cells"):
        predict_run(folder / "run", folder / "inputs.nc", folder / "g.nc", model="gnnwr",
                    progress=False)  # fmt: skip
    with pytest.raises(InputError, match="multiples of 4"):
        predict_run(folder / "run", folder / "inputs.nc", folder / "g.nc", tile=6, progress=False)


def test_predict_on_a_downscaling_run_gives_clear_errors(run, tmp_path, capsys):
    folder, _, inputs = run
    coarse2 = inputs.isel(lat=slice(0, 8), lon=slice(0, 8))  # 2 coarse cells' worth: no nesting
    cases = {
        "no_et.nc": (inputs.drop_vars("et"), "variable 'et': missing"),
        "no_gwsa.nc": (inputs.drop_vars("gwsa"), "variable 'gwsa': missing"),
        "no_units.nc": (inputs.assign(tair=inputs["tair"].assign_attrs(units="")),
                        "variable 'tair': has no units attribute"),
        "nest.nc": (coarse2, "does not nest in the coarse one"),
        "gap.nc": (inputs.drop_isel(time=7), "variable 'time': months are not consecutive"),
        "land.nc": (inputs.drop_vars("land_mask"), "variable 'land_mask': missing"),
        "north_first.nc": (inputs.isel(lat=slice(None, None, -1), lat_coarse=slice(None, None, -1)),
                           "variable 'lat': is not strictly ascending"),
    }  # fmt: skip
    for name, (ds, message) in cases.items():
        write_netcdf(ds, tmp_path / name)
        assert main(["predict", str(folder / "run"), str(tmp_path / name), "--out",
                     str(tmp_path / "p.nc"), "--quiet"]) == 2  # fmt: skip
        assert message in capsys.readouterr().err.replace("\n", " "), name
    assert not (tmp_path / "p.nc").exists()
