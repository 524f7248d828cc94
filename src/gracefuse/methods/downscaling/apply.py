"""Apply a downscaling run's patch-trained network to another grid, tile by tile
(``gracefuse predict RUN_DIR INPUTS --out FILE``).

1. The run's ``predictor.json`` (:mod:`gracefuse.methods.downscaling.export`) says which
   fine predictors the network reads. They are computed a block of fine cells at a time
   over all months (trailing means run along time), standardised with the run's training
   statistics, and written to a scratch file with the network's other channels: the
   bilinear coarse field, and the coarse GWSA, its observed flag and the coarse means of
   the dynamic covariates, each repeated over its coarse cell's fine cells.
2. The coarse channels' months t − memory + 1 … t are views of that file;
   :func:`gracefuse.globe.tiled_predict` applies the network in blended windows that start
   on coarse-cell edges and writes its fine mean and 1σ (mm) as it goes, resuming after an
   interruption.
3. A last pass, a block at a time with a margin of coarse cells around it, adds the
   run's mass correction (every fine field averages to the coarse input over each coarse
   cell's land) and its calibrated 95 % interval, ``q × sqrt(σ² + σ_c²) × sqrt(1 + β·g(L))``
   with the lead ``L`` after the run's last training month, and writes ``OUT`` atomically.

The inputs are one netCDF file: the run's covariates on the fine ``(time, lat, lon)`` grid
(static ones on ``(lat, lon)``, each with ``units``), ``land_mask`` ``(lat, lon)``, and the
coarse ``gwsa`` (mm) on ``(time, lat_coarse, lon_coarse)``, the fine grid nesting in the
coarse one at the run's factor and spacings (the layout of
:func:`gracefuse.data.twin.fine_world.make_fine_world`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from gracefuse.data.grace import open_netcdf
from gracefuse.data.grid import block_mean, cell_area
from gracefuse.errors import InputError
from gracefuse.globe.tiles import Tiling, tiled_predict, write_blocks
from gracefuse.io import netcdf_chunk_cache
from gracefuse.methods.downscaling.conservation import bilinear, conserve
from gracefuse.methods.downscaling.problem import feature_stack, nesting_factor, upsample
from gracefuse.methods.downscaling.scoring import LEAD_FORMS
from gracefuse.methods.predict import check_grid, consecutive_months

log = logging.getLogger(__name__)

#: fine cells per side (at least) of the blocks the channels and the correction are
#: computed in: 32 × 32 cells × 180 months × 23 predictors is 17 MB in float32
BLOCK = 32
#: coarse cells around a block that its bilinear fields read (interpolation reads the
#: neighbours; the nearest-cell fill of a coastal neighbour reads theirs)
MARGIN = 3
#: netCDF's chunk cache per variable of every file read or written (bytes). The scratch
#: file has 30-odd channels, each cache filling as the grid grows: measured with
#: ``benchmarks/predict_scale.py --family downscaling`` from 16,384 to 65,536 cells, 16 MB
#: grew 1.33× (1.22 → 1.62 GB, 122 s), 8 MB 1.10× (1.23 → 1.35 GB, 136 s), 4 MB 1.10×
#: (1.10 → 1.21 GB, but 166 s)
READ_WRITE_CACHE = 8 * 2**20


def check_inputs(ds: xr.Dataset, spec: dict, path: Path) -> None:
    """The coarse GWSA, the land mask and every covariate, nesting at the run's factor and
    spacings, in consecutive months holding the anomaly months; an :class:`InputError`
    naming what is wrong. Reads no data but the coordinates."""
    for var, dims in (
        ("gwsa", {"time", "lat_coarse", "lon_coarse"}),
        ("land_mask", {"lat", "lon"}),
    ):
        if var not in ds:
            raise InputError(path, f"missing (dims {sorted(dims)})", var)
        if set(ds[var].dims) != dims:
            raise InputError(path, f"dims {ds[var].dims} are not {tuple(sorted(dims))}", var)
    for name in spec["covariates"]:
        if name not in ds:
            raise InputError(path, "missing (a covariate the network reads)", name)
        if not ds[name].attrs.get("units"):
            raise InputError(path, "has no units attribute", name)
    dims = ("lat", "lon", "lat_coarse", "lon_coarse")
    check_grid(ds, {dim: spec["grid"][f"d{dim}"] for dim in dims}, path)
    factor = nesting_factor(ds, ds["lat_coarse"].values, ds["lon_coarse"].values, str(path))
    if factor != spec["factor"]:
        raise InputError(path, f"{factor} fine cells per coarse cell; the network learned "
                         f"on {spec['factor']}", "lat")  # fmt: skip
    why = "trailing means and the coarse memory need every month"
    months = consecutive_months(ds, path, why)
    lack = sorted(set(spec["anomaly_months"] or []) - set(months.strftime("%Y-%m")))
    if lack:
        raise InputError(path, f"lacks {len(lack)} of the run's training months (first "
                         f"{lack[0]}): a dynamic covariate is an anomaly about their "
                         "per-cell mean", "time")  # fmt: skip


def choose_tiling(shape: tuple[int, int], factor: int, tile: int | None,
                  overlap: int | None, time_block: int) -> Tiling:  # fmt: skip
    """Windows that start on coarse-cell edges and that the U-Net's two poolings divide:
    ``tile`` and ``overlap`` multiples of ``lcm(4, factor)`` (``tile`` at most 256 cells
    or the grid rounded up; ``overlap`` an eighth of it, rounded up)."""
    step = int(np.lcm(4, factor))
    tile = tile or min(256 // step * step, -(-max(shape) // step) * step)
    overlap = -(-tile // 8 // step) * step if overlap is None else overlap
    if tile % step or overlap % step:
        raise InputError(None, f"windows and overlaps must be multiples of {step} fine cells "
                         f"(4 and the factor {factor}); got {tile} and {overlap}")  # fmt: skip
    if not 0 <= overlap < tile:
        raise InputError(None, f"overlap {overlap} must be in [0, {tile})")
    if max(shape) <= tile:
        overlap = 0
    return Tiling(tile=tile, overlap=overlap, time_block=time_block)


def channel_names(spec: dict) -> tuple[list[str], list[str]]:
    """The scratch file's fine channels (standardised predictors, the bilinear base) and
    its coarse ones (the coarse GWSA, its observed flag, each dynamic covariate's mean)."""
    fine = [f"x{k:02d}" for k in range(len(spec["names"]))] + ["base"]
    coarse = ["c_gwsa", "c_seen"] + [f"c_{spec['names'][k]}" for k in spec["dynamic"]]
    return fine, coarse


def _rows(r: slice, n: int, factor: int) -> tuple[slice, slice, int]:
    """The block ``r`` of fine rows widened by :data:`MARGIN` coarse cells (clipped), its
    coarse rows, and where the block starts inside the widened one."""
    lo, hi = max(0, r.start - MARGIN * factor), min(n, r.stop + MARGIN * factor)
    return slice(lo, hi), slice(lo // factor, -(-hi // factor)), r.start - lo


def block_channels(ds: xr.Dataset, spec: dict, rows: slice, cols: slice) -> dict:
    """Every channel of one block of fine cells, ``(time, rows, cols)`` float32."""
    f, sc = spec["factor"], spec["scaling"]
    x_mean, x_std = np.array(sc["x_mean"], np.float32), np.array(sc["x_std"], np.float32)
    n_lat, n_lon = ds.sizes["lat"], ds.sizes["lon"]
    rows = slice(rows.start, min(rows.stop, n_lat))
    cols = slice(cols.start, min(cols.stop, n_lon))
    block = ds[[*spec["covariates"], "land_mask"]].isel(lat=rows, lon=cols).load()
    months = pd.DatetimeIndex(block["time"].values).strftime("%Y-%m")
    ref = np.isin(months, spec["anomaly_months"]) if spec["anomaly_months"] else None
    feats, names = feature_stack(block, spec["covariates"], spec["lags"], "inputs", ref)
    if names != spec["names"]:
        raise InputError(None, f"the inputs give predictors {names}, not the run's {spec['names']}")
    land = block["land_mask"].values.astype(bool)
    weights = np.where(land, cell_area(block["lat"].values, block["lon"].values).values, 0.0)
    x = np.nan_to_num((feats - x_mean) / x_std)
    out = {f"x{k:02d}": x[..., k] for k in range(x.shape[-1])}
    dyn = spec["dynamic"]
    means = block_mean(np.moveaxis(feats[..., dyn], -1, 1), weights, f)
    means = (np.moveaxis(means, 1, -1) - x_mean[dyn]) / x_std[dyn]
    for j, k in enumerate(dyn):
        out[f"c_{names[k]}"] = upsample(np.nan_to_num(means[..., j]), f)
    coarse = ds["gwsa"].isel(lat_coarse=slice(rows.start // f, rows.stop // f),
                             lon_coarse=slice(cols.start // f, cols.stop // f)).values  # fmt: skip
    c = (coarse - sc["y_mean"]) / sc["y_std"]
    out["c_gwsa"], out["c_seen"] = upsample(np.nan_to_num(c), f), upsample(np.isfinite(c), f)
    (_, wr_c, r0), (_, wc_c, c0) = _rows(rows, n_lat, f), _rows(cols, n_lon, f)
    wide = ds["gwsa"].isel(lat_coarse=wr_c, lon_coarse=wc_c).values
    base = bilinear(wide, f)[:, r0 : r0 + land.shape[0], c0 : c0 + land.shape[1]]
    out["base"] = np.nan_to_num(np.where(land, (base - sc["y_mean"]) / sc["y_std"], np.nan))
    return {k: v.astype(np.float32) for k, v in out.items()}


def network_predictor(model, spec: dict, memory: int, batch: int = 4):
    """A :data:`gracefuse.globe.Predictor`: windows of the channels (the fine ones, the
    land mask, then the coarse ones at months t − memory + 1 … t) to the fine mean and
    1σ ``(T, 2, h, w)`` in mm."""
    import torch

    n_fine = len(spec["names"]) + 2  # the predictors, the base, the land mask
    n_coarse = 2 + len(spec["dynamic"])
    f, sc = spec["factor"], spec["scaling"]
    device = next(model.parameters()).device
    model.eval()

    def predict(x: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(x)
        outs = []
        with torch.no_grad():
            for a in range(0, len(x), batch):
                xb = torch.from_numpy(x[a : a + batch]).to(device)
                seq = xb[:, n_fine:].reshape(len(xb), memory, n_coarse, *xb.shape[-2:])
                out = model({"x": xb[:, :n_fine], "base": xb[:, n_fine - 2],
                             "seq": seq[..., ::f, ::f]})  # fmt: skip
                mean = out["y_hat"] * sc["y_std"] + sc["y_mean"]
                outs.append(torch.stack([mean, out["variance"].sqrt() * sc["y_std"]], 1))
        return torch.cat(outs).float().cpu().numpy()

    return predict


def load_network(run_dir: Path, spec: dict, name: str, device):
    """Network ``name`` with its best weights, in eval mode."""
    from gracefuse.models.pi_convlstm_unet import build_pi_convlstm_unet
    from gracefuse.training.checkpoint import load_checkpoint

    net = spec["networks"][name]
    path = Path(run_dir) / net["checkpoint"]
    state = load_checkpoint(path, device) if path.is_file() else None
    if state is None or "model" not in state:
        raise InputError(path, f"the checkpoint of {name} is missing or unreadable")
    model = build_pi_convlstm_unet(len(spec["names"]) + 2, 2 + len(spec["dynamic"]),
                                   net["base_filters"], net["dropout"])  # fmt: skip
    model.load_state_dict(state["model"])
    return model.to(device).eval()


def choose_network(spec: dict, run_dir: Path, model: str | None) -> str:
    """``model``, or the run's first network that can be applied elsewhere; an
    :class:`InputError` naming the reason when it cannot."""
    nets = spec["networks"]
    ok = [n for n, v in nets.items() if not v["not_transferable"]]
    model = model or (ok[0] if ok else next(iter(nets), None))
    if model not in nets:
        raise InputError(run_dir, f"the run has no network {model!r} (it has: {', '.join(nets)})")
    if nets[model]["not_transferable"]:
        raise InputError(run_dir, f"{model} cannot be applied to another grid: "
                         f"{nets[model]['not_transferable']}")  # fmt: skip
    return model


def lead(months: pd.DatetimeIndex, train_end: str) -> np.ndarray:
    """``(T,)`` months after ``train_end`` (0 up to it)."""
    end = pd.Period(train_end, "M").ordinal
    return np.maximum(months.to_period("M").asi8 - end, 0).astype(float)


def finished_block(ds: xr.Dataset, raw: xr.Dataset, spec: dict, net: dict,
                   rows: slice, cols: slice) -> dict:  # fmt: skip
    """One block of the output: the mass-corrected fine GWSA, its 95 % interval and the
    correction (mm), read with a margin of coarse cells around the block."""
    f = spec["factor"]
    rows = slice(rows.start, min(rows.stop, ds.sizes["lat"]))
    cols = slice(cols.start, min(cols.stop, ds.sizes["lon"]))
    (wr, wr_c, r0), (wc, wc_c, c0) = (
        _rows(rows, ds.sizes["lat"], f),
        _rows(cols, ds.sizes["lon"], f),
    )
    land = ds["land_mask"].isel(lat=wr, lon=wc).values.astype(bool)
    weights = np.where(land, cell_area(ds["lat"].values[wr], ds["lon"].values[wc]).values, 0.0)
    mean = raw["gwsa_raw"].isel(lat=wr, lon=wc).values.astype(np.float64)
    sd = raw["gwsa_sd"].isel(lat=wr, lon=wc).values.astype(np.float64)
    correction = np.zeros_like(mean)
    if spec["correction"]:
        coarse = ds["gwsa"].isel(lat_coarse=wr_c, lon_coarse=wc_c).values
        mean, correction = conserve(mean, coarse, weights, f)
    mean = np.where(land, mean, np.nan)
    scale = np.sqrt(np.nan_to_num(sd) ** 2 + spec["coarse_sigma"] ** 2 * spec["correction"])
    growth = spec["interval_growth"]
    if growth != "none":
        g = LEAD_FORMS[growth](lead(pd.DatetimeIndex(ds["time"].values), spec["train_end"]))
        scale = scale * np.sqrt(1 + net["beta"] * g)[:, None, None]
    half = net["q"] * scale
    crop = (
        slice(None),
        slice(r0, r0 + rows.stop - rows.start),
        slice(c0, c0 + cols.stop - cols.start),
    )
    out = {"gwsa": mean, "gwsa_lower": mean - half, "gwsa_upper": mean + half,
           "mass_correction": np.where(land, correction, np.nan)}  # fmt: skip
    return {k: v[crop].astype(np.float32) for k, v in out.items()}


def _scratch(out: Path, kind: str) -> Path:
    return out.with_name(f"{out.name}.{kind}.nc")


def network_channels(fields: xr.Dataset, land: xr.DataArray, spec: dict,
                     memory: int) -> tuple[xr.Dataset, list[str]]:  # fmt: skip
    """The network's channels in its order: the fine ones, the land mask, then the coarse
    ones at months t − memory + 1 … t (the first month repeated before the start, as in
    training); lazy views of ``fields``."""
    fine, coarse = channel_names(spec)
    n = fields.sizes["time"]
    out = {name: fields[name] for name in fine}
    out["land"] = xr.DataArray(land.values.astype(np.float32), dims=("lat", "lon"))
    for k in range(memory - 1, -1, -1):
        for name in coarse:
            lagged = fields[name].isel(time=np.maximum(np.arange(n) - k, 0))
            out[f"{name}_lag{k}"] = lagged.assign_coords(time=fields["time"])
    return xr.Dataset(out).assign_coords(lat=fields["lat"], lon=fields["lon"]), list(out)


def predict_run(run_dir: str | Path, inputs: str | Path, out: str | Path, spec: dict, *,
                model: str | None = None, tile: int | None = None, overlap: int | None = None,
                time_block: int = 12, progress: bool = True) -> Path:  # fmt: skip
    """Apply network ``model`` of the downscaling run in ``run_dir`` (its ``predictor.json``
    read as ``spec``) to ``inputs`` tile by tile; write ``out`` (netCDF: ``gwsa``,
    ``gwsa_lower``, ``gwsa_upper``, ``mass_correction``, mm, ``(time, lat, lon)``, and
    ``land_mask``) atomically and return its path. A repeated call resumes."""
    with netcdf_chunk_cache(READ_WRITE_CACHE):
        return _predict(Path(run_dir), Path(inputs), Path(out), spec, model,
                        (tile, overlap, time_block), progress)  # fmt: skip


def _predict(run_dir: Path, inputs: Path, out: Path, spec: dict, model: str | None,
             tiling_args: tuple, progress: bool) -> Path:  # fmt: skip
    """:func:`predict_run` inside its chunk-cache setting."""
    from gracefuse.training import choose_device

    name = choose_network(spec, run_dir, model)
    net = spec["networks"][name]
    ds = open_netcdf(inputs)  # lazy: each block reads its own cells
    check_inputs(ds, spec, inputs)
    tiling = choose_tiling((ds.sizes["lat"], ds.sizes["lon"]), spec["factor"], *tiling_args)
    stamp = f"{inputs.resolve()} {inputs.stat().st_mtime_ns} {json.dumps(spec, sort_keys=True)}"
    paths = {k: _scratch(out, k) for k in ("channels", "raw", "final")}
    fine, coarse = channel_names(spec)
    write_blocks(paths["channels"], ds, dict.fromkeys(fine + coarse, {}),
                 lambda r, c: block_channels(ds, spec, r, c), tiling, BLOCK, stamp)  # fmt: skip
    land = ds["land_mask"].astype(bool).load()
    network = load_network(run_dir, spec, name, choose_device("auto"))
    with xr.open_dataset(paths["channels"]) as fields:  # lazy, read window by window
        view, names = network_channels(fields, land, spec, net["memory"])
        tiled_predict(network_predictor(network, spec, net["memory"]), view, names,
                      paths["raw"], tiling=tiling, var=["gwsa_raw", "gwsa_sd"],
                      attrs=[{"units": "mm", "long_name": "fine GWSA before the mass correction"},
                             {"units": "mm", "long_name": "1σ of the network's head"}],
                      mask=land, progress=progress)  # fmt: skip
    with xr.open_dataset(paths["raw"]) as raw:
        how = "calibrated on the run's validation months"
        variables = {"gwsa": {"units": "mm", "long_name": "downscaled GWSA"},
                     "gwsa_lower": {"units": "mm", "long_name": f"lower end of the 95 % interval ({how})"},
                     "gwsa_upper": {"units": "mm", "long_name": f"upper end of the 95 % interval ({how})"},
                     "mass_correction": {"units": "mm", "long_name": "added so that each coarse "
                                         "cell's land mean is the coarse input"}}  # fmt: skip
        write_blocks(paths["final"], ds, variables,
                     lambda r, c: finished_block(ds, raw, spec, net, r, c), tiling, BLOCK, stamp)  # fmt: skip
    with netCDF4.Dataset(paths["final"], "a") as nc:
        mask = nc.createVariable("land_mask", "u1", ("lat", "lon"))
        mask[:] = land.values.astype(np.uint8)
        nc.setncatts({"title": "gracefuse downscaled GWSA, applied tile by tile",
                      "run": str(run_dir.resolve()), "network": name, "inputs": str(inputs),
                      "tiling": f"tile={tiling.tile} overlap={tiling.overlap}"})  # fmt: skip
    ds.close()
    os.replace(paths["final"], out)
    for path in (paths["channels"], paths["raw"]):
        path.unlink(missing_ok=True)
    return out
