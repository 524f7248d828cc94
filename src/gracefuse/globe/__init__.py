"""Global scale: where dask runs the chunked preparation (:mod:`.scheduler`) and tiled
inference with blended overlapping windows written as it goes (:mod:`.tiles`)."""

from gracefuse.globe.scheduler import dask_scheduler, describe_scheduler
from gracefuse.globe.tiles import Tiling, tiled_predict, torch_predictor, window_starts

__all__ = [
    "Tiling",
    "dask_scheduler",
    "describe_scheduler",
    "tiled_predict",
    "torch_predictor",
    "window_starts",
]
