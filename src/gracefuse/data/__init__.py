"""Data layer: readers for real products, grids and masks, anomalies, the synthetic twin."""

from gracefuse.data.anomalies import GRACE_BASELINE, anomalies, monthly_from_daily
from gracefuse.data.grace import GRACE_MISSING_MONTHS, missing_months, open_grace
from gracefuse.data.grid import (
    SUN2019_INDIA,
    Box,
    cell_area,
    coarsen_mean,
    crop,
    normalize_lon,
    refine_bilinear,
    region_mean,
    regrid_conservative,
    regular_grid,
    to_image_grid,
)
from gracefuse.data.lsm import open_era5_land, open_gldas, open_lsm
from gracefuse.data.masks import apply_mask, mask_from_box, mask_from_raster, mask_from_vector
from gracefuse.data.tables import open_basin_table, open_basin_tables, open_wells
from gracefuse.data.twin import TwinConfig, make_fine_grid, make_twin, make_wells

__all__ = [
    "GRACE_BASELINE",
    "GRACE_MISSING_MONTHS",
    "SUN2019_INDIA",
    "Box",
    "TwinConfig",
    "anomalies",
    "apply_mask",
    "cell_area",
    "coarsen_mean",
    "crop",
    "make_fine_grid",
    "make_twin",
    "make_wells",
    "mask_from_box",
    "mask_from_raster",
    "mask_from_vector",
    "missing_months",
    "monthly_from_daily",
    "normalize_lon",
    "open_basin_table",
    "open_basin_tables",
    "open_era5_land",
    "open_gldas",
    "open_grace",
    "open_lsm",
    "open_wells",
    "refine_bilinear",
    "region_mean",
    "regrid_conservative",
    "regular_grid",
    "to_image_grid",
]
