"""From download to report, offline: the README's walk-through. A local HTTP server stands
in for NASA (Earthdata's search, login and session replaced at the earthaccess boundary)
and serves small files in the real products' formats over the ``sun2019_india`` box;
``gracefuse download`` fetches them into the layout the built-in recipe reads, and the
recipe (shrunk: one model, one epoch, a 32-cell image) runs from them to a report."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import requests
import xarray as xr

from conftest import gldas_like, jpl_like
from fileserver import FileServer
from gracefuse.cli import main
from gracefuse.download import earthdata
from gracefuse.download.cache import RemoteFile
from gracefuse.recipes import load_recipe, parse_recipe
from gracefuse.runner import run_recipe

MONTHS = pd.date_range("2003-01-01", "2005-12-01", freq="MS")


def _season(month: pd.Timestamp, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A storage field (mm): a season growing northwards and a depletion in the north-west."""
    phase = np.sin(2 * np.pi * (month.month - 1) / 12)
    years = (month - MONTHS[0]).days / 365.25
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return 80 * phase * (la / 45) - 15 * years * np.exp(-((la - 30) ** 2 + (lo - 75) ** 2) / 60)


def _products(folder) -> dict[str, dict[str, bytes]]:
    """Each product's files as NASA names them, as bytes."""
    lat, lon = np.arange(5.25, 50.5, 0.5), np.arange(57.25, 103.0, 0.5)
    cm = np.stack([_season(m, lat, lon) for m in MONTHS]) / 10
    epochs = [str((m + pd.Timedelta(days=14)).date()) for m in MONTHS]
    jpl = jpl_like(folder / "jpl.nc", epochs, lat=lat, lon=lon, values=cm)
    coords = {"lat": ("lat", lat, {"units": "degrees_north"}),
              "lon": ("lon", lon, {"units": "degrees_east"})}  # fmt: skip
    xr.Dataset({"scale_factor": (("lat", "lon"), np.full(cm.shape[1:], 1.05))},
               coords=coords).to_netcdf(folder / "sf.nc")  # fmt: skip
    land = ~((lat[:, None] < 14) & (lon[None, :] < 70))  # an ocean corner
    xr.Dataset({"land_mask": (("lat", "lon"), land.astype("f4"))}, coords=coords).to_netcdf(
        folder / "lm.nc"
    )
    grace = {"GRCTellus.JPL.200301_200512.GLO.RL06.3M.MSCNv04CRI.nc": jpl.read_bytes(),
             "CLM4.SCALE_FACTOR.JPL.MSCNv04CRI.nc": (folder / "sf.nc").read_bytes(),
             "LAND_MASK.CRI.nc": (folder / "lm.nc").read_bytes()}  # fmt: skip
    glat, glon = np.arange(7.875, 47.75, 0.25), np.arange(60.125, 100.0, 0.25)
    gldas = {}
    for m in MONTHS:
        path = gldas_like(folder / "g.nc4", str(m.date()), 100 + 0.5 * _season(m, glat, glon),
                          glat, glon)  # fmt: skip
        gldas[f"GLDAS_NOAH025_M.A{m:%Y%m}.021.nc4"] = path.read_bytes()
    return {"TELLUS_GRAC-GRFO_MASCON_CRI_GRID_RL06.3_V4": grace, "GLDAS_NOAH025_M": gldas}


@pytest.fixture
def nasa(tmp_path, monkeypatch):
    """The fake NASA: a server dropping the first connection mid-file, and the search."""
    files = _products(tmp_path)
    server = FileServer({n: b for f in files.values() for n, b in f.items()}, breaks=1)

    def search(product, start, end, box):
        return [RemoteFile(f"{server.url}/{n}", n, hashlib.md5(b).hexdigest(), "MD5", len(b))
                for n, b in files[product.short_name].items()]  # fmt: skip

    monkeypatch.setattr(earthdata, "search", search)
    monkeypatch.setattr(earthdata, "login", lambda: None)
    monkeypatch.setattr(earthdata, "session", requests.Session)
    yield server
    server.close()


def test_from_download_to_report(tmp_path, nasa):
    data = tmp_path / "data"
    code = main(["download", "jpl_mascon", "--start", "2003-01", "--end", "2005-12",
                 "--to", str(data / "grace"), "--quiet"])  # fmt: skip
    assert code == 0
    code = main(["download", "gldas_noah025_m", "--start", "2003-01", "--end", "2005-12",
                 "--box", "60,7.75,100,47.75", "--to", str(data / "gldas"), "--quiet"])  # fmt: skip
    assert code == 0
    assert not list((data / "grace" / ".partial").iterdir())  # the broken file resumed whole

    recipe = load_recipe("sun2019_india", data_dir=data)  # ${data} and the one-file patterns
    raw = recipe.model_dump(mode="json")
    raw["samples"] |= {"image_size": 32, "train_end": "2005-01", "memory_efolding": [6.0]}
    raw["train"] |= {"epochs": 1, "batch_size": 4, "mc_samples": 4}
    raw["models"] = [{"name": "unet", "base_filters": 8}]
    run_recipe(parse_recipe(raw, "walkthrough"), tmp_path / "runs" / "india", progress=False)

    run = tmp_path / "runs" / "india"
    assert (run / "report.html").is_file() and (run / "predictions.nc").is_file()
    metrics = pd.read_csv(run / "metrics.csv")
    assert {"unet", "lsm", "cell_ridge"} <= set(metrics.model)
    with xr.open_dataset(run / "predictions.nc") as preds:
        assert preds.sizes["time"] == MONTHS.size and 7.5 <= float(preds.lat.min()) < 8.5


def test_a_pattern_matching_two_files_names_both(tmp_path):
    from gracefuse.data.inputs import check_sources
    from gracefuse.errors import InputError

    for name in ("GRCTellus.JPL.200204_202312.GLO.RL06.3M.MSCNv04CRI.nc",
                 "GRCTellus.JPL.200204_202406.GLO.RL06.3M.MSCNv04CRI.nc"):  # fmt: skip
        (tmp_path / "grace").mkdir(exist_ok=True)
        (tmp_path / "grace" / name).write_bytes(b"")
    (tmp_path / "gldas").mkdir()
    recipe = load_recipe("sun2019_india", data_dir=tmp_path)
    with pytest.raises(InputError, match="2 files match .*202312.*202406.*data.grace"):
        check_sources(recipe.data)
