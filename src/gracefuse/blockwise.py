"""Functions that dask runs inside its tasks, kept out of the packages: a worker that
unpickles one imports ``gracefuse`` (its errors alone), numpy and netCDF4, nothing more.
(A task function from ``gracefuse.data`` would import that package in every worker:
scipy, regionmask and the readers, about 0.12 GB per worker process.)
"""

from __future__ import annotations

import numpy as np


def minus_stored_map(
    block: np.ndarray,
    *,
    path: str,
    variable: str,
    dims: tuple[str, ...],
    block_info: dict | None = None,
) -> np.ndarray:
    """One block (of an array with ``dims``) minus its piece of the map ``variable`` stored
    in ``path``, whose dims are some of ``dims`` in the same order (a reduction of the
    array, e.g. its mean over time). The file is opened for this read alone, so no chunk
    cache and no piece of the map outlives the task. (Dask may first call it without
    ``block_info``, on an empty block, to learn the result's type.)"""
    if block_info is None:
        return block
    import netCDF4

    location = block_info[0]["array-location"]
    with netCDF4.Dataset(path) as nc:
        stored = nc[variable].dimensions
        index = tuple(slice(*location[dims.index(d)]) for d in stored)
        piece = np.ma.filled(nc[variable][index], np.nan)
    piece = np.expand_dims(piece, tuple(a for a, d in enumerate(dims) if d not in stored))
    return block - piece.astype(block.dtype, copy=False)
