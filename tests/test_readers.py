import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import era5_land_like, gldas_like, jpl_like, shared_file
from gracefuse.data import open_basin_table, open_basin_tables, open_grace, open_lsm, open_wells
from gracefuse.data.grace import GRACE_MISSING_MONTHS, assign_calendar_months
from gracefuse.data.tables import open_epoch_series
from gracefuse.errors import InputError

EPOCHS = ["2002-04-17", "2002-05-10", "2002-08-16", "2011-12-16", "2012-01-02", "2012-03-16"]


def test_jpl_reader_units_longitudes_months(tmp_path):
    p = jpl_like(tmp_path / "jpl.nc", EPOCHS)
    ds = open_grace(p)
    assert ds.attrs["source_product"] == "jpl_mascon"
    assert ds.twsa.attrs["units"] == "mm"
    # cm -> mm
    assert float(ds.twsa.sel(time="2002-04-01").isel(lat=0, lon=0)) == pytest.approx(10.0)
    assert float(ds.twsa_uncertainty.max()) == pytest.approx(20.0)
    # lon normalised to [-180, 180) ascending
    assert ds.lon.min() >= -180 and ds.lon.max() < 180
    assert (np.diff(ds.lon) > 0).all() and (np.diff(ds.lat) > 0).all()
    # full monthly axis, missing months NaN and reported
    assert pd.Timestamp(ds.time.values[0]) == pd.Timestamp("2002-04-01")
    assert ds.twsa.sel(time="2002-06-01").isnull().all()
    assert "2002-06" in ds.attrs["missing_months"]
    # the 2012-01-02 solution shares January with nothing; Dec 2011 keeps its own
    assert ds.twsa.sel(time="2011-12-01").notnull().all()
    assert ds.twsa.sel(time="2012-01-01").notnull().all()
    assert "2012-02" in ds.attrs["missing_months"]
    assert pd.Timestamp(ds.grace_epoch.sel(time="2002-05-01").values) == pd.Timestamp("2002-05-10")
    assert ds.attrs["anomaly_baseline"] == "2004-01..2009-12"


def test_doubled_month_moves_to_empty_neighbour():
    ep = pd.DatetimeIndex(["2015-03-16", "2015-04-08", "2015-04-27", "2015-06-16"])
    months, notes = assign_calendar_months(ep)
    assert [f"{m:%Y-%m}" for m in months] == ["2015-03", "2015-04", "2015-05", "2015-06"]
    assert notes and "2015-05" in notes[0]


def test_scale_factors_and_land_mask_from_files(tmp_path):
    p = jpl_like(tmp_path / "jpl.nc", EPOCHS[:2])
    lat = np.arange(-89.75, 90, 0.5)
    lon = np.arange(0.25, 360, 0.5)
    sf = np.full((lat.size, lon.size), 2.0)
    xr.Dataset(
        {"scale_factor": (("lat", "lon"), sf, {"units": "dimensionless", "_FillValue": -99999.0})},
        coords={"lat": lat, "lon": lon},
    ).to_netcdf(tmp_path / "sf.nc")
    lm = np.ones((lat.size, lon.size))
    lm[:, lon > 180] = 0  # western hemisphere is "ocean"
    xr.Dataset({"land_mask": (("lat", "lon"), lm)}, coords={"lat": lat, "lon": lon}).to_netcdf(
        tmp_path / "lm.nc"
    )
    ds = open_grace(p, scale_factors=tmp_path / "sf.nc", land_mask=tmp_path / "lm.nc")
    first = ds.twsa.isel(time=0)
    assert float(first.sel(lon=10.25, lat=0.25)) == pytest.approx(20.0)  # 1 cm × 10 × gain 2
    assert first.sel(lon=-10.25, lat=0.25).isnull()
    assert ds.land_mask.dtype == bool
    assert ds.attrs["gain_factors_applied"] == 1


def test_csr_like_with_separate_lo_val_mask(tmp_path):
    lat = np.arange(-0.875, 1.0, 0.25)
    lon = np.arange(0.125, 360, 0.25)
    p = jpl_like(
        tmp_path / "csr.nc",
        EPOCHS[:3],
        lat=lat,
        lon=lon,
        title="CSR GRACE/GRACE-FO RL06 Mascon Solutions (version 02)",
    )
    lo = np.zeros((lat.size, lon.size))
    lo[:, :100] = 1
    xr.Dataset({"LO_val": (("lat", "lon"), lo)}, coords={"lat": lat, "lon": lon}).to_netcdf(
        tmp_path / "CSR_LandMask.nc"
    )
    ds = open_grace(p, land_mask=tmp_path / "CSR_LandMask.nc")
    assert ds.attrs["source_product"] == "csr_mascon"
    assert int(ds.land_mask.sum()) == 100 * lat.size
    assert np.isfinite(ds.twsa.isel(time=0)).sum() == 100 * lat.size


def test_gsfc_like_descending_lat_in_mm(tmp_path):
    lat = np.arange(1.75, -2.0, -0.5)
    lon = np.arange(-179.75, 180, 0.5)
    p = jpl_like(
        tmp_path / "gsfc.nc",
        EPOCHS[:2],
        lat=lat,
        lon=lon,
        units="mm",
        title="GSFC global mascons RL06v2.0",
        with_bounds=False,
    )
    ds = open_grace(p)
    assert ds.attrs["source_product"] == "gsfc_mascon"
    assert (np.diff(ds.lat) > 0).all()
    assert float(ds.twsa.isel(time=0).max()) == pytest.approx(1.0)


@pytest.mark.parametrize("problem", ["not_netcdf", "no_variable", "units", "duplicated"])
def test_bad_grace_files_name_the_problem(tmp_path, problem):
    p = tmp_path / "bad.nc"
    if problem == "not_netcdf":
        p.write_text("hello")
        match = "not a readable netCDF"
    elif problem == "no_variable":
        xr.Dataset({"foo": ("time", [1.0])}, coords={"time": [0.0]}).to_netcdf(p)
        match = "no water-storage variable"
    elif problem == "units":
        jpl_like(p, EPOCHS[:2], units="furlong")
        match = "unknown units 'furlong'"
    else:
        jpl_like(p, [EPOCHS[0], EPOCHS[0]], with_bounds=False)
        match = "duplicated time"
    with pytest.raises(InputError, match=match) as err:
        open_grace(p)
    assert str(p) in str(err.value)


def test_gldas_reader_sums_layers_and_converts_precip(tmp_path):
    files = [
        gldas_like(tmp_path / f"GLDAS_NOAH025_M.A2004{m:02d}.021.nc4", f"2004-{m:02d}", m)
        for m in (1, 2, 3)
    ]
    ds = open_lsm(str(tmp_path / "GLDAS_NOAH025_M.A2004*.nc4"), baseline=None)
    assert ds.sizes["time"] == 3
    tws0 = float(ds.tws.isel(time=0, lat=0, lon=0))
    assert tws0 == pytest.approx(10 + 60 + 120 + 200 + 5 + 0.5 + 6 * 1, rel=1e-6)
    # 1e-5 kg m-2 s-1 over January (31 days) = 26.784 mm
    assert float(ds.precip.isel(time=0, lat=0, lon=0)) == pytest.approx(1e-5 * 31 * 86400, rel=1e-5)
    assert float(ds.precip.isel(time=1, lat=0, lon=0)) == pytest.approx(1e-5 * 29 * 86400, rel=1e-5)
    assert ds.twsa.mean("time").isel(lat=0, lon=0) == pytest.approx(0.0, abs=1e-4)
    assert ds.attrs["anomaly_baseline"] == "2004-01..2004-03"
    assert hasattr(ds.tws.data, "dask")  # lazy
    assert files


def test_gldas_missing_layer_is_named(tmp_path):
    p = gldas_like(tmp_path / "g.nc4", "2004-01", 0)
    ds = xr.open_dataset(p).drop_vars("SWE_inst").load()
    ds.to_netcdf(tmp_path / "g2.nc4")
    with pytest.raises(InputError, match="SWE_inst"):
        open_lsm(tmp_path / "g2.nc4")


def test_era5_land_reader(tmp_path):
    era5_land_like(tmp_path / "e.nc", pd.date_range("2004-01-01", periods=2, freq="MS"))
    ds = open_lsm(tmp_path / "e.nc", model="era5_land", baseline=None)
    assert float(ds.soil_moisture.isel(time=0, lat=0, lon=0)) == pytest.approx(0.3 * 2890)
    assert float(ds.swe.max()) == pytest.approx(10.0)
    assert float(ds.precip.isel(time=0).max()) == pytest.approx(2.0 * 31)
    assert ds.lon.values.tolist() == pytest.approx([-0.2, -0.1])
    assert (np.diff(ds.lat) > 0).all()


# ---------------------------------------------------------------- real files in ../shared/data
def test_real_india_grid():
    p = shared_file("india_grace_recon_moudgil", "reconstructed_grace_tws_v1.nc")
    ds = open_grace(p)
    assert ds.twsa.shape == (244, 55, 58)
    assert ds.attrs["source_product"] == "grace_like"
    assert int(ds.twsa.isel(time=0).notnull().sum()) == 1120
    raw = xr.open_dataset(p)
    np.testing.assert_allclose(
        ds.twsa.isel(time=5).values, 10 * raw.lwe_thickness.isel(time=5).values, rtol=1e-6
    )
    assert ds.attrs["missing_months"] == ""


def test_real_jpl_scale_factors_and_land_mask():
    sf = shared_file("jpl_mascon_aux_rl05_cri", "CLM4.SCALE_FACTOR.JPL.MSCNv01CRIv01.nc")
    lm = shared_file("jpl_mascon_aux_rl05_cri", "LAND_MASK.CRIv01.nc")
    p = shared_file("india_grace_recon_moudgil", "reconstructed_grace_tws_v1.nc")
    ds = open_grace(p, scale_factors=sf, land_mask=lm)
    assert ds.attrs["gain_factors_applied"] == 1
    assert ds.land_mask.sum() > 1000  # India is land in the JPL mask
    raw = open_grace(p)
    ratio = (ds.twsa / raw.twsa).isel(time=10).median()
    assert 0.5 < float(ratio) < 3.0  # gains near 1 over India


def test_real_gldas_land_mask_aligns():
    from gracefuse.data.grid import SUN2019_INDIA, regular_grid
    from gracefuse.data.masks import mask_from_raster

    p = shared_file("gldas_landmask_025", "GLDASp4_landmask_025d.nc4")
    m = mask_from_raster(regular_grid(SUN2019_INDIA, 160), p, "GLDAS_mask")
    assert m.shape == (160, 160)
    assert bool(m.sel(lat=22.0, lon=78.0, method="nearest"))  # central India: land
    assert not bool(m.sel(lat=15.0, lon=65.0, method="nearest"))  # Arabian Sea


def test_real_basin_tables():
    folder = shared_file("lehmannfa_basin_timeseries")
    one = open_basin_table(folder / "TWS_GRACE_JPL_mascons_monthly.csv")
    da = one["TWS_GRACE_JPL_mascons"]
    assert da.sizes["basin"] == 204 and da.attrs["units"] == "mm"
    assert pd.Timestamp(da.time.values[0]) == pd.Timestamp("2002-04-01")
    # the published basin table is already gap-filled: every month 2002-04..2020-09 has values
    assert one.attrs["missing_months"] == ""
    assert da.sizes["time"] == 222 and int(da.isnull().sum()) == 0
    allds = open_basin_tables(folder)
    assert {"P_ERA5_Land", "ET_FLUXCOM", "R_GRUN", "TWS_GRACE_CSR_mascons"} <= set(allds.data_vars)
    assert "GANGES" in allds.basin.values
    assert allds.P_ERA5_Land.attrs["units"] == "mm/month"
    assert any(c.endswith("area_km2") or "area" in c for c in allds.coords)


def test_real_illinois_wells():
    p = shared_file("illinois_wells_grace_dgwl", "dgwlData.csv")
    ds = open_wells(p, "DGWL_m")
    assert ds.sizes["well"] == 32
    assert int(ds.DGWL_m.isnull().sum()) >= 752
    assert float(ds.lat.min()) > 36 and float(ds.lon.max()) < -87
    assert "GRACE_TWSA" in ds


def test_real_epoch_series_confirms_missing_month_list():
    p = shared_file("shbaam_south_asia_grace_ts", "timeseries_Nepal.csv")
    ds = open_epoch_series(p, units="cm")
    end = f"{pd.Timestamp(ds.time.values[-1]):%Y-%m}"
    expected = [m for m in GRACE_MISSING_MONTHS if m <= end]
    assert ds.attrs["missing_months"].split(", ") == expected
    assert "2012-01" in ds.attrs["month_notes"]
