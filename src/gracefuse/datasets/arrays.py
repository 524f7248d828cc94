"""Samples as a torch ``Dataset`` of batch dicts.

The training loop reads every sample through a ``Dataset`` and a ``DataLoader``, never
from one device tensor, so samples need not fit in GPU memory: only a batch moves to the
device. :class:`ArrayDataset` serves arrays that are in memory or memory-mapped
(``np.load(..., mmap_mode="r")``); a dataset for files larger than memory needs the same
three things: ``__len__``, ``__getitems__`` (or ``__getitem__``) returning a dict of
tensors, and ``digest()`` (what a checkpoint is fingerprinted with).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch.utils.data import Dataset


def data_digest(*arrays: torch.Tensor | np.ndarray) -> str:
    """A content hash of arrays (values, dtype and shape).

    Two runs share a digest only when they see the same samples: the source, twin seed and
    size, box, files, predictors, lags, normalisation and splits all shape these arrays.

    Examples
    --------
    >>> a = np.zeros((2, 3), np.float32)
    >>> data_digest(a) == data_digest(a.copy()), data_digest(a) == data_digest(a + 1)
    (True, False)
    """
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def as_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``collate_fn`` for datasets whose ``__getitems__`` already returns a batch dict."""
    return batch


class ArrayDataset(Dataset):
    """Sample ``i`` is ``{key: arrays[key][i]}`` for every array, plus ``"index"``.

    Parameters
    ----------
    **arrays
        Arrays with the same first dimension (samples), e.g. ``x`` ``(N, C, H, W)`` and
        ``y`` ``(N, H, W)`` (NaN where there is no target).

    Examples
    --------
    >>> ds = ArrayDataset(x=np.zeros((5, 2, 4, 4), np.float32), y=np.ones((5, 4, 4)))
    >>> batch = ds.__getitems__([0, 3])
    >>> batch["x"].shape, batch["index"].tolist()
    (torch.Size([2, 2, 4, 4]), [0, 3])
    """

    def __init__(self, **arrays: np.ndarray | torch.Tensor) -> None:
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        lengths = {k: len(a) for k, a in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"arrays differ in their number of samples: {lengths}")
        self.arrays = arrays
        self._n = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._n

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        batch = {k: torch.as_tensor(np.asarray(a[idx])) for k, a in self.arrays.items()}
        batch["index"] = torch.as_tensor(idx)
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def digest(self) -> str:
        """A content hash of every array, in key order (see :func:`data_digest`)."""
        return data_digest(*(self.arrays[k] for k in sorted(self.arrays)))
