"""The ``gracefuse`` command line.

Every command turns bad input into one clear message naming the file and the problem,
with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from gracefuse.config import describe_errors
from gracefuse.errors import GracefuseError

app = typer.Typer(
    name="gracefuse",
    help="Fuse GRACE/GRACE-FO water storage with land-surface models through deep learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


#: options shared by the commands that train
RunFolder = Annotated[Path, typer.Option("--out", help="run folder")]
Quiet = Annotated[bool, typer.Option(help="no progress bars")]
Overwrite = Annotated[
    bool, typer.Option(help="replace a run folder that holds the run of another recipe")
]


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
    import json

    from gracefuse.config import validated
    from gracefuse.data.twin import TwinConfig, make_fine_grid, make_twin, make_wells
    from gracefuse.errors import ConfigError
    from gracefuse.io import write_file_set, write_netcdf
    from gracefuse.limits import check_twin_size

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
    from gracefuse.data.detect import describe

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


def _summary(result) -> None:
    """Test-month skill of every model and baseline, then each network's verdict."""
    from gracefuse.evaluate.compare import verdicts
    from gracefuse.report.fusion import table1

    t1 = table1(result.table)
    view = Table(title="Skill against GRACE on the test months (region mean | grid median)")
    for col in ("model", "r", "NSE", "RMSE mm", "KGE", "grid r", "grid NSE"):
        view.add_column(col, justify="right")
    for (model, split), row in t1.iterrows():
        if split != "test":
            continue
        view.add_row(
            model,
            *(f"{row[('region', m)]:.3f}" for m in ("r", "nse")),
            f"{row[('region', 'rmse')]:.1f}",
            f"{row[('region', 'kge')]:.3f}",
            *(f"{row[('grid_median', m)]:.3f}" for m in ("r", "nse")),
        )
    out.print(view)
    table = result.table
    cov = table[(table.metric == "coverage95") & (table.split == "test")]
    for _, r in cov.iterrows():
        out.print(f"{r.model}: 95 % interval covers {100 * r.value:.1f} % of test cell-months")
    comparison = result.comparison
    if not comparison.empty:
        for line in verdicts(comparison[comparison.split == "test"]):
            out.print(line, style="bold red" if line.startswith("⚠") else None)
    out.print(f"model chosen on validation months: {result.info['selected_model']}")


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="a recipe TOML file or a built-in recipe name")],
    out_dir: RunFolder = Path("runs/run"),
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """Run a recipe end to end: train, evaluate, write predictions, figures and report."""
    from gracefuse.config import load_recipe
    from gracefuse.methods.fusion import run_fusion

    rec = load_recipe(recipe, method="fusion")
    res = run_fusion(rec, out_dir, progress=not quiet, overwrite=overwrite)
    _summary(res)
    out.print(f"run folder: {out_dir}  (report: {out_dir / 'report.html'})")


@app.command()
def fill(
    recipe: Annotated[str, typer.Argument(help="a reconstruction recipe (TOML or built-in name)")],
    out_dir: RunFolder = Path("runs/fill"),
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """Fill GRACE's missing months and the GRACE/GRACE-FO gap, hindcast before 2002."""
    from gracefuse.config import load_recipe
    from gracefuse.evaluate.compare import verdicts
    from gracefuse.methods.reconstruction import run_reconstruction
    from gracefuse.methods.reconstruction.splits import ROLES

    rec = load_recipe(recipe, method="reconstruction")
    res = run_reconstruction(rec, out_dir, progress=not quiet, overwrite=overwrite)
    t = res.table
    view = Table(title="grid-median RMSE (mm) by split; lower is better")
    splits = [s for s in ROLES if s != "train" and s in set(t.split)]
    view.add_column("model")
    for s in splits:
        view.add_column(s, justify="right")
    sub = t[(t.scale == "grid_median") & (t.metric == "rmse")]
    for model in dict.fromkeys(sub.model):
        vals = sub[sub.model == model].set_index("split").value
        view.add_row(model, *(f"{vals[s]:.1f}" if s in vals else "–" for s in splits))
    out.print(view)
    comparison = res.comparison
    if not comparison.empty:
        for line in verdicts(comparison[comparison.split == "hidden_block"]):
            out.print(line, style="bold red" if line.startswith("⚠") else None)
    out.print(
        f"gaps filled by {res.fill_model} (chosen on the validation block), hindcast by "
        f"{res.hindcast_model}; run folder {out_dir}"
    )


@app.command()
def demo(
    out_dir: RunFolder = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="twin and training seed")] = 0,
    size: Annotated[int, typer.Option(help="twin grid cells per side (multiple of 32)")] = 32,
    quiet: Quiet = False,
    overwrite: Overwrite = False,
) -> None:
    """The main job: make the twin, fuse it (the paper's SegNet-lite and U-Net, and ours),
    score every network against the baselines, write predictions, figures and the report."""
    from gracefuse.config import Recipe, load_recipe, validated
    from gracefuse.methods.fusion import run_fusion

    raw = load_recipe("sun2019_twin").model_dump()
    raw["data"] |= {"size": size, "seed": seed}
    raw["train"] |= {"seed": seed}
    recipe = validated(Recipe, raw, "demo options")
    t0 = time.perf_counter()
    out.print(f"gracefuse demo: {size}×{size} twin, seed {seed} → {out_dir}")
    res = run_fusion(recipe, out_dir, progress=not quiet, overwrite=overwrite)
    _summary(res)
    out.print(f"done in {time.perf_counter() - t0:.0f} s; open {out_dir / 'report.html'}")


def _warnings_to_console() -> None:
    """Show gracefuse's warnings (a checkpoint not resumed, weights not found) on stderr
    too; the full log goes to each run folder's ``run.log``."""
    import logging

    from rich.logging import RichHandler

    logger = logging.getLogger("gracefuse")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=console, show_time=False, show_path=False)
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning gracefuse errors into a message and exit code 2."""
    _warnings_to_console()
    try:
        app(args=argv, standalone_mode=False)
    except GracefuseError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except ValidationError as exc:  # settings built outside a recipe
        console.print(
            f"[bold red]error:[/] invalid settings: {describe_errors(exc)}", soft_wrap=True
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
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
