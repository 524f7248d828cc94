"""The products ``gracefuse download`` knows by name, as NASA's Common Metadata
Repository (CMR) names their collections.

CSR and GSFC mascons are not in this list yet: their centres publish them on their own
sites rather than through Earthdata; download them by hand and ``gracefuse info`` reads
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gracefuse.download.cache import DownloadError


@dataclass(frozen=True)
class Product:
    """A collection on NASA Earthdata.

    ``companions`` are name fragments of files the readers need beside the data (the JPL
    mascons' scale factors and land mask); they are fetched whatever the dates.
    """

    name: str
    short_name: str
    version: str | None
    description: str
    companions: tuple[str, ...] = ()


PRODUCTS = {
    p.name: p
    for p in (
        Product("jpl_mascon", "TELLUS_GRAC-GRFO_MASCON_CRI_GRID_RL06.3_V4", None,
                "JPL GRACE/GRACE-FO mascons RL06.3 v04 with the CRI filter (0.5°, monthly; "
                "one file for the whole record) with its scale factors and land mask",
                ("SCALE_FACTOR", "LAND_MASK")),
        Product("gldas_noah025_m", "GLDAS_NOAH025_M", "2.1",
                "GLDAS Noah land-surface model 2.1, 0.25°, monthly (one file per month)"),
    )
}  # fmt: skip


def get_product(name: str) -> Product:
    """The product called ``name``, or a clear error listing the known ones.

    Examples
    --------
    >>> get_product("gldas_noah025_m").short_name
    'GLDAS_NOAH025_M'
    """
    try:
        return PRODUCTS[name]
    except KeyError:
        raise DownloadError(f"unknown product {name!r}; known: {', '.join(PRODUCTS)}") from None
