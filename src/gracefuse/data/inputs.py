"""One loader for every method: what a user of real products has, never the truth.

:func:`load_inputs` reads (or, for the twin, makes) the inputs a recipe names and returns
:class:`Inputs`: ``observed`` holds the LSM's storage and **its own forcing** (the
precipitation and temperature that drove it), GRACE with its gaps and stated uncertainty,
and the land mask; the twin's truth goes to ``reference`` and is used for scoring only.
No model input, sample, scaler, interval or choice is computed from ``reference``.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import xarray as xr

from gracefuse.config import FileSource, GraceOnlySource, TwinSource
from gracefuse.data.anomalies import GRACE_BASELINE, anomalies
from gracefuse.data.grace import open_grace
from gracefuse.data.grid import Box, regrid_conservative, to_image_grid
from gracefuse.data.lsm import open_lsm
from gracefuse.data.tables import open_wells
from gracefuse.data.twin import make_twin, make_wells
from gracefuse.errors import InputError

#: twin variable → name in ``Inputs.observed`` (what a user of real products has)
TWIN_OBSERVED = {
    "twsa_lsm": "twsa_lsm",
    "lsm_precip": "precip",
    "tair": "tair",
    "twsa_grace": "twsa_grace",
    "twsa_grace_uncertainty": "twsa_grace_uncertainty",
    "land_mask": "land_mask",
}
#: twin truth kept for scoring (never an input)
TWIN_REFERENCE = ("twsa_true", "twsa_grace_clean", "gwsa_true")


@dataclass
class Inputs:
    """The inputs of a run on its working grid.

    Attributes
    ----------
    observed
        ``(time, lat, lon)``: ``twsa_grace`` (mm, NaN where GRACE is missing),
        ``land_mask``, and where available ``twsa_grace_uncertainty``, ``twsa_lsm`` (mm),
        ``precip`` (the LSM's forcing, mm/month) and ``tair`` (K).
    reference
        The twin's truth for scoring (``twsa_true``, ``twsa_grace_clean``, ``gwsa_true``);
        ``None`` for real data.
    native
        GRACE on its own grid when the working grid differs (outputs go back to it).
    wells
        ``well_id, lat, lon, time, value`` or ``None``.
    """

    observed: xr.Dataset
    reference: xr.Dataset | None = None
    native: xr.Dataset | None = None
    wells: pd.DataFrame | None = None
    source: str = "twin"


def inputs_from_twin(twin: xr.Dataset, n_wells: int = 40) -> Inputs:
    """Split a twin into what a user would have (``observed``) and its truth (``reference``).

    Examples
    --------
    >>> tw = make_twin(size=8, seed=0, end="2005-12", make_fine=False)
    >>> inp = inputs_from_twin(tw, n_wells=0)
    >>> sorted(inp.observed.data_vars)[:3], "precip" in inp.reference
    (['land_mask', 'precip', 'tair'], False)
    """
    observed = twin[list(TWIN_OBSERVED)].rename({k: v for k, v in TWIN_OBSERVED.items() if k != v})
    observed.attrs = {"source_product": "gracefuse_twin", "twin_config": twin.attrs["twin_config"]}
    reference = twin[[v for v in TWIN_REFERENCE if v in twin]]
    wells = None
    if n_wells:
        wells = make_wells(twin, n_wells=n_wells).rename(columns={"head_anomaly_m": "value"})
    return Inputs(observed=observed, reference=reference, wells=wells, source="twin")


def _wells_table(src: FileSource) -> pd.DataFrame | None:
    if not src.wells:
        return None
    w = open_wells(src.wells, src.wells_value)
    name = w.attrs["value_variable"]
    table = w[name].to_dataframe().reset_index()
    return table.rename(columns={name: "value", "well": "well_id"}).dropna(subset=["value"])


def _files_on_image(src: FileSource, size: int) -> Inputs:
    """GRACE and the LSM resampled to a ``size × size`` image of the box (Sun et al.)."""
    box = Box(*src.box)
    grace = open_grace(src.grace, src.grace_scale_factors, src.grace_land_mask, box=box)
    lsm = open_lsm(src.lsm, src.lsm_model, box=box)
    if grace.sizes["lat"] < 2 or lsm.sizes["lat"] < 2:
        raise InputError(src.grace, f"the box {src.box} holds fewer than 2 grid rows")
    lsm_img = to_image_grid(lsm[[v for v in ("twsa", "precip", "tair") if v in lsm]], box, size)
    keep = [v for v in ("twsa", "twsa_uncertainty") if v in grace]
    grace_img = to_image_grid(grace[keep], box, size).reindex(time=lsm_img["time"])
    observed = lsm_img.rename({"twsa": "twsa_lsm"})
    observed["twsa_grace"] = grace_img["twsa"]
    if "twsa_uncertainty" in grace_img:
        observed["twsa_grace_uncertainty"] = grace_img["twsa_uncertainty"]
    land = observed["twsa_grace"].notnull().any("time") & observed["twsa_lsm"].notnull().any("time")
    if int(land.sum()) == 0:
        raise InputError(src.grace, "GRACE and the LSM have no valid cell in common in the box")
    observed["land_mask"] = land
    return Inputs(observed.load(), None, grace.load(), _wells_table(src), "files")


def _files_on_grace(src: FileSource | GraceOnlySource) -> Inputs:
    """GRACE on its own grid; the LSM (if any) averaged onto it, over the union of both
    records so that the LSM's months before GRACE can be hindcast."""
    box = Box(*src.box) if src.box is not None else None
    grace = open_grace(src.grace, src.grace_scale_factors, src.grace_land_mask, box=box)
    observed = xr.Dataset({"twsa_grace": grace["twsa"]})
    if "twsa_uncertainty" in grace:
        observed["twsa_grace_uncertainty"] = grace["twsa_uncertainty"]
    source = "grace_only"
    if isinstance(src, FileSource):
        lsm = open_lsm(src.lsm, src.lsm_model, box=box, baseline=GRACE_BASELINE)
        keep = [v for v in ("twsa", "precip", "tair") if v in lsm]
        on_grace = regrid_conservative(lsm[keep], grace)
        first = min(grace["time"].values[0], on_grace["time"].values[0])
        last = max(grace["time"].values[-1], on_grace["time"].values[-1])
        months = pd.date_range(first, last, freq="MS")
        on_grace = on_grace.reindex(time=months)
        observed = observed.reindex(time=months)
        observed["twsa_lsm"] = anomalies(on_grace["twsa"], GRACE_BASELINE)
        for v in ("precip", "tair"):
            if v in on_grace:
                observed[v] = on_grace[v]
        source = "files"
    observed["land_mask"] = grace["twsa"].notnull().any("time")
    wells = _wells_table(src) if isinstance(src, FileSource) else None
    return Inputs(observed.load(), None, None, wells, source)


def single_file(pattern: str | None, key: str) -> str | None:
    """``pattern`` itself, or the one file its wildcards match (a download folder holds
    ``GRCTellus.JPL.200204_202312…nc`` under a name that changes with each release).

    Raises
    ------
    InputError
        When no file matches or several do (they are listed).
    """
    if pattern is None or not any(c in pattern for c in "*?["):
        return pattern
    found = sorted(glob.glob(pattern))
    if len(found) != 1:
        names = ", ".join(Path(f).name for f in found[:4])
        what = f"{len(found)} files match ({names}); name one" if found else "no file matches"
        raise InputError(pattern, f"{what} (data.{key})")
    return found[0]


def resolve_files(source: FileSource | GraceOnlySource):
    """``source`` with its single-file patterns (GRACE, its scale factors and land mask)
    replaced by the file each matches."""
    keys = ("grace", "grace_scale_factors", "grace_land_mask")
    return source.model_copy(update={k: single_file(getattr(source, k), k) for k in keys})


def check_sources(source: TwinSource | FileSource | GraceOnlySource) -> None:
    """Every file a recipe's ``[data]`` names exists (each LSM pattern matches a file).

    Called before a run folder is created, so that a typo costs nothing.
    """
    if isinstance(source, TwinSource):
        return
    source = resolve_files(source)
    named = {"grace": source.grace, "grace_scale_factors": source.grace_scale_factors}
    named["grace_land_mask"] = source.grace_land_mask
    if isinstance(source, FileSource):
        named |= {"wells": source.wells, "land_mask": source.land_mask}
    for key, path in named.items():
        if path is None:
            continue
        if not Path(path).exists():
            raise InputError(path, f"file not found (data.{key})")
        if Path(path).is_dir():
            raise InputError(path, f"is a folder, not a file (data.{key})")
    if isinstance(source, FileSource):
        if not source.lsm:
            raise InputError(None, "data.lsm: no LSM file given")
        for pattern in source.lsm:
            if not glob.glob(pattern) and not Path(pattern).exists():
                raise InputError(pattern, "no file matches this LSM pattern (data.lsm)")


def load_inputs(
    source: TwinSource | FileSource | GraceOnlySource,
    grid: Literal["image", "grace"] = "image",
    image_size: int = 128,
) -> Inputs:
    """Read or make the inputs a recipe's ``[data]`` names.

    Parameters
    ----------
    source
        The twin (made on the fly), real GRACE + LSM files, or GRACE alone.
    grid
        Working grid for real files: ``"image"`` resamples both to a square image of the
        box (fusion, Sun et al.), ``"grace"`` keeps GRACE's grid and averages the LSM onto
        it (reconstruction). The twin has one grid.
    image_size
        Cells per side of the image grid.
    """
    if isinstance(source, TwinSource):
        twin = make_twin(size=source.size, seed=source.seed, start=source.start, end=source.end)
        return inputs_from_twin(twin)
    source = resolve_files(source)
    if isinstance(source, FileSource) and grid == "image":
        return _files_on_image(source, image_size)
    return _files_on_grace(source)
