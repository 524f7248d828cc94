"""``gracefuse download``: a product's files for a time range and box into a cache."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from gracefuse.download import earthdata
from gracefuse.download.cache import Cache, DownloadError, RemoteFile, fetch
from gracefuse.download.products import Product, get_product

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """``"W,S,E,N"`` (degrees) → a tuple, or a clear error.

    Examples
    --------
    >>> parse_box("68,8,97,37")
    (68.0, 8.0, 97.0, 37.0)
    """
    if text is None:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise DownloadError(f"--box {text!r}: give four numbers W,S,E,N in degrees") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise DownloadError(f"--box {text!r}: need -180 ≤ W < E ≤ 180 and -90 ≤ S < N ≤ 90")
    return w, s, e, n


def check_months(start: str, end: str) -> None:
    """``start`` and ``end`` are ``YYYY-MM`` and in order."""
    for flag, value in (("--start", start), ("--end", end)):
        if not MONTH.match(value):
            raise DownloadError(f"{flag} {value!r}: give a month as YYYY-MM")
    if start > end:
        raise DownloadError(f"--start {start} comes after --end {end}")


def download_product(name: str, start: str, end: str, box: str | None, to: Path,
                     search: Callable[..., list[RemoteFile]] = earthdata.search,
                     session=None, progress: bool = True) -> list[Path]:  # fmt: skip
    """Fetch the files of product ``name`` from ``start`` to ``end`` (``YYYY-MM``) in
    ``box`` into the cache ``to``; files already cached whole are not fetched again.

    ``search`` and ``session`` default to NASA Earthdata through earthaccess (login from
    the environment or ``~/.netrc``); tests give a local server's.
    """
    product: Product = get_product(name)
    check_months(start, end)
    bounds = parse_box(box)
    if session is None:
        earthdata.login()
        session = earthdata.session()
    files = search(product, start, end, bounds)
    cache = Cache(to)
    paths = []
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), disable=not progress) as bar:  # fmt: skip
        for remote in files:
            task = bar.add_task(remote.name, total=remote.size)
            paths.append(fetch(remote, cache, session,
                               progress=lambda n, t=task: bar.advance(t, n)))  # fmt: skip
            bar.update(task, completed=paths[-1].stat().st_size)
    return paths
