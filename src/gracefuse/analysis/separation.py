"""Groundwater from total storage: ``GWSA = TWSA − SMSA − SWEA − CWSA − SWSA`` with the
uncertainty of every term propagated, on series or grids.

Every component must be an anomaly in mm about the same baseline period as TWSA. A
component in another unit that is a water height (cm, m, kg m-2) is converted; a volume
(km³) needs the region's area; a component about another baseline is re-referenced to
TWSA's. Each conversion is logged, never silent. Errors add in quadrature (independent
components, the usual choice and NASA JPL's) or linearly (fully correlated, an upper bound).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.units import to_mm_factor
from gracefuse.errors import InputError

log = logging.getLogger(__name__)

#: how component errors combine: independent (quadrature) or fully correlated (linear sum)
CORRELATIONS = ("independent", "correlated")
#: components' mean over the baseline beyond this fraction of their spread (std) counts as
#: another baseline
BASELINE_TOLERANCE = 0.05


def volume_to_mm(da: xr.DataArray, area_km2: float) -> xr.DataArray:
    """A water volume in km³ over ``area_km2`` as a height in mm (``1e6 / area``; NASA's
    California factor 6.4488 is ``1e6 / 155 067.931``).

    Examples
    --------
    >>> float(volume_to_mm(xr.DataArray(1.0, attrs={"units": "km3"}), 155067.931).round(4))
    6.4488
    """
    out = da * (1e6 / area_km2)
    out.attrs = {**da.attrs, "units": "mm"}
    return out


def in_mm(da: xr.DataArray, name: str, area_km2: float | None = None) -> xr.DataArray:
    """``da`` in mm: a water height converted by its ``units``, a volume (``km3``) by the
    area. Raises a clear :class:`InputError` naming ``name`` otherwise."""
    units = str(da.attrs.get("units", "")).strip()
    if units.replace("^", "").replace("**", "").lower() in ("km3", "km 3", "cubic km"):
        if area_km2 is None:
            raise InputError(None, f"is in {units}; a volume needs the region's area "
                             "(area_km2) to become mm", name)  # fmt: skip
        log.info("%s: %s → mm over %.3f km² (× %.4f)", name, units, area_km2, 1e6 / area_km2)
        return volume_to_mm(da, area_km2)
    factor = to_mm_factor(units or None, None, name)
    if factor != 1.0:
        log.info("%s: %s → mm (× %g)", name, units, factor)
    out = da * factor
    out.attrs = {**da.attrs, "units": "mm"}
    return out


def rereference(da: xr.DataArray, name: str, baseline: tuple[str, str]) -> xr.DataArray:
    """``da`` as an anomaly about ``baseline`` (start, end months). A component whose mean
    over that period is not ~0 was referenced to another period: its mean there is
    subtracted and the change logged."""
    period = da.sel(time=slice(pd.Timestamp(baseline[0]), pd.Timestamp(baseline[1])))
    if period.sizes["time"] == 0 or not np.isfinite(period.values).any():
        raise InputError(None, f"has no values in the baseline {baseline[0]}..{baseline[1]}",
                         name)  # fmt: skip
    mean = period.mean("time")
    spread = float(da.std().values) or 1.0
    if float(np.nanmax(np.abs(np.atleast_1d(mean.values)))) > BASELINE_TOLERANCE * spread:
        log.warning("%s is not an anomaly about %s..%s (mean there %.3g mm); re-referenced "
                    "to that baseline", name, *baseline, float(np.nanmean(mean.values)))  # fmt: skip
        da = (da - mean).assign_attrs(da.attrs)
    return da


def _error(err, like: xr.DataArray, name: str, area_km2: float | None) -> xr.DataArray:
    """A component's 1σ error: an array (converted like the component) or a fraction of
    the component's own standard deviation (a number in ``(0, 1]``)."""
    if err is None:
        return xr.zeros_like(like)
    if isinstance(err, int | float):
        if not 0 <= err <= 1:
            raise InputError(None, f"error fraction {err} must be in [0, 1]", name)
        return xr.full_like(like, float(err) * float(like.std().values))
    e = in_mm(err, f"{name} error", area_km2)
    if float(e.min()) < 0:
        raise InputError(None, "has negative errors", f"{name} error")
    return e


def separate(twsa: xr.DataArray, components: dict[str, xr.DataArray],
             errors: dict[str, object] | None = None, baseline: tuple[str, str] | None = None,
             correlation: str = "independent", area_km2: float | None = None) -> xr.Dataset:  # fmt: skip
    """``gwsa = twsa − Σ components`` and its 1σ uncertainty.

    Parameters
    ----------
    twsa
        Total storage anomaly ``(time, …)`` with ``units``.
    components
        ``name → (time, …)`` anomalies on the same grid (``sm``, ``swe``, ``canopy``,
        ``surface_water``, ``reservoirs``…).
    errors
        ``name → `` 1σ error: an array, or a fraction of the component's std; the key
        ``"twsa"`` is TWSA's. Missing entries count as error-free.
    baseline
        ``(start, end)`` of the anomalies; components about another period are
        re-referenced (logged). ``None``: no check.
    correlation
        ``"independent"`` (quadrature) or ``"correlated"`` (linear sum).
    area_km2
        Area for components given as volumes (km³).

    Returns
    -------
    xr.Dataset
        ``gwsa``, ``gwsa_uncertainty``, and each component and its ``<name>_uncertainty``,
        in mm on TWSA's times (months where a component is missing are NaN).
    """
    if correlation not in CORRELATIONS:
        raise InputError(None, f"correlation {correlation!r}: choose {CORRELATIONS}", "errors")
    errors = dict(errors or {})
    tws = in_mm(twsa, "twsa", area_km2)
    if baseline is not None:
        tws = rereference(tws, "twsa", baseline)
    out = {"twsa": tws, "twsa_uncertainty": _error(errors.get("twsa"), tws, "twsa", area_km2)}
    gwsa = tws
    for name, comp in components.items():
        c = in_mm(comp, name, area_km2)
        if set(c.dims) != set(tws.dims):
            raise InputError(None, f"has dims {c.dims}, TWSA {tws.dims}: regrid it first",
                             name)  # fmt: skip
        if baseline is not None:
            c = rereference(c, name, baseline)
        c = c.reindex_like(tws) if "time" in c.dims else c
        out[name] = c
        out[f"{name}_uncertainty"] = _error(errors.get(name), c, name, area_km2)
        gwsa = gwsa - c
    sig = [out[k] for k in out if k.endswith("_uncertainty")]
    if correlation == "independent":
        unc = np.sqrt(sum(s**2 for s in sig))
    else:
        unc = sum(sig)
    ds = xr.Dataset({"gwsa": gwsa, "gwsa_uncertainty": unc, **out})
    for k in ds.data_vars:
        ds[k].attrs = {"units": "mm", "long_name": k.replace("_", " ")}
    ds["gwsa_uncertainty"].attrs["correlation"] = correlation
    ds.attrs["gwsa"] = f"twsa - {' - '.join(components)}"
    return ds
