"""Tiled inference over a grid too large for memory: overlapping windows, blended, written
to netCDF as they finish.

A network trained on patches (a fusion CNN, the PI-ConvLSTM + U-Net) is applied window by
window: windows of ``tile × tile`` cells, neighbours sharing ``overlap`` cells. Each
window's prediction is weighted by a taper that falls linearly to its edges over
``overlap`` cells, and every cell gets the weighted mean of the windows that cover it, so
no seam shows where windows meet and the cells at a window's edge (where a CNN sees zero
padding) count least. Months go in blocks of ``time_block``; within a block the grid goes
in bands of window rows. Inputs are read one window at a time; the output of one band
(``time_block × tile × lon``) is accumulated, and its rows are written as soon as no later
window covers them, so memory holds one window of inputs and one band of output whatever
the grid's size.

Our own engine rather than xbatcher: xbatcher cuts overlapping batches, but the blending,
the band-wise accumulation and the writing as it goes are what bounds memory here, and
they are a few lines over NumPy and netCDF4.

The output is written to ``OUT.part`` and renamed to ``OUT`` at the end; each finished
block of months is recorded in the file, so an interrupted run resumes at the next block
(:func:`tiled_predict` with the same arguments).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr
from rich.progress import Progress

from gracefuse.errors import InputError

log = logging.getLogger(__name__)

#: ``predict(x) → y``: inputs ``(T, C, h, w)`` float32 (NaN kept) to ``(T, h, w)``, or to
#: ``(T, V, h, w)`` for ``V`` output variables (e.g. a mean and its spread)
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tiling:
    """Window size, overlap and months per block (cells, cells, months)."""

    tile: int = 256
    overlap: int = 32
    time_block: int = 12

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.tile:
            raise ValueError(f"overlap {self.overlap} must be in [0, tile = {self.tile})")
        if self.time_block < 1:
            raise ValueError(f"time_block must be at least 1, got {self.time_block}")


def window_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Starts of the windows of ``tile`` cells that cover ``0..n``, neighbours sharing at
    least ``overlap`` cells; the last window ends at ``n``.

    >>> window_starts(10, 4, 1)
    [0, 3, 6]
    >>> window_starts(3, 4, 1)  # a grid smaller than a window: one (padded) window
    [0]
    """
    if n <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, n - tile, stride))
    return [*starts, n - tile]


def taper(size: int, overlap: int) -> np.ndarray:
    """Weights of one window along an axis: 1 inside, falling linearly to ``0.5/overlap``
    over its first and last ``overlap`` cells (never 0, so every cell is covered).

    >>> taper(6, 2).tolist()
    [0.25, 0.75, 1.0, 1.0, 0.75, 0.25]
    """
    i = np.arange(size, dtype=np.float64) + 0.5
    if overlap == 0:
        return np.ones(size)
    return np.minimum(1.0, np.minimum(i, size - i) / overlap)


def _window(inputs: xr.Dataset, names: Sequence[str], t: slice, rows: slice, cols: slice,
            tile: int) -> np.ndarray:  # fmt: skip
    """The inputs of months ``t`` in one window as ``(T, C, tile, tile)`` float32, padded
    with NaN beyond the grid. Read window by window (not a band of whole rows), so memory
    holds one window of inputs whatever the grid's width."""
    n_t = len(range(*t.indices(inputs.sizes["time"])))
    window = inputs[list(names)].isel(lat=rows, lon=cols)
    if "time" in window.dims:
        window = window.isel(time=t)
    window = window.compute()  # every channel in one go (one dask graph when dask-backed)
    parts = []
    for name in names:
        values = np.asarray(window[name].transpose(..., "lat", "lon").values, dtype=np.float32)
        if values.ndim == 2:
            values = np.broadcast_to(values, (n_t, *values.shape))
        parts.append(values)
    x = np.stack(parts, axis=1)
    pad = [(0, 0), (0, 0), (0, tile - x.shape[-2]), (0, tile - x.shape[-1])]
    return np.pad(x, pad, constant_values=np.nan) if any(p[1] for p in pad) else x


def create_grids(path: Path, inputs: xr.Dataset, variables: dict[str, dict],
                 tiling: Tiling) -> None:  # fmt: skip
    """An empty netCDF file: each of ``variables`` (name → attributes) ``(time, lat, lon)``
    float32, NaN-filled, with the inputs' coordinates, stored in chunks of a block of
    months by a window step of rows by a window of columns (each written once)."""
    with netCDF4.Dataset(path, "w") as nc:
        for dim in ("time", "lat", "lon"):
            nc.createDimension(dim, inputs.sizes[dim])
        for dim in ("lat", "lon"):
            v = nc.createVariable(dim, "f8", (dim,))
            v[:] = inputs[dim].values
            v.units = "degrees_north" if dim == "lat" else "degrees_east"
        time = nc.createVariable("time", "f8", ("time",))
        stamps = inputs["time"].values.astype("datetime64[D]").astype("int64")
        time[:], time.units, time.calendar = stamps, "days since 1970-01-01", "standard"
        chunks = (min(tiling.time_block, inputs.sizes["time"]),
                  min(tiling.tile - tiling.overlap, inputs.sizes["lat"]),
                  min(tiling.tile, inputs.sizes["lon"]))  # fmt: skip
        for var, attrs in variables.items():
            out = nc.createVariable(var, "f4", ("time", "lat", "lon"),
                                    fill_value=np.float32(np.nan), chunksizes=chunks,
                                    zlib=True, complevel=1, shuffle=True)  # fmt: skip
            out.setncatts(attrs)


def write_blocks(path: Path, like: xr.Dataset, variables: dict[str, dict],
                 compute: Callable[[slice, slice], dict[str, np.ndarray]], tiling: Tiling,
                 block: int, stamp: str) -> None:  # fmt: skip
    """Fields computed a block of cells at a time over all months, written to ``path``.

    ``compute(rows, cols)`` gives each of ``variables`` ``(time, rows, cols)`` for one
    block; blocks are at least ``block`` cells a side and made of whole chunks of the file
    (:func:`create_grids`: a window step of rows by a window of columns, so they start on
    multiples of both), so memory holds one block's fields whatever the grid's size. The
    file is written to ``.part`` and renamed when whole, marked with ``stamp``; a file
    already there with the same stamp is kept (an interrupted call repeated).
    """
    if path.is_file():
        with xr.open_dataset(path) as old:
            if old.attrs.get("gracefuse_inputs") == stamp:
                log.info("%s: kept from an earlier try", path)
                return
    part = path.with_name(path.name + ".part")
    create_grids(part, like, variables, tiling)
    step = tiling.tile - tiling.overlap
    rows, cols = step * -(-block // step), tiling.tile * -(-block // tiling.tile)
    with netCDF4.Dataset(part, "a") as nc:
        for r in range(0, like.sizes["lat"], rows):
            for c in range(0, like.sizes["lon"], cols):
                values = compute(slice(r, r + rows), slice(c, c + cols))
                for name in variables:
                    nc[name][:, r : r + rows, c : c + cols] = values[name]
        nc.gracefuse_inputs = stamp
    os.replace(part, path)


def _create(path: Path, inputs: xr.Dataset, variables: dict[str, dict], tiling: Tiling) -> None:
    """An empty output file for :func:`tiled_predict`, marked with its tiling."""
    create_grids(path, inputs, variables, tiling)
    with netCDF4.Dataset(path, "a") as nc:
        nc.gracefuse_blocks_done = np.int32(0)
        nc.gracefuse_tiling = f"tile={tiling.tile} overlap={tiling.overlap}"


def _blocks_done(path: Path, inputs: xr.Dataset, names: Sequence[str], tiling: Tiling) -> int:
    """Months blocks already in a ``.part`` file of the same variables, shape and tiling,
    else 0."""
    shape = tuple(inputs.sizes[d] for d in ("time", "lat", "lon"))
    try:
        with netCDF4.Dataset(path) as nc:
            same = (all(nc[v].shape == shape for v in names)
                    and nc.gracefuse_tiling == f"tile={tiling.tile} overlap={tiling.overlap}")  # fmt: skip
            return int(nc.gracefuse_blocks_done) if same else 0
    except (OSError, KeyError, AttributeError):
        return 0


def _predict_block(predict: Predictor, inputs, names, t: slice, tiling: Tiling, nc_vars: list,
                   mask: np.ndarray, progress: Progress | None, task) -> None:  # fmt: skip
    """Predict months ``t`` band by band, writing each row of every output variable once
    no later window covers it."""
    n_lat, n_lon = inputs.sizes["lat"], inputs.sizes["lon"]
    k, n_v = tiling.tile, len(nc_vars)
    rows, cols = window_starts(n_lat, k, tiling.overlap), window_starts(n_lon, k, tiling.overlap)
    weight = np.outer(taper(k, tiling.overlap), taper(k, tiling.overlap)).astype(np.float32)
    n_t = len(range(*t.indices(inputs.sizes["time"])))
    lo, wsum = 0, np.zeros((0, n_lon), np.float32)
    acc = np.zeros((n_t, n_v, 0, n_lon), np.float32)
    for i, r0 in enumerate(rows):
        r1 = min(r0 + k, n_lat)
        grow = r1 - lo - acc.shape[2]
        acc = np.concatenate([acc, np.zeros((n_t, n_v, grow, n_lon), np.float32)], axis=2)
        wsum = np.concatenate([wsum, np.zeros((grow, n_lon), np.float32)], axis=0)
        for c0 in cols:
            c1 = min(c0 + k, n_lon)
            x = _window(inputs, names, t, slice(r0, r1), slice(c0, c1), k)
            y = np.asarray(predict(x), np.float32)
            y = (y[:, None] if y.ndim == 3 else y)[..., : r1 - r0, : c1 - c0]
            if y.shape[1] != n_v:
                raise ValueError(f"the predictor gave {y.shape[1]} outputs for {n_v} variables")
            w = weight[: r1 - r0, : c1 - c0]
            acc[..., r0 - lo : r1 - lo, c0:c1] += np.nan_to_num(y) * w
            wsum[r0 - lo : r1 - lo, c0:c1] += w
        done = rows[i + 1] if i + 1 < len(rows) else n_lat
        value = acc[..., : done - lo, :]  # finished rows, normalised in place
        with np.errstate(invalid="ignore", divide="ignore"):
            value /= wsum[: done - lo]
        value[..., ~mask[lo:done]] = np.nan
        for v, nc_var in enumerate(nc_vars):
            nc_var[t, lo:done, :] = value[:, v]
        acc, wsum, lo = acc[..., done - lo :, :], wsum[done - lo :], done
        if progress is not None:
            progress.advance(task)


def tiled_predict(
    predict: Predictor,
    inputs: xr.Dataset,
    names: Sequence[str],
    out: str | os.PathLike,
    *,
    tiling: Tiling = Tiling(),
    var: str | Sequence[str] = "gwsa",
    attrs: dict | Sequence[dict] | None = None,
    mask: xr.DataArray | None = None,
    progress: bool = True,
) -> Path:
    """Apply ``predict`` over the whole grid of ``inputs`` in blended windows; write ``out``.

    Parameters
    ----------
    predict
        ``(T, C, tile, tile)`` float32 inputs (NaN where missing, and in the padding of a
        grid smaller than a window) to ``(T, tile, tile)`` predictions.
    inputs
        ``(time, lat, lon)`` and ``(lat, lon)`` variables, numpy- or dask-backed (a band
        is read at a time on the current dask scheduler).
    names
        The variables, in the channel order ``predict`` expects.
    out
        The netCDF file written: ``var (time, lat, lon)`` float32, with ``attrs``; several
        variables (a sequence of names, and of attributes) when ``predict`` gives
        ``(T, V, h, w)``, each blended with the same window weights.
    mask
        ``(lat, lon)`` boolean: cells outside are NaN in the output (e.g. land).

    Returns
    -------
    Path
        ``out``, renamed into place once every block of months is written.
    """
    missing = [n for n in names if n not in inputs]
    if missing or not {"time", "lat", "lon"} <= set(inputs.dims):
        what = f"variables {missing}" if missing else "dimensions time, lat, lon"
        raise InputError(None, f"tiled inference: the inputs lack {what}")
    out = Path(out)
    part = out.with_name(out.name + ".part")
    outputs = [var] if isinstance(var, str) else list(var)
    attrs = [attrs or {}] if isinstance(var, str) else list(attrs or [{}] * len(outputs))
    start = _blocks_done(part, inputs, outputs, tiling) if part.exists() else 0
    if start == 0:
        _create(part, inputs, dict(zip(outputs, attrs, strict=True)), tiling)
    else:
        log.info("%s: resuming after %d blocks of months", part, start)
    n_time = inputs.sizes["time"]
    blocks = [slice(a, min(a + tiling.time_block, n_time))
              for a in range(0, n_time, tiling.time_block)]  # fmt: skip
    n_rows = len(window_starts(inputs.sizes["lat"], tiling.tile, tiling.overlap))
    keep = np.ones((inputs.sizes["lat"], inputs.sizes["lon"]), bool)
    if mask is not None:
        keep = np.asarray(mask.transpose("lat", "lon").values, bool)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("tiled inference", total=len(blocks) * n_rows, completed=start * n_rows)
        for b in range(start, len(blocks)):
            with netCDF4.Dataset(part, "a") as nc:
                _predict_block(predict, inputs, names, blocks[b], tiling,
                               [nc[v] for v in outputs], keep, bar, task)  # fmt: skip
                nc.gracefuse_blocks_done = np.int32(b + 1)
    os.replace(part, out)
    return out


def torch_predictor(model, *, batch: int = 4, fill: float = 0.0) -> Predictor:
    """A :data:`Predictor` from a gracefuse model (``model({"x": x})["y_hat"]``), run in
    eval mode without gradients on the model's device, ``batch`` months at a time, with
    missing inputs set to ``fill`` (the scaled inputs' mean is 0)."""
    import torch

    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    model.eval()

    def predict(x: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for a in range(0, len(x), batch):
                xb = torch.from_numpy(np.nan_to_num(x[a : a + batch], nan=fill)).to(device)
                out.append(model({"x": xb})["y_hat"].float().cpu().numpy())
        return np.concatenate(out)

    return predict
