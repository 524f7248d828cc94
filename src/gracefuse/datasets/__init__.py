"""From prepared arrays to what the models train on: splits, scaling and torch Datasets."""

from gracefuse.datasets.arrays import ArrayDataset, as_batch, data_digest

__all__ = ["ArrayDataset", "as_batch", "data_digest"]
