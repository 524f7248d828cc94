"""The ``gracefuse`` command line.

Every command turns bad input into one clear message naming the file and the problem,
with exit code 2 and no traceback.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Annotated

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from gracefuse.cli_options import (
    DataDir,
    Nproc,
    Overwrite,
    Portable,
    Quiet,
    RunFolder,
    Scheduler,
    Seeds,
)
from gracefuse.config import describe_errors, validated
from gracefuse.data.detect import describe
from gracefuse.data.twin import TwinConfig, make_fine_grid, make_twin, make_wells
from gracefuse.download.products import PRODUCTS
from gracefuse.download.run import download_product
from gracefuse.errors import ConfigError, GracefuseError
from gracefuse.globe import dask_scheduler, describe_scheduler
from gracefuse.io import write_file_set, write_netcdf
from gracefuse.limits import check_twin_size
from gracefuse.methods import METHODS, get_method
from gracefuse.methods.hybrid.tune import tune as hybrid_tune
from gracefuse.methods.predict import predict_run
from gracefuse.models import REGISTRY
from gracefuse.multiseed import SeedsResult, seeds_console
from gracefuse.recipes import builtin_recipes, load_recipe, parse_recipe
from gracefuse.runner import run_recipe
from gracefuse.training.distributed import launched_by_torchrun

app = typer.Typer(
    name="gracefuse",
    help="Fuse GRACE/GRACE-FO water storage with land-surface models through deep learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


@app.command()
def synth(
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for twin.nc, twin_fine.nc, wells.csv")
    ] = Path("twin"),
    size: Annotated[int, typer.Option(help="cells per side of the coarse grid")] = 32,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same world)")] = 0,
    start: Annotated[
        str, typer.Option(help="first month, YYYY-MM (1979-01 at the earliest)")
    ] = "2002-04",
    end: Annotated[
        str, typer.Option(help="last month, YYYY-MM (GRACE-FO months after 2018-05)")
    ] = "2017-12",
    fine: Annotated[bool, typer.Option(help="also write the fine grid and the wells")] = True,
) -> None:
    """Make the synthetic twin (known truth, LSM, GRACE, wells, fine grid) and write it.

    The files are written as one set (``twin.nc``, ``twin_fine.nc``, ``wells.csv`` and
    ``twin.json`` with the seed and settings): a killed run leaves the previous set whole.
    """
    options = {"size": size, "seed": seed, "start": start, "end": end}
    cfg = validated(TwinConfig, options, "synth options")
    try:
        check_twin_size(cfg.size, cfg.end, fine=fine)
    except ValueError as exc:
        raise ConfigError(f"synth options: {exc}") from None
    t0 = time.perf_counter()
    with console.status(f"building the {size}×{size} twin (seed {seed})"):
        twin = make_twin(config=cfg)
        writers = {"twin.nc": lambda p: write_netcdf(twin, p)}
        if fine:
            fine_ds = make_fine_grid(twin)
            wells = make_wells(fine_ds)
            writers["twin_fine.nc"] = lambda p: write_netcdf(fine_ds, p)
            writers["wells.csv"] = lambda p: wells.to_csv(p, index=False, date_format="%Y-%m-%d")
        manifest = {**options, "start": cfg.start, "end": cfg.end, "files": sorted(writers)}
        writers["twin.json"] = lambda p: p.write_text(json.dumps(manifest, indent=2))
        written = write_file_set(out_dir, writers)
    for p in written:
        out.print(f"wrote {p}")
    out.print(f"done in {time.perf_counter() - t0:.1f} s")


@app.command()
def info(path: Annotated[Path, typer.Argument(help="a netCDF or CSV file")]) -> None:
    """Detect a file's product and show its variables, units, grid, time range and gaps."""
    d = describe(path)
    table = Table(title=str(path), show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("product", d["product"])
    for k, v in d.get("variables", {}).items():
        table.add_row(f"variable {k}", v)
    for k, v in d.get("grid", {}).items():
        table.add_row(k, v)
    for k in ("time", "missing_months", "anomaly_baseline", "month_notes"):
        if k in d:
            table.add_row(k.replace("_", " "), str(d[k]))
    out.print(table)


def _print(lines: list) -> None:
    for line in lines:
        flagged = isinstance(line, str) and line.startswith("⚠")
        out.print(line, style="bold red" if flagged else None)


def parse_seeds(text: str) -> list[int]:
    """``--seeds`` as a list of seeds (``0,1,2``), or a clear error."""
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds: {text!r} is not a comma-separated list of seeds") from None
    if not seeds:
        raise ConfigError("--seeds: give at least one seed, e.g. 0,1,2")
    return seeds


def with_options(recipe, seeds: str | None, portable: bool):
    """``recipe`` with ``train.seeds`` from ``--seeds`` and ``train.kernels = "portable"``
    from ``--portable`` (unchanged without them)."""
    if seeds is None and not portable:
        return recipe
    raw = recipe.model_dump(mode="json")
    if seeds is not None:
        raw["train"]["seeds"] = parse_seeds(seeds)
    if portable:
        raw["train"]["kernels"] = "portable"
    return parse_recipe(raw, "command options")


def _run(recipe, out_dir: Path, quiet: bool, overwrite: bool) -> None:
    """Run any recipe through the runner and print its family's summary."""
    t0 = time.perf_counter()
    result = run_recipe(recipe, out_dir, progress=not quiet, overwrite=overwrite)
    if result is None and launched_by_torchrun():
        return  # a rank other than 0: rank 0 prints
    method = get_method(recipe.method)
    lines = seeds_console(result) if isinstance(result, SeedsResult) else method.console(result)
    _print(lines)
    out.print(
        f"done in {time.perf_counter() - t0:.0f} s; run folder {out_dir} "
        f"(report: {out_dir / 'report.html'})"
    )


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="a recipe TOML file or a built-in recipe name")],
    out_dir: RunFolder = Path("runs/run"),
    data: DataDir = None,
    seeds: Seeds = None,
    portable: Portable = False,
    nproc: Nproc = 1,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """Run a recipe of any method end to end: train, evaluate, write predictions, figures
    and report (``gracefuse methods`` lists the methods and their recipes)."""
    r = with_options(load_recipe(recipe, data_dir=data), seeds, portable)
    describe_scheduler(scheduler)
    if nproc > 1 and not launched_by_torchrun():
        args = ["run", recipe, "--out", str(out_dir)] + (["--data", str(data)] if data else [])
        args += (["--seeds", seeds] if seeds else []) + (["--portable"] if portable else [])
        args += ["--scheduler", scheduler] if scheduler else []
        args += (["--quiet"] if quiet else []) + (["--overwrite"] if overwrite else [])
        raise typer.Exit(relaunch(args, nproc))
    with dask_scheduler(scheduler):
        _run(r, out_dir, quiet, overwrite)


def relaunch(args: list[str], nproc: int) -> int:
    """``gracefuse ARGS`` again under ``torchrun --standalone`` with ``nproc`` processes;
    its exit status. Each process gets ``cores / nproc`` threads unless
    ``OMP_NUM_THREADS`` is set."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "gracefuse", *args]  # fmt: skip
    out.print(f"gracefuse: {nproc} training processes (torchrun)")
    return subprocess.run(cmd, env=env, check=False).returncode


@app.command()
def fill(
    recipe: Annotated[str, typer.Argument(help="a reconstruction recipe (TOML or built-in name)")],
    out_dir: RunFolder = Path("runs/fill"),
    data: DataDir = None,
    seeds: Seeds = None,
    portable: Portable = False,
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """Alias of ``run`` for reconstruction recipes: fill GRACE's missing months and the
    GRACE/GRACE-FO gap, hindcast before 2002."""
    r = load_recipe(recipe, method="reconstruction", data_dir=data)
    _run(with_options(r, seeds, portable), out_dir, quiet, overwrite)


@app.command()
def download(
    product: Annotated[str, typer.Argument(help=f"one of: {', '.join(PRODUCTS)}")],
    start: Annotated[str, typer.Option(help="first month, YYYY-MM")],
    end: Annotated[str, typer.Option(help="last month, YYYY-MM")],
    to: Annotated[Path, typer.Option("--to", help="the cache folder")],
    box: Annotated[str | None, typer.Option(help="W,S,E,N in degrees (default: global)")] = None,
    quiet: Quiet = False,
) -> None:
    """Download a product's files into a cache that resumes broken downloads and keeps
    only whole files whose checksums match: NASA Earthdata (earthaccess; login from the
    environment or ~/.netrc), the CSR and GSFC download pages (no login), or the
    Copernicus CDS (cdsapi; login from ~/.cdsapirc)."""
    paths = download_product(product, start, end, box, to, progress=not quiet)
    out.print(f"{len(paths)} files of {product} in {to}")


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="the folder of a fusion or downscaling run")],
    inputs: Annotated[
        Path,
        typer.Argument(
            help="netCDF: fusion, twsa_lsm, precip, tair (time, lat, lon); "
            "downscaling, the fine covariates, land_mask and the coarse gwsa"
        ),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="the netCDF file written")] = Path(
        "predicted.nc"
    ),
    model: Annotated[str | None, typer.Option(help="network (default: the run's choice)")] = None,
    tile: Annotated[int | None, typer.Option(min=8, help="window size in cells")] = None,
    overlap: Annotated[int | None, typer.Option(min=0, help="cells neighbours share")] = None,
    time_block: Annotated[int, typer.Option(min=1, help="months per block")] = 12,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Apply a run's trained network to another grid tile by tile (overlapping windows,
    blended), written as it goes, with the run's calibrated 95 % interval: a fusion run's
    corrected TWSA, or a downscaling run's fine GWSA (mass-corrected). A repeated call
    resumes."""
    describe_scheduler(scheduler)
    with dask_scheduler(scheduler):
        path = predict_run(run_dir, inputs, out_file, model=model, tile=tile, overlap=overlap,
                           time_block=time_block, progress=not quiet)  # fmt: skip
    out.print(f"predictions written to {path}")


@app.command()
def methods() -> None:
    """List the method families, their source studies and their built-in recipes."""
    recipes: dict[str, list[str]] = {}
    for name, path in sorted(builtin_recipes().items()):
        method = tomllib.loads(path.read_text(encoding="utf-8")).get("method", "fusion")
        recipes.setdefault(method, []).append(name)
    for name, m in METHODS.items():
        models = [
            n if spec.source != "ours" else f"{n} (ours)"
            for n, spec in REGISTRY.items() if name in spec.methods
        ]  # fmt: skip
        out.print(f"[bold]{name}[/bold]: {m.summary} ({m.source})", soft_wrap=True)
        out.print(
            f"  models: {', '.join(models) or 'none (an analysis, nothing trained)'}",
            soft_wrap=True,
        )
        out.print(f"  recipes: {', '.join(recipes.get(name, [])) or '–'}", soft_wrap=True)
    out.print(
        "(ours): not in the source paper's form. Run one with: gracefuse run RECIPE --out DIR"
    )


@app.command()
def tune(
    recipe: Annotated[str, typer.Argument(help="a hybrid recipe TOML file or built-in name")],
    trials: Annotated[int, typer.Option(min=1, help="finished trials the study should have")] = 20,
    out_dir: Annotated[Path, typer.Option("--out", help="study folder (tune.sqlite)")] = Path(
        "runs/tune"
    ),
    epochs: Annotated[int | None, typer.Option(min=1, help="epochs per trial")] = None,
    data: DataDir = None,
) -> None:
    """Search the hybrid model's hyper-parameters with Optuna (TPE + Hyperband), judged on
    validation months only; the study is an SQLite file in the folder and resumes."""
    r = load_recipe(recipe, data_dir=data, method="hybrid")
    summary = hybrid_tune(r, out_dir, trials, epochs)
    out.print(f"best validation loss {summary['best_value']:.4f} after {summary['trials']} "
              f"trials: {summary['params']}")  # fmt: skip
    out.print(f"best settings as a recipe: {out_dir / 'best.toml'}")


@app.command()
def demo(
    out_dir: RunFolder = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="twin and training seed (twin only with --seeds)")] = 0,
    size: Annotated[int, typer.Option(help="twin grid cells per side (multiple of 32)")] = 32,
    seeds: Seeds = None,
    portable: Portable = False,
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """The main job: make the twin, fuse it (the paper's SegNet-lite and U-Net, and ours),
    score every network against the baselines, write predictions, figures and the report."""
    raw = load_recipe("sun2019_twin").model_dump()
    raw["data"] |= {"size": size, "seed": seed}
    raw["train"] |= {"seed": seed}
    recipe = with_options(parse_recipe(raw, "demo options"), seeds, portable)
    over = f", training seeds {seeds}" if seeds else ""
    out.print(f"gracefuse demo: {size}×{size} twin, seed {seed}{over} → {out_dir}")
    _run(recipe, out_dir, quiet, overwrite)


def _warnings_to_console() -> None:
    """Show gracefuse's warnings (a checkpoint not resumed, weights not found) on stderr
    too; the full log goes to each run folder's ``run.log``."""
    logger = logging.getLogger("gracefuse")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=console, show_time=False, show_path=False)
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


def _click_errors() -> tuple[type[Exception], ...]:
    """Click's usage errors: click's own, and those of the copy of click newer typers vendor."""
    errors: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as Vendored
    except ImportError:  # a typer that uses click itself
        return tuple(errors)
    return (*errors, Vendored)


CLICK_ERRORS = _click_errors()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning gracefuse errors into a message and exit code 2."""
    _warnings_to_console()
    try:
        app(args=argv, standalone_mode=False)
    except GracefuseError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except ValidationError as exc:  # settings built outside a recipe
        console.print(
            f"[bold red]error:[/] invalid settings: {escape(describe_errors(exc))}", soft_wrap=True
        )
        return 2
    except MemoryError:
        console.print("[bold red]error:[/] out of memory; use a smaller grid or fewer months")
        return 2
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        return int(code or 0)
    except typer.Abort:
        console.print("aborted")
        return 1
    except Exception as exc:  # click usage errors and the like
        if isinstance(exc, CLICK_ERRORS):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
