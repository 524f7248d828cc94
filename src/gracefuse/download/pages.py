"""Products a processing centre publishes on its own download page (CSR and GSFC
mascons): the page is read, its links whose file names match the product's patterns are
the files, fetched over plain HTTPS with no login.

The centres publish no checksums for these files: the cache checks the size the server
sends and records each file's SHA-256 (:meth:`~gracefuse.download.cache.Cache.admit`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlparse

from gracefuse.download.cache import DownloadError, RemoteFile
from gracefuse.download.products import Product


class _Links(HTMLParser):
    """The ``href`` of every ``<a>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [v for k, v in attrs if k == "href" and v]


def page_links(html: str, base: str) -> dict[str, str]:
    """File name → absolute URL of the links of ``html`` (a page at ``base``).

    Examples
    --------
    >>> page_links('<a href="x/A.nc">A</a> <a href="https://h/B.nc?dl=1">B</a>', "https://s/d/")
    {'A.nc': 'https://s/d/x/A.nc', 'B.nc': 'https://h/B.nc?dl=1'}
    """
    parser = _Links()
    parser.feed(html)
    links = {}
    for href in parser.links:
        url = urljoin(base, href)
        name = unquote(PurePosixPath(urlparse(url).path).name)
        if name:
            links.setdefault(name, url)
    return links


def _read_page(url: str, session, attempts: int = 3) -> str:
    """The text of ``url``, trying again after a broken connection."""
    import requests

    for attempt in range(attempts):
        try:
            resp = session.get(url, timeout=60)
            if resp.status_code >= 400:
                raise DownloadError(f"{url}: HTTP {resp.status_code} reading the download page")
            return resp.text
        except requests.RequestException as err:
            if attempt == attempts - 1:
                raise DownloadError(f"{url}: {err} reading the download page "
                                    f"({attempts} tries)") from err  # fmt: skip
    raise AssertionError("unreachable")


def search(product: Product, session) -> list[RemoteFile]:
    """The files of a ``page`` product: for each of its patterns, the newest (last by
    name) linked file whose whole name matches; a pattern with no match is an error that
    names the page, so a renamed release is noticed rather than half-downloaded."""
    links = page_links(_read_page(product.page, session), product.page)
    files = []
    for pattern in product.patterns:
        names = sorted(n for n in links if re.fullmatch(pattern, n))
        if not names:
            raise DownloadError(
                f"{product.name}: the page {product.page} links no file matching "
                f"{pattern!r}; the centre may have renamed its release: download the file "
                "by hand into the cache folder (gracefuse info reads it)"
            )
        files.append(RemoteFile(links[names[-1]], names[-1]))
    return files
