"""What moves a run's numbers on the same torch wheel: repeat, thread count, the CPU's
vector extensions (the kernels it picks), MKL's branch, and, for scale, the training seed.

Each setting runs the recipe in a child process of its own (environment variables such as
``ONEDNN_MAX_CPU_ISA`` and ``MKL_CBWR`` are read once, when a library starts) and its
``metrics.csv`` is compared with the reference run's. Printed as JSON lines, one per
setting: ``identical`` (byte for byte) against the first run with the same kernels, the
number of rows that differ, the largest change of a test NSE, r and RMSE (mm) over every
model, and the seconds the run took.

Emulating another CPU: ``ATEN_CPU_CAPABILITY=avx2`` and ``ONEDNN_MAX_CPU_ISA=AVX2`` make
torch and oneDNN pick the kernels an AVX2-only CPU would; MKL's own choice by CPU vendor
cannot be emulated on one machine (``MKL_CBWR=COMPATIBLE`` removes it).

Aim: with ``kernels = "portable"`` every setting but the seed gives identical numbers; the
changes under ``fast`` are set beside the seed spread. About 4 minutes on 2 CPU cores for
the default (shrunk ``sun2019_twin``): ``python benchmarks/reproducibility.py``; e.g.
``--recipe yu2021_twin --set data.size=16 --set train.epochs=2`` for another recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

#: name → (kernels, threads, seed offset, extra environment)
SETTINGS = {
    "reference": ("portable", None, 0, {}),
    "repeat": ("portable", None, 0, {}),
    "threads_1": ("portable", 1, 0, {}),
    "avx2_cpu": ("portable", None, 0, {"ATEN_CPU_CAPABILITY": "avx2",
                                       "ONEDNN_MAX_CPU_ISA": "AVX2"}),
    "fast": ("fast", None, 0, {}),
    "fast_repeat": ("fast", None, 0, {}),
    "fast_threads_1": ("fast", 1, 0, {}),
    "fast_avx2_cpu": ("fast", None, 0, {"ATEN_CPU_CAPABILITY": "avx2",
                                        "ONEDNN_MAX_CPU_ISA": "AVX2"}),
    "fast_mkl_compatible": ("fast", None, 0, {"MKL_CBWR": "COMPATIBLE"}),
    "seed_plus_1": ("portable", None, 1, {}),
    "seed_plus_2": ("portable", None, 2, {}),
}  # fmt: skip
SHRUNK = ["data.size=32", "data.start=1996-01", "train.epochs=3", "train.mc_samples=0",
          "models.epochs=3", "models.base_filters=8"]  # fmt: skip


def _value(text: str):
    """A ``--set`` value as TOML would read it (number, boolean, or string)."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def build(recipe: str, sets: list[str], kernels: str, threads: int | None, seed_offset: int):
    """The recipe with ``sets`` (``section.key=value``; ``models.key`` sets every model)."""
    from gracefuse.recipes import load_recipe, parse_recipe

    raw = load_recipe(recipe).model_dump(mode="json")
    for item in sets:
        path, value = item.split("=", 1)
        section, key = path.split(".", 1)
        for target in raw[section] if section == "models" else [raw[section]]:
            target[key] = _value(value)
    raw["train"] |= {"kernels": kernels, "num_threads": threads,
                     "seed": raw["train"]["seed"] + seed_offset}  # fmt: skip
    return parse_recipe(raw, recipe)


def child(args) -> int:
    """Run one setting into ``args.out`` (in this process)."""
    from gracefuse.runner import run_recipe

    recipe = build(args.recipe, args.set, args.kernels, args.threads, args.seed_offset)
    run_recipe(recipe, args.out, progress=False, figures=False)
    return 0


def compare(ref: pd.DataFrame, other: pd.DataFrame) -> dict:
    """Rows that differ, and the largest change of test NSE, r and RMSE."""
    keys = ["model", "variable", "split", "scale", "metric"]
    both = ref.merge(other, on=keys, suffixes=("", "_other"))
    diff = (both["value"] - both["value_other"]).abs()
    out = {"rows_differ": int((diff > 0).sum()), "rows": len(both)}
    test = both["split"].str.startswith("test")
    for metric in ("nse", "r", "rmse"):
        sel = test & (both["metric"] == metric)
        out[f"max_change_test_{metric}"] = round(float(diff[sel].max()), 5) if sel.any() else None
    return out


def parent(args) -> int:
    refs: dict[str, tuple] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.settings.split(","):
            kernels, threads, offset, env = SETTINGS[name]
            out = Path(tmp) / name
            cmd = [sys.executable, __file__, "--child", "--recipe", args.recipe,
                   "--kernels", kernels, "--seed-offset", str(offset), "--out", str(out)]  # fmt: skip
            cmd += ["--threads", str(threads)] if threads else []
            cmd += [f"--set={s}" for s in args.set]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env={**os.environ, **env})
            seconds = round(time.perf_counter() - t0, 1)
            text = (out / "metrics.csv").read_bytes()
            table = pd.read_csv(out / "metrics.csv")
            info = json.loads((out / "run_info.json").read_text())["reproducibility"]
            line = {"setting": name, "recipe": args.recipe, "kernels": kernels,
                    "threads": info["torch_threads"], "mkl_branch": info["mkl_branch"],
                    "env": env, "seconds": seconds}  # fmt: skip
            if kernels not in refs:  # the first run of each kernel choice is its reference
                refs[kernels] = (text, table, name)
            else:
                ref = refs[kernels]
                line |= {"against": ref[2], "identical": text == ref[0], **compare(ref[1], table)}
            print(json.dumps(line), flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default="sun2019_twin")
    p.add_argument("--set", action="append", default=None, help="section.key=value")
    p.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kernels", default="portable", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed-offset", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.set = SHRUNK if args.set is None else args.set
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
