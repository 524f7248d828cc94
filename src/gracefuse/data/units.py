"""Unit handling for water heights and fluxes: everything becomes mm inside gracefuse."""

from __future__ import annotations

import os

import xarray as xr

from gracefuse.errors import InputError

#: factor that turns a water height in the given units into mm
_TO_MM: dict[str, float] = {
    "mm": 1.0,
    "millimeter": 1.0,
    "millimeters": 1.0,
    "mm we": 1.0,
    "cm": 10.0,
    "centimeter": 10.0,
    "centimeters": 10.0,
    "cm we": 10.0,
    "m": 1000.0,
    "meter": 1000.0,
    "meters": 1000.0,
    "m of water equivalent": 1000.0,
    "kg m-2": 1.0,
    "kg/m2": 1.0,
}


def to_mm_factor(units: str | None, path: str | os.PathLike | None, variable: str) -> float:
    """Factor converting a water height in ``units`` to mm.

    Raises
    ------
    InputError
        If ``units`` is missing or not a water-height unit, naming the file and variable.

    Examples
    --------
    >>> to_mm_factor("cm", "grace.nc", "lwe_thickness")
    10.0
    """
    return _lookup(_TO_MM, units, path, variable, "water height")


def as_mm(da: xr.DataArray, path: str | os.PathLike | None, long_name: str) -> xr.DataArray:
    """``da`` converted to mm of equivalent water height, with CF attrs."""
    factor = to_mm_factor(da.attrs.get("units"), path, str(da.name))
    out = da * factor
    out.attrs = {"units": "mm", "long_name": long_name}
    return out


def _key(units: object) -> str:
    """Units text without spaces, underscores, ``**``, ``^`` and case:
    ``kg m**-2 s**-1`` → ``kgm-2s-1``, ``m_of_water_equivalent`` → ``mofwaterequivalent``."""
    text = str(units).strip().lower()
    return "".join(text.replace("**", "").replace("^", "").replace("_", " ").split())


#: rates of water per area and second (kg m-2 s-1 = mm s-1) → factor to mm s-1
_RATE = {"kg m-2 s-1": 1.0, "kg/m2/s": 1.0, "kg m-2/s": 1.0, "mm s-1": 1.0, "mm/s": 1.0}
#: daily depths (ERA5-Land monthly means of daily totals) → factor to mm per day
_DAILY_DEPTH = {"m": 1000.0, "mm": 1.0, "m day-1": 1000.0, "mm day-1": 1.0, "m/day": 1000.0,
                "mm/day": 1.0}  # fmt: skip
#: temperatures → offset to K
_TEMPERATURE = {"K": 0.0, "kelvin": 0.0, "degC": 273.15, "C": 273.15, "celsius": 273.15,
                "°C": 273.15, "degree_Celsius": 273.15, "degrees_Celsius": 273.15}  # fmt: skip
#: volumetric soil water → factor to m3 m-3
_FRACTION = {"m3 m-3": 1.0, "m3/m3": 1.0, "1": 1.0, "fraction": 1.0, "-": 1.0,
             "%": 0.01, "percent": 0.01}  # fmt: skip


def _lookup(table: dict[str, float], units, path, variable: str, what: str) -> float:
    """``table``'s value for ``units`` (compared by :func:`_key`), or an :class:`InputError`
    naming the file and variable when the units are missing or not in the table."""
    if units is None:
        raise InputError(path, f"has no 'units' attribute; cannot tell the {what} units", variable)
    factor = {_key(k): v for k, v in table.items()}.get(_key(units))
    if factor is None:
        raise InputError(
            path,
            f"unknown units {units!r} for a {what}; expected one of {', '.join(table)}",
            variable,
        )
    return factor


def rate_factor(units, path, variable: str) -> float:
    """Factor to mm s⁻¹ for a water flux rate (``kg m-2 s-1``, ``mm s-1``)."""
    return _lookup(_RATE, units, path, variable, "water flux rate")


def daily_depth_factor(units, path, variable: str) -> float:
    """Factor to mm per day for a daily depth (ERA5-Land ``tp`` in ``m``)."""
    return _lookup(_DAILY_DEPTH, units, path, variable, "daily precipitation depth")


def kelvin_offset(units, path, variable: str) -> float:
    """Offset to K for a temperature (``K``, ``degC``).

    Examples
    --------
    >>> kelvin_offset("degC", "t.nc", "t2m")
    273.15
    """
    return _lookup(_TEMPERATURE, units, path, variable, "temperature")


def fraction_factor(units, path, variable: str) -> float:
    """Factor to m³ m⁻³ for volumetric soil water (``m**3 m**-3`` or ``%``).

    Examples
    --------
    >>> fraction_factor("m**3 m**-3", "e.nc", "swvl1"), fraction_factor("%", "e.nc", "swvl1")
    (1.0, 0.01)
    """
    return _lookup(_FRACTION, units, path, variable, "volumetric soil water")
