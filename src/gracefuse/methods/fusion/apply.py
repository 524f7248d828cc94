"""Apply a fusion run's trained networks to another grid, tile by tile
(``gracefuse predict RUN_DIR INPUTS --out FILE``).

1. The run's ``predictor.json`` (:mod:`gracefuse.methods.fusion.export`) says which
   predictor series a network reads. Each is computed once over the inputs, a block of
   cells at a time over all months (memories run along time), normalised with the run's
   training statistics, and written to a scratch file beside the output.
2. Its lags are views of that file (month t−k), so a window of months reads only the
   months it needs; :func:`gracefuse.globe.tiled_predict` applies the ensemble's mean
   (and its spread) in blended windows and writes the mismatch Ŝ (mm) as it goes,
   resuming after an interruption.
3. The output holds ``mismatch_predicted`` and ``twsa_corrected = twsa_lsm − Ŝ`` (mm), for
   every month of the inputs, with the run's calibrated 95 % interval
   (``twsa_corrected_lower``, ``twsa_corrected_upper``): ``q × (spread + offset)`` for a
   network with a spread (``mismatch_sd``), a constant half-width for one without (the
   run's own per-cell training RMSE belongs to the training grid), ``q`` calibrated on
   the run's calibration months. On another grid its coverage is not guaranteed: it is
   measured in ``benchmarks/transfer_fusion.py``. The scratch files are removed.

The inputs are a netCDF file with ``twsa_lsm`` (mm, anomalies) and the run's other
predictor variables (``precip``, ``tair``) on ``(time, lat, lon)``, at the grid spacing
the network learned on, optionally ``land_mask``; they must hold the months whose
per-cell mean a precipitation memory is an anomaly about (the run's training months), and
should start as early as the run's own inputs did (a memory needs years to spin up).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grace import open_netcdf
from gracefuse.errors import InputError
from gracefuse.globe.tiles import Tiling, tiled_predict, torch_predictor, write_blocks
from gracefuse.io import netcdf_chunk_cache, write_netcdf
from gracefuse.methods.fusion.export import PREDICTOR_FORMAT
from gracefuse.methods.fusion.samples import feature_series
from gracefuse.methods.predict import (
    PREDICTOR_FILE,
    check_grid,
    consecutive_months,
    read_predictor,
)

log = logging.getLogger(__name__)

#: cells per side of the blocks in which the predictor series are computed (at least a
#: window): 64 × 64 cells × 480 months × 8 bytes is 16 MB per series
FEATURE_BLOCK = 64
#: netCDF's chunk cache per variable of every file read or written (bytes): a band of
#: windows touches each chunk once or twice; netCDF's default (64 MB a variable) held up to
#: 64 MB × 10 variables until the grid was that large, 4 MB made reads 1.7× slower
READ_WRITE_CACHE = 16 * 2**20


def load_predictor(run_dir: Path) -> dict:
    """The fusion run's ``predictor.json``; an :class:`InputError` if the folder has none
    or it is not a fusion run's."""
    spec = read_predictor(run_dir)
    if spec.get("format") != PREDICTOR_FORMAT:
        raise InputError(Path(run_dir) / PREDICTOR_FILE,
                         f"format {spec.get('format')!r} is not {PREDICTOR_FORMAT!r}")  # fmt: skip
    return spec


def choose_network(spec: dict, run_dir: Path, model: str | None) -> str:
    """``model``, or the run's choice on validation months, or its first network that can
    be applied elsewhere; an :class:`InputError` naming the reason when it cannot."""
    nets = spec["networks"]
    if model is None:
        info = Path(run_dir) / "run_info.json"
        chosen = json.loads(info.read_text()).get("selected_model") if info.is_file() else None
        ok = [n for n, v in nets.items() if not v["not_transferable"]]
        model = chosen if chosen in ok else (ok[0] if ok else next(iter(nets)))
    if model not in nets:
        raise InputError(run_dir, f"the run has no network {model!r} (it has: {', '.join(nets)})")
    why = nets[model]["not_transferable"]
    if why:
        raise InputError(run_dir, f"{model} cannot be applied to another grid: {why}")
    return model


def check_inputs(ds: xr.Dataset, spec: dict, path: Path) -> None:
    """Every predictor variable on ``(time, lat, lon)``, the training grid spacing and the
    climatology months; an :class:`InputError` naming what is wrong."""
    needs = {"twsa_lsm": "the output is twsa_lsm − Ŝ"}
    needs |= {f["variable"]: f"the network reads {f['name']}" for f in spec["fields"]}
    for var, why in needs.items():
        if var not in ds:
            raise InputError(path, f"missing ({why})", var)
        if set(ds[var].dims) != {"time", "lat", "lon"}:
            raise InputError(path, f"dims {ds[var].dims} are not (time, lat, lon)", var)
    check_grid(ds, {"lat": spec["grid"]["dlat"], "lon": spec["grid"]["dlon"]}, path)
    months = consecutive_months(ds, path, "lags and memories need every month")
    if any(not isinstance(f["memory"], str) for f in spec["fields"]):
        have = set(months.strftime("%Y-%m"))
        lack = [m for m in spec["climatology_months"] if m not in have]
        if lack:
            raise InputError(path, f"lacks {len(lack)} of the run's training months (first "
                             f"{lack[0]}): a precipitation memory is an anomaly about their "
                             "per-cell mean", "time")  # fmt: skip


def _series(a: xr.DataArray, field: dict, spec: dict, months: list[str]) -> xr.DataArray:
    """One predictor series ``(time, lat, lon)``, unscaled; lazy on dask."""
    memory = field["memory"]
    clim = None
    if not isinstance(memory, str):
        stamps = pd.DatetimeIndex(a["time"].values).strftime("%Y-%m")
        clim = a.isel(time=np.flatnonzero(np.isin(stamps, months))).mean("time")

    def along_time(x, c=None):
        out = feature_series(np.moveaxis(x, -1, 0), memory, spec["memory_months"], c)
        return np.moveaxis(out, 0, -1)

    args = [a] if clim is None else [a, clim]
    core = [["time"]] + ([[]] if clim is not None else [])
    return xr.apply_ufunc(along_time, *args, input_core_dims=core, output_core_dims=[["time"]],
                          dask="parallelized", output_dtypes=[np.float64]
                          ).transpose("time", "lat", "lon")  # fmt: skip


def input_mask(ds: xr.Dataset) -> xr.DataArray:
    """Cells that count: ``land_mask`` (when given) where the LSM has data."""
    has = ds["twsa_lsm"].notnull().any("time")
    return (has & ds["land_mask"].astype(bool)) if "land_mask" in ds else has


def feature_fields(ds: xr.Dataset, spec: dict) -> xr.Dataset:
    """Each predictor block's series, normalised as in training, 0 outside the mask:
    variables ``f00, f01, …`` ``(time, lat, lon)`` float32 (lazy on dask-backed inputs)."""
    mask = input_mask(ds)
    out = {}
    for i, f in enumerate(spec["fields"]):
        a = _series(ds[f["variable"]].astype(np.float64), f, spec, spec["climatology_months"])
        z = ((a - f["mean"]) / f["std"]).where(mask & a.notnull(), 0.0)
        out[f"f{i:02d}"] = z.astype(np.float32).reset_coords(drop=True).assign_attrs(
            predictor=f["name"], memory=str(f["memory"]))  # fmt: skip
    return xr.Dataset(out, coords={k: ds[k] for k in ("time", "lat", "lon")})


def lagged_channels(fields: xr.Dataset, lags: int) -> tuple[xr.Dataset, list[str]]:
    """The network's channels: each field at months t, t−1, …, t−lags (the first month
    repeated before the start, as in training); lazy views of ``fields``."""
    n = fields.sizes["time"]
    out, names = {}, []
    for name in fields.data_vars:
        for k in range(lags + 1):
            lagged = fields[name].isel(time=np.maximum(np.arange(n) - k, 0))
            out[f"{name}_lag{k}"] = lagged.assign_coords(time=fields["time"])
            names.append(f"{name}_lag{k}")
    return xr.Dataset(out), names


def load_members(run_dir: Path, spec: dict, name: str, device) -> list:
    """The ensemble members of network ``name`` with their best weights, in eval mode."""
    from gracefuse.models import build_model
    from gracefuse.training.checkpoint import load_checkpoint

    net = spec["networks"][name]
    members = []
    for rel in net["members"]:
        path = Path(run_dir) / rel
        state = load_checkpoint(path, device) if path.is_file() else None
        if state is None or "model" not in state:
            raise InputError(path, f"the checkpoint of {name} is missing or unreadable")
        model = build_model(net["architecture"], len(spec["fields"]), spec["lags"] + 1,
                            base_filters=net["base_filters"], depth=net["depth"],
                            dropout=net["dropout"], size=net["fixed_size"])  # fmt: skip
        model.load_state_dict(state["model"])
        members.append(model.to(device).eval())
    return members


def ensemble_predictor(members: list, spec: dict, spread: bool = False):
    """A :data:`gracefuse.globe.Predictor` giving the members' mean as a mismatch in mm
    ``(T, h, w)``; with ``spread``, ``(T, 2, h, w)``: the mean and its 1σ spread (mm), as
    in training: the variance between members plus each member's MC-dropout variance
    (``spec["mc_samples"]`` passes, when the run made them)."""
    from gracefuse.datasets import ArrayDataset
    from gracefuse.training.predict import predict as predict_samples

    target, mc = spec["target"], spec.get("mc_samples", 0) if spread else 0
    each = [torch_predictor(m) for m in members]

    def predict(x: np.ndarray) -> np.ndarray:
        if not spread:
            return np.mean([p(x) for p in each], axis=0) * target["std"] + target["mean"]
        data = ArrayDataset(x=np.nan_to_num(x))
        outs = [predict_samples(m, data, batch_size=4, mc_samples=mc, seed=spec["seed"] + k)
                for k, m in enumerate(members)]  # fmt: skip
        det = np.stack([d for d, _ in outs])
        var = det.var(axis=0) + np.mean([0.0 if v is None else v**2 for _, v in outs], axis=0)
        mean = det.mean(axis=0) * target["std"] + target["mean"]
        return np.stack([mean, np.sqrt(var) * target["std"]], axis=1)

    return predict


def interval_halfwidth(rule: dict, sd: xr.DataArray | None) -> xr.DataArray | float:
    """The 95 % half-width (mm) of a network's ``predictor.json`` interval ``rule``:
    ``q × (spread + offset)`` with a spread, else the constant calibrated half-width."""
    if rule["kind"] == "spread":
        return rule["q"] * (sd + rule["offset_mm"])
    return float(rule["half_mm"])


def choose_tiling(net: dict, shape: tuple[int, int], tile: int | None = None,
                  overlap: int | None = None, time_block: int = 12) -> Tiling:  # fmt: skip
    """Windows the network can take: a multiple of its downsampling (at most 256 cells, or
    the grid rounded up to it), or the training image size for a network whose dense
    layers fix it; ``overlap`` defaults to an eighth of a window."""
    k = net["divisor"]
    if net["fixed_size"] is not None:
        fixed = net["fixed_size"][0]
        if tile not in (None, fixed) or net["fixed_size"][1] != fixed:
            raise InputError(None, f"{net['architecture']} takes windows of its training size "
                             f"{net['fixed_size'][0]}×{net['fixed_size'][1]} only")  # fmt: skip
        tile = fixed
    tile = tile or min(256, -(-max(shape) // k) * k)
    if tile % k:
        raise InputError(None, f"{net['architecture']} needs windows divisible by {k}; "
                         f"got {tile}")  # fmt: skip
    overlap = tile // 8 if overlap is None else overlap
    if not 0 <= overlap < tile:
        raise InputError(None, f"overlap {overlap} must be in [0, {tile})")
    return Tiling(tile=tile, overlap=overlap, time_block=time_block)


def _scratch(out: Path, kind: str) -> Path:
    return out.with_name(f"{out.name}.{kind}.nc")


def _write_features(inputs: Path, spec: dict, path: Path, stamp: str, tiling: Tiling) -> None:
    """The normalised predictor series, once (kept when an earlier try wrote them).

    Computed a block of cells at a time over all months (memories run along time) and
    written in chunks of a block of months by a window
    (:func:`gracefuse.globe.tiles.write_blocks`), so that memory holds one block's series
    whatever the grid's size.
    """
    with open_netcdf(inputs) as ds:  # lazy: a block is read at a time
        names = {f"f{i:02d}": {"predictor": f["name"], "memory": str(f["memory"])}
                 for i, f in enumerate(spec["fields"])}  # fmt: skip

        def compute(rows: slice, cols: slice) -> dict[str, np.ndarray]:
            block = ds.isel(lat=rows, lon=cols).load()
            fields = feature_fields(block, spec).transpose("time", "lat", "lon")
            return {name: fields[name].values for name in names}

        write_blocks(path, ds, names, compute, tiling, FEATURE_BLOCK, stamp)


def predict_run(run_dir: str | Path, inputs: str | Path, out: str | Path, *,
                model: str | None = None, tile: int | None = None, overlap: int | None = None,
                time_block: int = 12, progress: bool = True) -> Path:  # fmt: skip
    """Apply network ``model`` of the fusion run in ``run_dir`` to the grids of ``inputs``
    tile by tile; write ``out`` (netCDF: ``mismatch_predicted`` and ``twsa_corrected``,
    mm, ``(time, lat, lon)``) atomically and return its path.

    An interrupted call resumes when repeated with the same arguments: the predictor
    series and the finished blocks of months are kept beside ``out`` until it is written.
    """
    with netcdf_chunk_cache(READ_WRITE_CACHE):
        return _predict(Path(run_dir), Path(inputs), Path(out), model, tile, overlap,
                        time_block, progress)  # fmt: skip


def _predict(run_dir: Path, inputs: Path, out: Path, model: str | None, tile: int | None,
             overlap: int | None, time_block: int, progress: bool) -> Path:  # fmt: skip
    """:func:`predict_run` inside its chunk-cache setting."""
    from gracefuse.training import choose_device

    spec = load_predictor(run_dir)
    name = choose_network(spec, run_dir, model)
    with warnings.catch_warnings():  # blocks of months need not match the file's chunks
        warnings.filterwarnings("ignore", "The specified chunks separate", UserWarning)
        ds = open_netcdf(inputs, chunks={"time": time_block, "lat": 256, "lon": 256})
    check_inputs(ds, spec, inputs)
    tiling = choose_tiling(spec["networks"][name], (ds.sizes["lat"], ds.sizes["lon"]), tile,
                           overlap, time_block)  # fmt: skip
    stamp = f"{inputs.resolve()} {inputs.stat().st_mtime_ns} {json.dumps(spec, sort_keys=True)}"
    features, mismatch = _scratch(out, "features"), _scratch(out, "mismatch")
    _write_features(inputs, spec, features, stamp, tiling)
    mask = input_mask(ds).compute()
    members = load_members(run_dir, spec, name, choose_device("auto"))
    rule = spec["networks"][name].get("interval")
    outputs = {"mismatch_predicted": spec["target"]["what"]}
    if rule and rule["kind"] == "spread":
        outputs["mismatch_sd"] = "1σ spread of the ensemble members (and MC dropout)"
    if not rule:
        log.warning("%s: the run kept no interval rule (written before gracefuse kept one); "
                    "no interval is written", PREDICTOR_FILE)  # fmt: skip
    with xr.open_dataset(features) as fields:  # lazy, read window by window
        channels, names = lagged_channels(fields, spec["lags"])
        tiled_predict(ensemble_predictor(members, spec, len(outputs) > 1), channels, names,
                      mismatch, tiling=tiling, var=list(outputs), mask=mask, progress=progress,
                      attrs=[{"units": "mm", "long_name": v} for v in outputs.values()])  # fmt: skip
    with xr.open_dataset(mismatch, chunks={}) as m:
        m = m.assign_coords({k: ds[k] for k in ("time", "lat", "lon")})
        result = _result(ds["twsa_lsm"], m, mask, rule)
        result.attrs = {"title": "gracefuse fusion predictions, applied tile by tile",
                        "run": str(run_dir.resolve()), "network": name, "inputs": str(inputs),
                        "tiling": f"tile={tiling.tile} overlap={tiling.overlap}"}  # fmt: skip
        write_netcdf(result, out)
    ds.close()
    features.unlink(missing_ok=True)
    mismatch.unlink(missing_ok=True)
    return out


def _result(lsm: xr.DataArray, m: xr.Dataset, mask: xr.DataArray, rule: dict | None):
    """The output: corrected TWSA, the mismatch (and its spread), the 95 % interval of the
    corrected TWSA when the run kept its rule, and the mask."""
    s = m["mismatch_predicted"]
    corrected = (lsm.transpose("time", "lat", "lon") - s).where(mask)
    out = {"twsa_corrected": corrected.assign_attrs(
        units="mm", long_name="corrected TWSA (LSM − predicted mismatch)")}  # fmt: skip
    if rule:
        half = interval_halfwidth(rule, m.get("mismatch_sd"))
        how = "calibrated on the run's calibration months"
        out["twsa_corrected_lower"] = (corrected - half).assign_attrs(
            units="mm", long_name=f"lower end of the 95 % interval ({how})")  # fmt: skip
        out["twsa_corrected_upper"] = (corrected + half).assign_attrs(
            units="mm", long_name=f"upper end of the 95 % interval ({how})")  # fmt: skip
    return xr.Dataset(out | dict(m.data_vars) | {"land_mask": mask})
