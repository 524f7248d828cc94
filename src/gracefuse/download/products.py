"""The products ``gracefuse download`` knows by name, and where each is published.

Three kinds of source:

- ``earthdata``: NASA's Common Metadata Repository (CMR) names the collection; files are
  found with earthaccess and fetched with an Earthdata login (JPL mascons, GLDAS).
- ``page``: a processing centre's own download page, which lists the files; the ones whose
  names match the product's patterns are fetched over plain HTTPS, no login (CSR mascons
  from the Texas Data Repository's mirror at CSR, GSFC mascons from NASA Goddard). These
  products are one file for the whole record, renamed at each release: the newest match
  (the last by name) is taken.
- ``cds``: the Copernicus Climate Data Store through ``cdsapi`` (ERA5-Land), one request
  per calendar year, login from ``~/.cdsapirc`` or ``CDSAPI_URL``/``CDSAPI_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gracefuse.download.cache import DownloadError

#: ERA5-Land monthly-means variables the ERA5-Land reader uses (CDS names)
ERA5_LAND_VARIABLES = (
    "volumetric_soil_water_layer_1", "volumetric_soil_water_layer_2",
    "volumetric_soil_water_layer_3", "volumetric_soil_water_layer_4",
    "snow_depth_water_equivalent", "skin_reservoir_content", "total_precipitation",
    "2m_temperature",
)  # fmt: skip


@dataclass(frozen=True)
class Product:
    """A product and where it is published.

    ``short_name`` is the CMR collection (``earthdata``) or the CDS dataset (``cds``).
    ``companions`` are name fragments of files the readers need beside the data (the JPL
    mascons' scale factors and land mask); they are fetched whatever the dates. ``page``
    and ``patterns`` (regular expressions matched against whole file names, one file per
    pattern) locate a ``page`` product's files; ``variables`` are a ``cds`` product's.
    """

    name: str
    short_name: str
    version: str | None
    description: str
    companions: tuple[str, ...] = ()
    source: str = "earthdata"
    page: str | None = None
    patterns: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()


PRODUCTS = {
    p.name: p
    for p in (
        Product("jpl_mascon", "TELLUS_GRAC-GRFO_MASCON_CRI_GRID_RL06.3_V4", None,
                "JPL GRACE/GRACE-FO mascons RL06.3 v04 with the CRI filter (0.5°, monthly; "
                "one file for the whole record) with its scale factors and land mask",
                ("SCALE_FACTOR", "LAND_MASK")),
        Product("csr_mascon", "CSR RL06.3 mascons", None,
                "CSR GRACE/GRACE-FO RL06.3 mascons, all corrections applied (0.25°, monthly; "
                "one file for the whole record) with the v02 land mask (LO_val)",
                source="page",
                page="https://download.csr.utexas.edu/outgoing/grace/RL0603_mascons/",
                patterns=(r"CSR_GRACE_GRACE-FO_RL06\d*_Mascons_all-corrections(_v\d+)?\.nc",
                          r"CSR_GRACE_GRACE-FO_RL06\w*_LandMask\.nc")),
        Product("gsfc_mascon", "GSFC RL06 v2.0 mascons", None,
                "GSFC GRACE/GRACE-FO RL06 v2.0 mascons (OBP, ICE6G-D GIA) on the 0.5° grid "
                "(monthly; one file for the whole record)",
                source="page", page="https://earth.gsfc.nasa.gov/geo/data/grace-mascons",
                patterns=(r"gsfc\.glb_\.\d{6}_\d{6}_rl06v2\.0_obp-ice6gd_halfdegree\.nc",)),
        Product("gldas_noah025_m", "GLDAS_NOAH025_M", "2.1",
                "GLDAS Noah land-surface model 2.1, 0.25°, monthly (one file per month)"),
        Product("era5_land_monthly", "reanalysis-era5-land-monthly-means", None,
                "ERA5-Land monthly means, 0.1° (soil water layers 1-4, snow, skin reservoir, "
                "precipitation, 2 m temperature; one file per year) from the Copernicus CDS",
                source="cds", variables=ERA5_LAND_VARIABLES),
    )
}  # fmt: skip


def get_product(name: str) -> Product:
    """The product called ``name``, or a clear error listing the known ones.

    Examples
    --------
    >>> get_product("gldas_noah025_m").short_name
    'GLDAS_NOAH025_M'
    >>> get_product("csr_mascon").source
    'page'
    """
    try:
        return PRODUCTS[name]
    except KeyError:
        raise DownloadError(f"unknown product {name!r}; known: {', '.join(PRODUCTS)}") from None
