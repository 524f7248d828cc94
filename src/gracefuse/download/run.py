"""``gracefuse download``: a product's files for a time range and box into a cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from gracefuse.download import earthdata, pages
from gracefuse.download.cache import Cache, DownloadError, RemoteFile, fetch
from gracefuse.download.cds import download as cds_download
from gracefuse.download.products import get_product
from gracefuse.limits import check_box, parse_month


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """``"W,S,E,N"`` (degrees) → a tuple, or a clear error
    (:func:`~gracefuse.limits.check_box`).

    Examples
    --------
    >>> parse_box("68,8,97,37")
    (68.0, 8.0, 97.0, 37.0)
    """
    if text is None:
        return None
    where = f"--box {text!r} (W,S,E,N in degrees; need W < E and S < N)"
    try:
        parts = text.split(",")
        if len(parts) != 4:
            raise ValueError(f"give four numbers, not {len(parts)}")
        w, s, e, n = (float(v) for v in parts)
        check_box(s, n, w, e)
        if e > 180:
            raise ValueError("Earthdata takes longitudes in [-180, 180]")
    except ValueError as err:
        raise DownloadError(f"{where}: {err}") from None
    return w, s, e, n


def check_months(start: str, end: str) -> None:
    """``start`` and ``end`` are months (:func:`~gracefuse.limits.parse_month`) in order."""
    try:
        start, end = parse_month(start, "--start"), parse_month(end, "--end")
    except ValueError as err:
        raise DownloadError(str(err)) from None
    if start > end:
        raise DownloadError(f"--start {start} comes after --end {end}")


def download_product(name: str, start: str, end: str, box: str | None, to: Path,
                     search: Callable[..., list[RemoteFile]] | None = None,
                     session=None, progress: bool = True, cds=None) -> list[Path]:  # fmt: skip
    """Fetch the files of product ``name`` from ``start`` to ``end`` (``YYYY-MM``) in
    ``box`` into the cache ``to``; files already cached whole are not fetched again.

    Where each product comes from is :mod:`gracefuse.download.products`' ``source``:
    ``search`` and ``session`` default to NASA Earthdata through earthaccess (login from
    the environment or ``~/.netrc``) or, for a centre's ``page``, to reading that page
    with a plain session; ``cds`` defaults to a ``cdsapi`` client. Tests give a local
    server's search and session, or a stand-in client.
    """
    product = get_product(name)
    check_months(start, end)
    bounds = parse_box(box)
    cache = Cache(to)
    if product.source == "cds":
        return cds_download(product, start, end, bounds, cache, cds, progress)
    if session is None:
        session = _session(product)
    if search is None:
        search = earthdata.search if product.source == "earthdata" else \
            (lambda p, s, e, b: pages.search(p, session))  # fmt: skip
    files = search(product, start, end, bounds)
    paths = []
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), disable=not progress) as bar:  # fmt: skip
        for remote in files:
            task = bar.add_task(remote.name, total=remote.size)
            paths.append(fetch(remote, cache, session,
                               progress=lambda done, t=task: bar.update(t, completed=done)))  # fmt: skip
            bar.update(task, completed=paths[-1].stat().st_size)  # a cached file too
    return paths


def _session(product):
    """An Earthdata session after logging in, or a plain one for a centre's page."""
    if product.source == "earthdata":
        earthdata.login()
        return earthdata.session()
    import requests

    return requests.Session()
