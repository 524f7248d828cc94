"""Conservative regridding of dask-backed grids block by block, when the grids nest.

xarray-regrid applies its weights with one dense contraction over all source and target
cells; on dask blocks that is one partial target per pair of source and target blocks,
summed afterwards: a global 0.1° grid in 450-cell blocks onto 0.5° holds dozens of partial
targets per month block. When every target cell edge is also a source cell edge (0.1°,
0.25° onto 0.5°, 1°, ...), each target cell takes its value from one source block only if
the blocks end on target edges. Then each source block is regridded on its own, with
xarray-regrid (:func:`gracefuse.data.grid.regrid_conservative` on the block), onto the
target cells it covers: one task per block and the same numbers. Blocks must already end
on target edges (open the files with such chunks: 450 cells of 0.1° are 45°, 90 cells of
0.5°); others are not rechunked, and the whole grid goes to xarray-regrid at once.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr


def nested_blocks(src: np.ndarray, tgt: np.ndarray, chunks: tuple[int, ...],
                  tol: float = 1e-6) -> tuple[int, ...] | None:  # fmt: skip
    """The target cells of each source block, or ``None`` unless every target cell edge is
    a source cell edge (the grids nest, the target within the source) and every inner
    block end is a target cell edge.

    Examples
    --------
    >>> src = np.arange(0.05, 4, 0.1)           # 40 cells of 0.1°, 0..4°
    >>> tgt = np.arange(0.25, 4, 0.5)           # 8 cells of 0.5°
    >>> nested_blocks(src, tgt, (10, 15, 10, 5))  # block ends 1.0°, 2.5°, 3.5°
    (2, 3, 2, 1)
    >>> nested_blocks(src, tgt, (12, 28)) is None  # a block ends at 1.2°, inside a 0.5° cell
    True
    >>> nested_blocks(src, np.arange(0.3, 4, 0.6), (20, 20)) is None  # 0.6° edges: 0.0, 0.6, ...
    True
    """
    from gracefuse.data.grid import _edges

    if src.size < 2 or tgt.size < 2 or np.any(np.diff(src) <= 0) or np.any(np.diff(tgt) <= 0):
        return None
    s, t = _edges(src), _edges(tgt)
    at = np.searchsorted(s, t - tol)  # the source edge at each target edge, if any
    if at[-1] >= s.size or not np.allclose(s[at], t, atol=tol):
        return None
    ends = np.cumsum(chunks)[:-1]
    if not np.isin(ends, at[1:-1]).all():
        return None
    # cells beyond the target (none when it fills the source) join the edge blocks
    return tuple(int(c) for c in np.diff(np.searchsorted(at, [at[0], *ends, at[-1]])))


def regrid_blocks(ds: xr.Dataset, tgt: xr.Dataset, nan_threshold: float) -> xr.Dataset | None:
    """:func:`~gracefuse.data.grid.regrid_conservative` of a dask-backed ``ds`` (every
    variable on ``lat`` and ``lon``) block by block onto ``tgt``, or ``None`` when the
    grids do not nest or the blocks do not end on target cell edges (the caller then
    regrids the whole grid at once)."""
    from gracefuse.data.grid import regrid_conservative

    plan = {}
    for c in ("lat", "lon"):
        chunks = ds.chunksizes.get(c)
        cells = nested_blocks(ds[c].values, tgt[c].values, chunks) if chunks else None
        # blocks that do not already end on target edges are not rechunked to do so: on a
        # LocalCluster at 0.1° that rechunk held 2.4 GB in one worker and stalled it
        if cells is None or min(cells) < 2:
            return None  # (xarray-regrid needs two target cells a block to find its step)
        plan[c] = cells
    if any({"lat", "lon"} - set(v.dims) for v in ds.data_vars.values()):
        return None
    starts = {c: np.r_[0, np.cumsum(plan[c])] for c in plan}
    out = {}
    for name, var in ds.data_vars.items():
        var = var.transpose(..., "lat", "lon")
        lead = var.dims[:-2]

        dtype = var.dtype  # as the whole-grid path: xarray-regrid keeps float32

        def one(block, block_info=None, dims=var.dims, name=name, lat=var.lat.values,
                lon=var.lon.values, dtype=dtype):  # fmt: skip
            (i0, i1), (j0, j1) = block_info[0]["array-location"][-2:]
            k, m = block_info[0]["chunk-location"][-2:]
            piece = xr.DataArray(block, dims=dims, name=name,
                                 coords={"lat": lat[i0:i1], "lon": lon[j0:j1]})  # fmt: skip
            sub = tgt.isel(lat=slice(starts["lat"][k], starts["lat"][k + 1]),
                           lon=slice(starts["lon"][m], starts["lon"][m + 1]))  # fmt: skip
            return regrid_conservative(piece, sub, nan_threshold).values.astype(dtype)

        data = da.map_blocks(one, var.data, dtype=dtype,
                             chunks=(*var.data.chunks[:-2], plan["lat"], plan["lon"]))  # fmt: skip
        coords = {d: var[d] for d in lead if d in var.coords}
        out[name] = xr.DataArray(data, dims=var.dims, attrs=var.attrs,
                                 coords={**coords, "lat": tgt.lat.values, "lon": tgt.lon.values})  # fmt: skip
    return xr.Dataset(out, attrs=ds.attrs)
