"""ERA5-Land from the Copernicus Climate Data Store through ``cdsapi`` (the optional
``era5`` extra: ``pip install 'gracefuse[era5]'``), into the same cache as NASA's files.

One request per calendar year (the CDS queues and caps requests; a year of monthly means
for a basin or a continent is one modest file). The login is cdsapi's own: ``CDSAPI_URL``
and ``CDSAPI_KEY`` in the environment, else ``~/.cdsapirc``; the dataset's licence must
have been accepted once on the CDS web site.

A request's file is written to ``DIR/.partial`` and enters the cache only when it is a
whole netCDF file; the CDS cannot resume a download across runs, so an interrupted year is
requested again (years already cached are not). The cache name holds the year, the months
and the box: ``ERA5-Land_monthly_2003_01-12_W68S8E97N37.nc`` (``_global`` with no box).
"""

from __future__ import annotations

from pathlib import Path

from gracefuse.download.cache import Cache, DownloadError, RemoteFile
from gracefuse.download.products import Product

LOGIN_HELP = ("set CDSAPI_URL and CDSAPI_KEY, or write ~/.cdsapirc with 'url: "
              "https://cds.climate.copernicus.eu/api' and 'key: YOUR-KEY'")  # fmt: skip
#: the first bytes of a netCDF-3 (``CDF``) or netCDF-4/HDF5 file
NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


def box_tag(box: tuple[float, float, float, float] | None) -> str:
    """A file-name tag for a box (W, S, E, N degrees).

    >>> box_tag((68, 8, 97, 37.5)), box_tag(None)
    ('W68S8E97N37.5', 'global')
    """
    if box is None:
        return "global"
    w, s, e, n = box
    return f"W{w:g}S{s:g}E{e:g}N{n:g}"


def requests_for(product: Product, start: str, end: str,
                 box: tuple[float, float, float, float] | None) -> list[tuple[RemoteFile, dict]]:  # fmt: skip
    """One (cache entry, CDS request) per calendar year from ``start`` to ``end``
    (``YYYY-MM``), months clipped to the range; ``area`` is the CDS's N, W, S, E.

    >>> from gracefuse.download.products import get_product
    >>> (f, r), = requests_for(get_product("era5_land_monthly"), "2003-03", "2003-05", None)
    >>> f.name, r["month"], r["data_format"]
    ('ERA5-Land_monthly_2003_03-05_global.nc', ['03', '04', '05'], 'netcdf')
    """
    (y0, m0), (y1, m1) = ((int(v) for v in t.split("-")) for t in (start, end))
    out = []
    for year in range(y0, y1 + 1):
        months = range(m0 if year == y0 else 1, (m1 if year == y1 else 12) + 1)
        request = {"product_type": ["monthly_averaged_reanalysis"],
                   "variable": list(product.variables), "year": [str(year)],
                   "month": [f"{m:02d}" for m in months], "time": ["00:00"],
                   "data_format": "netcdf", "download_format": "unarchived"}  # fmt: skip
        if box is not None:
            w, s, e, n = box
            request["area"] = [n, w, s, e]
        name = f"ERA5-Land_monthly_{year}_{months[0]:02d}-{months[-1]:02d}_{box_tag(box)}.nc"
        out.append((RemoteFile(f"cds:{product.short_name}", name), request))
    return out


def client(progress: bool = True):
    """A ``cdsapi.Client`` with cdsapi's own login, or a clear error."""
    try:
        import cdsapi
    except ImportError:
        raise DownloadError(
            "ERA5-Land downloads need cdsapi: pip install 'gracefuse[era5]'"
        ) from None
    try:
        return cdsapi.Client(quiet=not progress, progress=progress)
    except Exception as err:  # cdsapi raises a bare Exception for a missing login
        raise DownloadError(f"no Copernicus CDS login found ({err}): {LOGIN_HELP}") from None


def fetch(product: Product, remote: RemoteFile, request: dict, cache: Cache, cds) -> Path:
    """``remote`` in ``cache``, retrieved with the client ``cds`` unless cached whole."""
    if cache.has(remote):
        return cache.path(remote)
    part = cache.partial / f"{remote.name}.part"
    try:
        cds.retrieve(product.short_name, request, str(part))
    except Exception as err:  # cdsapi raises bare Exceptions (refused login, licence, ...)
        part.unlink(missing_ok=True)
        raise DownloadError(f"{remote.name}: the CDS refused or failed the request for "
                            f"{product.short_name} ({err}); nothing was cached") from None  # fmt: skip
    with open(part, "rb") as fh:
        head = fh.read(8)
    if not any(head.startswith(m) for m in NETCDF_MAGIC):
        part.unlink()
        raise DownloadError(f"{remote.name}: the CDS sent a file that is not netCDF (it "
                            f"starts {head!r}); nothing was cached")  # fmt: skip
    return cache.admit(remote, part)


def download(product: Product, start: str, end: str, box, cache: Cache, cds=None,
             progress: bool = True) -> list:  # fmt: skip
    """Every year of ``product`` from ``start`` to ``end`` in ``cache``; ``cds`` defaults
    to :func:`client` (made only when a year is missing from the cache)."""
    jobs = requests_for(product, start, end, box)
    if cds is None and not all(cache.has(remote) for remote, _ in jobs):
        cds = client(progress)
    return [fetch(product, remote, request, cache, cds) for remote, request in jobs]
