"""``gracefuse predict RUN_DIR INPUTS``: apply a run's trained network to another grid,
whichever family trained it. The run folder's ``predictor.json`` says which: a fusion run
(:mod:`gracefuse.methods.fusion.apply`) or a downscaling run
(:mod:`gracefuse.methods.downscaling.apply`)."""

from __future__ import annotations

import json
from pathlib import Path

from gracefuse.errors import InputError

#: the file a run writes for ``gracefuse predict``, in its folder
PREDICTOR_FILE = "predictor.json"


def read_predictor(run_dir: str | Path) -> dict:
    """The run's ``predictor.json``; an :class:`InputError` if the folder has none or it
    cannot be read."""
    run_dir = Path(run_dir)
    path = run_dir / PREDICTOR_FILE
    seeds = sorted(p.name for p in run_dir.glob("seed*") if (p / PREDICTOR_FILE).is_file())
    if not path.is_file() and seeds:
        raise InputError(run_dir, f"a run over several seeds: give one seed's folder ({seeds[0]})")
    if not path.is_file():
        raise InputError(run_dir, f"no {PREDICTOR_FILE}: not the folder of a fusion or "
                         "downscaling run (or one written before gracefuse could apply its "
                         "networks)")  # fmt: skip
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not readable JSON ({exc})") from exc
    return spec if isinstance(spec, dict) else {}


#: how far the inputs' grid spacing may depart from the training grid's (relative)
SPACING_TOLERANCE = 0.05


def grid_spacing(values) -> float | None:
    """Mean spacing (degrees) of a coordinate; ``None`` for a single cell."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return float(np.abs(np.diff(values)).mean()) if len(values) > 1 else None


def check_grid(ds, spacings: dict[str, float | None], path: Path) -> None:
    """Each axis of ``spacings`` strictly ascending, as every grid a network learned on was
    (gracefuse's readers sort them so: a grid given north to south would reach a CNN
    mirrored), and at the spacing the network learned (within
    :data:`SPACING_TOLERANCE`). An :class:`InputError` naming the axis otherwise."""
    import numpy as np

    for dim, want in spacings.items():
        values = np.asarray(ds[dim].values, dtype=float)
        if len(values) > 1 and not (np.diff(values) > 0).all():
            raise InputError(path, "is not strictly ascending; the networks learned on grids "
                             f"with ascending axes: sort it first (ds.sortby({dim!r}))", dim)  # fmt: skip
        got = grid_spacing(values)
        if want and got and abs(got / want - 1) > SPACING_TOLERANCE:
            raise InputError(path, f"{dim} spacing {got:.4g}° differs from the {want:.4g}° the "
                             "network learned on; regrid the inputs first", dim)  # fmt: skip


def consecutive_months(ds, path: Path, why: str):
    """The inputs' months (a pandas ``PeriodIndex``); an :class:`InputError` when one is
    missing (``why``: what needs every month)."""
    import numpy as np
    import pandas as pd

    months = pd.DatetimeIndex(ds["time"].values).to_period("M")
    if len(months) > 1 and not (np.diff(months.asi8) == 1).all():
        raise InputError(path, f"months are not consecutive ({why})", "time")
    return months


def predict_run(run_dir: str | Path, inputs: str | Path, out: str | Path, **options) -> Path:
    """Apply the run's network to ``inputs`` tile by tile and write ``out``; ``options``
    (``model``, ``tile``, ``overlap``, ``time_block``, ``progress``) go to the family's own
    ``predict_run``."""
    from gracefuse.methods.downscaling import apply as downscaling
    from gracefuse.methods.downscaling.export import PREDICTOR_FORMAT as DOWNSCALING
    from gracefuse.methods.fusion import apply as fusion
    from gracefuse.methods.fusion.export import PREDICTOR_FORMAT as FUSION

    spec = read_predictor(run_dir)
    if spec.get("format") == DOWNSCALING:
        return downscaling.predict_run(run_dir, inputs, out, spec, **options)
    if spec.get("format") == FUSION:
        return fusion.predict_run(run_dir, inputs, out, **options)
    raise InputError(Path(run_dir) / PREDICTOR_FILE, f"format {spec.get('format')!r} is "
                     f"not one gracefuse applies ({FUSION}, {DOWNSCALING})")  # fmt: skip
