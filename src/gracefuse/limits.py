"""Limits every setting is checked against before anything loads: months, boxes, sizes.

These are small pure functions used by the recipe models (:mod:`gracefuse.config`), the
twin's settings and the CLI, so that a nonsense value is refused with one message before
a run folder exists or a byte of data is read.
"""

from __future__ import annotations

import os
import re

import pandas as pd

#: the twin's forcing (and so every twin) starts here
FIRST_MONTH = "1979-01"
#: the last month the twin can simulate
LAST_MONTH = "2030-12"
#: measured peak memory of building a twin (``make_twin``): a fixed part and a part per
#: grid cell and simulated month (0.57 GB at 32², 0.84 GB at 64², 2.96 GB at 128² for
#: 1969–2017 with spin-up, measured with ``/usr/bin/time -f %M``)
TWIN_BASE_BYTES = 0.5e9
TWIN_BYTES_PER_CELL_MONTH = 300.0
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def parse_month(value: str, what: str = "month") -> str:
    """``value`` as ``YYYY-MM`` (a ``YYYY-MM-DD`` date is cut to its month).

    Raises
    ------
    ValueError
        When ``value`` is not a calendar month.

    Examples
    --------
    >>> parse_month("2002-04-15")
    '2002-04'
    >>> parse_month("2002-13")
    Traceback (most recent call last):
    ...
    ValueError: month '2002-13' is not a month of the form YYYY-MM
    """
    text = str(value).strip()
    try:
        if not (_MONTH.match(text) or re.match(r"^\d{4}-\d{2}-\d{2}$", text)):
            raise ValueError
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ValueError(f"{what} {value!r} is not a month of the form YYYY-MM") from None
    return f"{ts:%Y-%m}"


def check_span(start: str, end: str, first: str = FIRST_MONTH, last: str = LAST_MONTH) -> None:
    """``first <= start < end <= last`` for ``YYYY-MM`` months; a ValueError otherwise.

    Examples
    --------
    >>> check_span("1900-01", "2000-01")
    Traceback (most recent call last):
    ...
    ValueError: start 1900-01 is before 1979-01, the first month of the twin's forcing
    """
    if start < first:
        raise ValueError(f"start {start} is before {first}, the first month of the twin's forcing")
    if end > last:
        raise ValueError(f"end {end} is after {last}, the last month the twin can simulate")
    if start >= end:
        raise ValueError(f"start {start} must be before end {end}")


def check_box(south: float, north: float, west: float, east: float) -> None:
    """A valid lat/lon box: ``-90 <= south < north <= 90``, ``-180 <= west < east <= 360``.

    Examples
    --------
    >>> check_box(30, 10, 60, 100)
    Traceback (most recent call last):
    ...
    ValueError: box (south, north, west, east) = (30, 10, 60, 100): south must be below north
    """
    box = f"box (south, north, west, east) = ({south:g}, {north:g}, {west:g}, {east:g})"
    if not all(map(_finite, (south, north, west, east))):
        raise ValueError(f"{box}: every edge must be a finite number")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise ValueError(f"{box}: latitudes must lie in [-90, 90]")
    if south >= north:
        raise ValueError(f"{box}: south must be below north")
    if not (-180 <= west <= 360 and -180 <= east <= 360):
        raise ValueError(f"{box}: longitudes must lie in [-180, 360]")
    if west >= east:
        raise ValueError(f"{box}: west must be less than east (a box across 180° is not supported)")


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


def total_memory_bytes() -> int:
    """Physical memory of this machine (bytes); 8 GB when the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def twin_memory_bytes(size: int, end: str = "2017-12", fine: bool = False) -> float:
    """Estimated peak memory (bytes) of building a ``size × size`` twin that ends at ``end``
    (with ``fine``: also its 4× fine grid and wells, measured at 1.75 times the twin's)."""
    months = (int(max(end, "2017-12")[:4]) - 1969 + 1) * 12
    per_cell = TWIN_BYTES_PER_CELL_MONTH * (1.75 if fine else 1.0)
    return TWIN_BASE_BYTES + per_cell * size * size * months


def check_twin_size(size: int, end: str = "2017-12", fine: bool = False) -> None:
    """Refuse a twin that will not fit in 80 % of this machine's memory (before building it).

    Examples
    --------
    >>> check_twin_size(100000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: a 100000×100000 twin needs about ...
    """
    need, have = twin_memory_bytes(size, end, fine), 0.8 * total_memory_bytes()
    if need > have:
        per_cell = twin_memory_bytes(1, end, fine) - TWIN_BASE_BYTES
        largest = int(((have - TWIN_BASE_BYTES) / per_cell) ** 0.5)
        raise ValueError(
            f"a {size}×{size} twin needs about {need / 1e9:.0f} GB of memory; this machine "
            f"allows {have / 1e9:.0f} GB (size {largest} at most)"
        )


def check_twin(size: int, start: str, end: str) -> None:
    """The checks every twin setting passes: its span (:func:`check_span`) and its size
    against memory (:func:`check_twin_size`)."""
    check_span(start, end)
    check_twin_size(size, end)
