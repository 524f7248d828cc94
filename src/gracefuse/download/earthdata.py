"""NASA Earthdata through earthaccess: the login (``EARTHDATA_USERNAME`` and
``EARTHDATA_PASSWORD`` or ``EARTHDATA_TOKEN`` in the environment, else ``~/.netrc``, as
earthaccess reads them), the search of a product's files in a time range and box, and
an authenticated HTTP session for :func:`~gracefuse.download.cache.fetch`.

earthaccess is the optional ``download`` extra (``pip install 'gracefuse[download]'``).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlparse

from gracefuse.download.cache import DownloadError, RemoteFile
from gracefuse.download.products import Product

LOGIN_HELP = ("set EARTHDATA_USERNAME and EARTHDATA_PASSWORD (or EARTHDATA_TOKEN), or add "
              "'machine urs.earthdata.nasa.gov login USER password PASS' to ~/.netrc")  # fmt: skip


def _earthaccess():
    try:
        import earthaccess
    except ImportError:
        raise DownloadError("downloads from NASA Earthdata need earthaccess: "
                            "pip install 'gracefuse[download]'") from None  # fmt: skip
    return earthaccess


def login():
    """Log in to Earthdata from the environment or ``~/.netrc`` (never a prompt)."""
    ea = _earthaccess()
    from earthaccess.exceptions import LoginAttemptFailure, LoginStrategyUnavailable

    for strategy in ("environment", "netrc"):
        try:
            auth = ea.login(strategy=strategy)
        except LoginStrategyUnavailable:
            continue
        except LoginAttemptFailure as err:
            raise DownloadError(f"Earthdata refused the login ({strategy}): {err}") from None
        if auth is not None and auth.authenticated:
            return auth
    raise DownloadError(f"no Earthdata login found: {LOGIN_HELP}")


def granule_files(granule) -> list[RemoteFile]:
    """The HTTPS files of one CMR granule with the checksums and sizes CMR lists."""
    info = granule["umm"].get("DataGranule", {}).get("ArchiveAndDistributionInformation", [])
    by_name = {i.get("Name"): i for i in info}
    files = []
    for url in granule.data_links(access="external"):
        name = PurePosixPath(urlparse(url).path).name
        meta = by_name.get(name, {})
        check = meta.get("Checksum", {})
        size = meta.get("SizeInBytes")
        files.append(RemoteFile(url, name, check.get("Value"), check.get("Algorithm"),
                                int(size) if size is not None else None))  # fmt: skip
    return files


def search(product: Product, start: str, end: str,
           box: tuple[float, float, float, float] | None) -> list[RemoteFile]:  # fmt: skip
    """The files of ``product`` from ``start`` to ``end`` (``YYYY-MM``) within ``box``
    (west, south, east, north in degrees), plus its companion files."""
    ea = _earthaccess()
    query = {"short_name": product.short_name, "temporal": (start, end)}
    if product.version:
        query["version"] = product.version
    if box:
        query["bounding_box"] = box
    files = [f for g in ea.search_data(**query) for f in granule_files(g)]
    if product.companions:
        every = [f for g in ea.search_data(short_name=product.short_name) for f in granule_files(g)]
        files += [f for f in every if any(c in f.name for c in product.companions)]
    unique = {f.name: f for f in files}
    if not unique:
        raise DownloadError(f"{product.name}: no file of {product.short_name} between {start} "
                            f"and {end}" + (f" in box {box}" if box else ""))  # fmt: skip
    return sorted(unique.values(), key=lambda f: f.name)


def session():
    """An authenticated :class:`requests.Session` for the archive's HTTPS links."""
    return _earthaccess().get_requests_https_session()
