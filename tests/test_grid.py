import json

import numpy as np
import pytest
import xarray as xr

from gracefuse.data import grid
from gracefuse.data.grid import Box, cell_area, coarsen_mean, region_mean
from gracefuse.data.masks import mask_from_box, mask_from_raster, mask_from_vector


def _field(nlat=20, nlon=30, step=1.0, seed=0):
    rng = np.random.default_rng(seed)
    lat = -10 + step * (np.arange(nlat) + 0.5)
    lon = 60 + step * (np.arange(nlon) + 0.5)
    return xr.DataArray(
        rng.normal(size=(nlat, nlon)), coords={"lat": lat, "lon": lon}, dims=("lat", "lon")
    )


def test_cell_area_sums_to_sphere_and_shrinks_poleward():
    lat = np.arange(-89.75, 90, 0.5)
    lon = np.arange(-179.75, 180, 0.5)
    a = cell_area(lat, lon)
    assert float(a.sum()) == pytest.approx(4 * np.pi * grid.EARTH_RADIUS_KM**2, rel=1e-9)
    assert float(a.sel(lat=0.25, lon=0.25)) > float(a.sel(lat=60.25, lon=0.25)) * 1.9


def test_normalize_lon_from_0_360():
    da = xr.DataArray(np.arange(4.0), coords={"lon": [0.25, 90.25, 180.25, 359.75]}, dims="lon")
    out = grid.normalize_lon(da)
    assert out.lon.values.tolist() == [-179.75, -0.25, 0.25, 90.25]
    assert out.sel(lon=-0.25).item() == 3.0  # the value follows its longitude


def test_region_mean_is_area_weighted_and_skips_nan():
    da = xr.DataArray(
        [[1.0, np.nan], [3.0, 3.0]],
        coords={"lat": [0.0, 60.0], "lon": [0.0, 1.0]},
        dims=("lat", "lon"),
    )
    w = cell_area(da.lat.values, da.lon.values)
    expected = (1.0 * w[0, 0] + 3.0 * w[1, 0] + 3.0 * w[1, 1]) / (w[0, 0] + w[1, 0] + w[1, 1])
    assert float(region_mean(da)) == pytest.approx(float(expected))
    mask = xr.DataArray([[True, True], [False, False]], coords=da.coords, dims=da.dims)
    assert float(region_mean(da, mask)) == pytest.approx(1.0)


def test_coarsen_mean_conserves_the_area_integral():
    da = _field(20, 30, 0.5)
    da[3, 4] = np.nan
    co = coarsen_mean(da, 2)
    fine_w = cell_area(da.lat.values, da.lon.values).where(da.notnull())
    fine_int = float((da * fine_w).sum())
    # coarse integral with valid-area weights per block equals the fine integral
    valid_area = fine_w.fillna(0).coarsen(lat=2, lon=2).sum()
    assert float((co * valid_area.values).sum()) == pytest.approx(fine_int, rel=1e-10)
    assert co.shape == (10, 15)
    with pytest.raises(ValueError):
        coarsen_mean(da, 7)


def test_conservative_regrid_keeps_region_mean():
    da = _field(40, 40, 0.25)
    target = grid.regular_grid(Box(-10, 0, 60, 70), 16)
    out = grid.regrid_conservative(da.rename("x"), target)
    assert out.shape == (16, 16)
    assert float(region_mean(out)) == pytest.approx(float(region_mean(da)), abs=1e-6)


def test_to_image_grid_sun2019_128():
    lat = np.arange(7.75, 48.0, 0.5)
    lon = np.arange(59.75, 100.5, 0.5)
    da = xr.DataArray(
        np.ones((lat.size, lon.size)),
        coords={"lat": lat, "lon": lon},
        dims=("lat", "lon"),
        name="twsa",
    )
    out = grid.to_image_grid(da, grid.SUN2019_INDIA, 128)
    assert out.shape == (128, 128)
    assert np.diff(out.lat.values).mean() == pytest.approx(40 / 128)
    assert np.allclose(out.values, 1.0)


def test_refine_bilinear_tiles_coarse_cells():
    da = _field(4, 5, 1.0)
    fine = grid.refine_bilinear(da, 4)
    assert fine.shape == (16, 20)
    assert np.allclose(coarsen_mean(fine, 4).lat, da.lat)
    assert np.isfinite(fine).all()


def test_masks_from_box_vector_and_raster(tmp_path):
    da = _field(10, 10, 1.0)
    box = Box(-8.0, -4.0, 62.0, 66.0)
    m = mask_from_box(da, box)
    assert int(m.sum()) == 4 * 4
    gj = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "sq"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[62, -8], [66, -8], [66, -4], [62, -4], [62, -8]]],
                },
            }
        ],
    }
    p = tmp_path / "region.geojson"
    p.write_text(json.dumps(gj))
    mv = mask_from_vector(da, p)
    assert (mv == m).all()
    ras = m.astype("f4").rename("region").to_dataset()
    ras.to_netcdf(tmp_path / "r.nc")
    mr = mask_from_raster(da, tmp_path / "r.nc")
    assert (mr == m).all()
