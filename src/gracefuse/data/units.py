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
    "kg/m^2": 1.0,
    "kg m**-2": 1.0,
    "kg m^-2": 1.0,
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
    if units is None:
        raise InputError(path, "has no 'units' attribute; cannot tell cm from mm", variable)
    key = str(units).strip().lower().replace("_", " ")
    if key not in _TO_MM:
        raise InputError(
            path,
            f"unknown units {units!r}; expected one of mm, cm, m or kg m-2",
            variable,
        )
    return _TO_MM[key]


def as_mm(da: xr.DataArray, path: str | os.PathLike | None, long_name: str) -> xr.DataArray:
    """``da`` converted to mm of equivalent water height, with CF attrs."""
    factor = to_mm_factor(da.attrs.get("units"), path, str(da.name))
    out = da * factor
    out.attrs = {"units": "mm", "long_name": long_name}
    return out
