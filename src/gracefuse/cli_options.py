"""Options shared by the ``gracefuse`` commands (typer annotations)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: options shared by the commands that train
RunFolder = Annotated[Path, typer.Option("--out", help="run folder")]
Quiet = Annotated[bool, typer.Option(help="no progress bars")]
Overwrite = Annotated[
    bool, typer.Option(help="replace a run folder that holds the run of another recipe")
]
Seeds = Annotated[
    str | None,
    typer.Option(help="training seeds, e.g. 0,1,2: one run each, then mean ± spread over them"),
]
Portable = Annotated[
    bool,
    typer.Option(help="kernels that give the same numbers on any x86-64 CPU (slower)"),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="where dask runs the chunked reading and preparation: threads (default), "
        "processes, synchronous, local:N (a LocalCluster of N workers) or tcp://HOST:PORT"
    ),
]
Nproc = Annotated[
    int,
    typer.Option(
        min=1,
        help="training processes on this machine (DDP through torchrun: one per GPU, "
        "or CPU processes with gloo); several nodes: start torchrun yourself",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="the shared data folder that ${data} in a recipe stands for "
        "(default: $GRACEFUSE_SHARED_DATA, else shared/data beside the working folder)",
    ),
]
