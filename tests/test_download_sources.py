"""Downloads from the sources other than NASA Earthdata: a centre's download page (CSR and
GSFC mascons, no login, no published checksum) served by a local HTTP server that breaks a
file mid-way, and the Copernicus CDS (ERA5-Land) through a stand-in for cdsapi's client
at the boundary."""

import dataclasses
import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import era5_land_like, jpl_like
from fileserver import FileServer
from gracefuse.cli import main
from gracefuse.data import open_grace, open_lsm
from gracefuse.download import products
from gracefuse.download.cache import DownloadError
from gracefuse.download.run import download_product

CSR = "CSR_GRACE_GRACE-FO_RL0603_Mascons_all-corrections.nc"
MASK = "CSR_GRACE_GRACE-FO_RL06_Mascons_v02_LandMask.nc"


def _page(links: list[str]) -> bytes:
    items = "".join(f'<li><a href="{href}">{href.rsplit("/", 1)[-1]}</a></li>' for href in links)
    return f"<html><body><ul><li><a href='../'>Parent</a></li>{items}</ul></body></html>".encode()


def _csr_files(tmp_path) -> dict[str, bytes]:
    """A small CSR-shaped mascon file (0.25°, cm) and its ``LO_val`` land mask (land where
    longitude < 180°)."""
    lat, lon = np.arange(-1.875, 2.0, 0.25), np.arange(0.125, 360.0, 0.25)
    jpl_like(tmp_path / CSR, ["2003-01-16", "2003-02-15"], lat=lat, lon=lon,
             title="CSR GRACE/GRACE-FO RL06.3 Mascon Solutions")  # fmt: skip
    land = xr.DataArray(np.broadcast_to((lon < 180).astype("f4"), (lat.size, lon.size)),
                        dims=("lat", "lon"), coords={"lat": lat, "lon": lon}, name="LO_val")  # fmt: skip
    land.to_netcdf(tmp_path / MASK)
    return {n: (tmp_path / n).read_bytes() for n in (CSR, MASK)}


@pytest.fixture
def centre(monkeypatch, tmp_path_factory):
    """A file server (first GET of a file breaks mid-way) and a page server that links
    its files, an older release, and an unrelated file; ``csr_mascon`` points at it."""
    files = _csr_files(tmp_path_factory.mktemp("csr"))
    data = FileServer(files, breaks=1)
    links = [f"{data.url}/{CSR}", f"{data.url}/{MASK}", "old/CSR_GRACE_GRACE-FO_RL0602_Mascons_all-corrections.nc",
             "CSR_GRACE_GRACE-FO_RL0603_Mascons_GAD_component.nc"]  # fmt: skip
    page = FileServer({"": _page(links)}, breaks=0)
    csr = dataclasses.replace(products.PRODUCTS["csr_mascon"], page=page.url + "/")
    monkeypatch.setitem(products.PRODUCTS, "csr_mascon", csr)
    yield data, files
    data.close()
    page.close()


def test_a_centre_page_gives_the_newest_release_of_each_file_resumed_and_recorded(
    tmp_path, centre, capsys
):
    data, files = centre
    code = main(["download", "csr_mascon", "--start", "2003-01", "--end", "2003-02",
                 "--to", str(tmp_path), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("*.nc")) == sorted(files)
    for name, body in files.items():
        assert (tmp_path / name).read_bytes() == body
    # no size was published: the short first body was noticed and resumed with a Range
    assert [rng for name, rng in data.requests if name == CSR][1].startswith("bytes=")
    grace = open_grace(tmp_path / CSR, land_mask=tmp_path / MASK)
    assert grace.attrs["source_product"] == "csr_mascon" and grace.twsa.attrs["units"] == "mm"
    assert float(grace.twsa.isel(time=0).max()) == pytest.approx(10.0)  # 1 cm
    assert grace.twsa.sel(lon=-159.875).isnull().all()  # 200.125° E: off the land mask
    index = json.loads((tmp_path / "cache.json").read_text())
    assert index[CSR]["sha256"] == hashlib.sha256(files[CSR]).hexdigest()
    assert not list((tmp_path / ".partial").iterdir())
    n = len(data.requests)
    assert main(["download", "csr_mascon", "--start", "2003-01", "--end", "2003-02",
                 "--to", str(tmp_path), "--quiet"]) == 0  # fmt: skip
    assert len(data.requests) == n  # cached whole: nothing fetched again


def test_a_renamed_release_is_one_clear_message(tmp_path, monkeypatch, centre, capsys):
    gone = dataclasses.replace(products.PRODUCTS["csr_mascon"], patterns=(r"CSR_RL07_.*\.nc",))
    monkeypatch.setitem(products.PRODUCTS, "csr_mascon", gone)
    code = main(["download", "csr_mascon", "--start", "2003-01", "--end", "2003-01",
                 "--to", str(tmp_path)])  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "links no file matching 'CSR_RL07_.*\\\\.nc'" in err
    assert gone.page in err and "Traceback" not in err


class StandInCDS:
    """cdsapi's ``Client.retrieve`` at the boundary: writes an ERA5-Land-like file for the
    request's months, or fails as told."""

    def __init__(self, fail: str | None = None):
        self.calls, self.fail = [], fail

    def retrieve(self, name, request, target):
        self.calls.append((name, request))
        if self.fail == "midway":
            with open(target, "wb") as fh:
                fh.write(b"\x89HDF\r\n\x1a\n partial")
            raise Exception("500 Server Error: the job failed")
        if self.fail == "zip":
            with open(target, "wb") as fh:
                fh.write(b"PK\x03\x04 a zip")
            return target
        months = [f"{request['year'][0]}-{m}-01" for m in request["month"]]
        era5_land_like(target, pd.DatetimeIndex(months))
        return target


def test_era5_land_years_come_from_the_cds_into_the_cache_and_read(tmp_path):
    cds = StandInCDS()
    paths = download_product("era5_land_monthly", "2002-11", "2003-02", "68,8,97,37",
                             tmp_path, cds=cds, progress=False)  # fmt: skip
    assert [p.name for p in paths] == ["ERA5-Land_monthly_2002_11-12_W68S8E97N37.nc",
                                       "ERA5-Land_monthly_2003_01-02_W68S8E97N37.nc"]  # fmt: skip
    (name, first), (_, second) = cds.calls
    assert name == "reanalysis-era5-land-monthly-means"
    assert first["area"] == [37.0, 68.0, 8.0, 97.0] and first["month"] == ["11", "12"]
    assert second["year"] == ["2003"] and second["month"] == ["01", "02"]
    assert "volumetric_soil_water_layer_4" in first["variable"]
    ds = open_lsm(paths, model="era5_land", baseline=None)
    assert ds.sizes["time"] == 4 and float(ds.soil_moisture.max()) == pytest.approx(0.3 * 2890)
    again = download_product("era5_land_monthly", "2002-11", "2003-02", "68,8,97,37",
                             tmp_path, cds=StandInCDS(fail="midway"), progress=False)  # fmt: skip
    assert again == paths  # cached: the (failing) client is not asked


@pytest.mark.parametrize("fail, message", [("midway", "the job failed"), ("zip", "not netCDF")])
def test_a_failed_cds_request_leaves_nothing_in_the_cache(tmp_path, fail, message):
    with pytest.raises(DownloadError, match=message):
        download_product("era5_land_monthly", "2003-01", "2003-01", None, tmp_path,
                         cds=StandInCDS(fail=fail), progress=False)  # fmt: skip
    assert not list(tmp_path.glob("*.nc")) and not list((tmp_path / ".partial").iterdir())


def test_no_cds_login_is_one_clear_message(tmp_path, monkeypatch, capsys):
    pytest.importorskip("cdsapi")
    for var in ("CDSAPI_URL", "CDSAPI_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CDSAPI_RC", str(tmp_path / "no_cdsapirc"))
    code = main(["download", "era5_land_monthly", "--start", "2003-01", "--end", "2003-01",
                 "--to", str(tmp_path / "c")])  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "no Copernicus CDS login found" in err and "~/.cdsapirc" in err


@pytest.mark.skipif(not (os.environ.get("CDSAPI_KEY") or os.path.exists(os.path.expanduser("~/.cdsapirc"))),
                    reason="no Copernicus CDS login")  # fmt: skip
def test_one_era5_land_month_from_the_cds(tmp_path):
    pytest.importorskip("cdsapi")
    (path,) = download_product("era5_land_monthly", "2003-01", "2003-01", "77,20,78,21",
                               tmp_path, progress=False)  # fmt: skip
    assert open_lsm(path, model="era5_land", baseline=None).sizes["time"] == 1
