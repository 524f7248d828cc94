"""A local cache of downloaded files keyed by file name and checksum.

A file enters the cache only whole: bytes arrive in ``DIR/.partial/NAME.part``, a broken
connection resumes from the bytes already there (an HTTP ``Range`` request), and only a
file whose size and checksum match what the archive published is renamed into
``DIR/NAME``. ``DIR/cache.json`` records each cached file's checksum, size and source.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from gracefuse.errors import GracefuseError
from gracefuse.io import write_text

#: CMR's checksum algorithm names → :mod:`hashlib` names
ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
INDEX = "cache.json"
PARTIAL = ".partial"


class DownloadError(GracefuseError):
    """A download failed: no login, a refused login, an unknown product, a file whose
    checksum does not match, a server that keeps failing."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a product: where it is, its name in the cache and, where the archive
    publishes them, its checksum (``algorithm`` as CMR names it: ``MD5``, ``SHA-256``…)
    and size in bytes."""

    url: str
    name: str
    checksum: str | None = None
    algorithm: str | None = None
    size: int | None = None


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of ``path`` with a CMR-named ``algorithm``."""
    name = ALGORITHMS.get(algorithm.upper())
    if name is None:
        raise DownloadError(f"{path.name}: unknown checksum algorithm {algorithm!r}; "
                            f"known: {sorted(ALGORITHMS)}")  # fmt: skip
    h = hashlib.new(name)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Cache:
    """The files of ``root`` and their index.

    Examples
    --------
    >>> import tempfile
    >>> c = Cache(tempfile.mkdtemp())
    >>> c.has(RemoteFile("http://x/a.nc", "a.nc", "00", "MD5"))
    False
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.partial = self.root / PARTIAL
        self.partial.mkdir(parents=True, exist_ok=True)

    def index(self) -> dict[str, dict]:
        path = self.root / INDEX
        return json.loads(path.read_text()) if path.exists() else {}

    def path(self, remote: RemoteFile) -> Path:
        return self.root / remote.name

    def has(self, remote: RemoteFile) -> bool:
        """Whether ``remote`` is cached whole: the file is there and its recorded checksum
        (or, where none is published, its size) is the archive's."""
        entry = self.index().get(remote.name)
        if entry is None or not self.path(remote).exists():
            return False
        if remote.checksum:
            return entry.get("checksum", "").lower() == remote.checksum.lower()
        size = self.path(remote).stat().st_size
        return size == (remote.size if remote.size is not None else entry.get("bytes"))

    def admit(self, remote: RemoteFile, part: Path) -> Path:
        """Check ``part`` against ``remote``'s size and checksum and move it into the
        cache; a file that does not match is removed and named in the error."""
        size = part.stat().st_size
        problem = None
        if remote.size is not None and size != remote.size:
            problem = f"{size} bytes received, the archive lists {remote.size}"
        elif remote.checksum and remote.algorithm:
            got = file_digest(part, remote.algorithm)
            if got.lower() != remote.checksum.lower():
                problem = f"{remote.algorithm} {got} does not match the archive's {remote.checksum}"
        if problem:
            part.unlink()
            raise DownloadError(f"{remote.name} ({remote.url}): {problem}; the partial file "
                                "was removed, run the download again")  # fmt: skip
        target = self.path(remote)
        os.replace(part, target)
        index = self.index()
        index[remote.name] = {**asdict(remote), "bytes": size}
        if not remote.checksum:  # none published: record ours, to check the file later
            index[remote.name]["sha256"] = file_digest(target, "SHA-256")
        write_text(self.root / INDEX, json.dumps(index, indent=1, sort_keys=True))
        return target


def fetch(remote: RemoteFile, cache: Cache, session, retries: int = 5,
          progress: Callable[[int], None] | None = None) -> Path:  # fmt: skip
    """``remote`` in ``cache``, downloading what is missing with ``session`` (a
    :class:`requests.Session`, authenticated or not) and resuming after a broken
    connection, up to ``retries`` times in a row without progress. ``progress`` is told
    the bytes of the file held so far."""
    import requests

    if cache.has(remote):
        return cache.path(remote)
    part = cache.partial / f"{remote.name}.part"
    stalled = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            _stream(remote, session, part, before, progress)
            return cache.admit(remote, part)
        except requests.RequestException as err:
            grown = part.exists() and part.stat().st_size > before
            stalled = 0 if grown else stalled + 1
            if stalled > retries:
                raise DownloadError(f"{remote.name} ({remote.url}): {err}; {retries} retries "
                                    "without progress, the partial file is kept and the next "
                                    "run resumes it") from err  # fmt: skip


def _stream(remote: RemoteFile, session, part: Path, start: int, progress) -> None:
    """One GET of the bytes of ``remote`` from ``start`` on, appended to ``part``; a body
    shorter than the server announced is a broken connection."""
    import requests

    headers = {"Range": f"bytes={start}-"} if start else {}
    with session.get(remote.url, headers=headers, stream=True, timeout=60) as resp:
        if resp.status_code == 416 and start:  # nothing left to send: the part is whole
            return
        if resp.status_code in (401, 403):
            raise DownloadError(f"{remote.name} ({remote.url}): the server refused access "
                                f"(HTTP {resp.status_code}); check the Earthdata login and "
                                "that the product's licence was accepted")  # fmt: skip
        if resp.status_code >= 400:
            raise DownloadError(f"{remote.name} ({remote.url}): HTTP {resp.status_code}")
        if start and resp.status_code != 206:  # the server ignored the range: start over
            start = 0
        done, length = start, resp.headers.get("Content-Length")
        with open(part, "ab" if start else "wb") as fh:
            for block in resp.iter_content(1 << 16):
                fh.write(block)
                done += len(block)
                if progress:
                    progress(done)
        if length is not None and done - start < int(length):  # archives with no size listed
            raise requests.ConnectionError(f"connection closed after {done - start} of "
                                           f"{length} bytes")  # fmt: skip
