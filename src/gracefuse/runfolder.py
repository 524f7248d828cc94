"""Run folders: one recipe per folder, no leftovers of killed writes.

A run folder holds the resolved recipe (``config.toml``) of the run that wrote it. Running
another recipe into it is refused (its checkpoints, predictions and report belong to the
other run) unless the user asks to overwrite; the same recipe resumes from its
checkpoints. Temporary files of writes that were killed (``.NAME.XXXX.part`` from
:func:`gracefuse.io.atomic_path`, which every output and checkpoint goes through) are
removed on the way in. :func:`run_log` sends a run's log to its ``run.log``.
"""

from __future__ import annotations

import logging
import shutil
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gracefuse.errors import ConfigError


def clean_partials(folder: str | Path) -> list[Path]:
    """Remove the temporary files that killed writes left in ``folder`` (recursively)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    gone = [p for p in root.rglob(".*.part") if p.is_file()]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                out.update(_flat(x, f"{key}[{i}]."))
        else:
            out[key] = v
    return out


def recipe_differences(old: str, new: str, limit: int = 4) -> list[str]:
    """Keys that differ between two resolved recipes (TOML texts), as ``key: old → new``.

    Examples
    --------
    >>> recipe_differences('[data]\\nseed = 0\\n', '[data]\\nseed = 1\\n')
    ['data.seed: 0 → 1']
    """
    a, b = _flat(tomllib.loads(old)), _flat(tomllib.loads(new))
    keys = sorted(set(a) | set(b))
    diff = [
        f"{k}: {a.get(k, '(unset)')} → {b.get(k, '(unset)')}" for k in keys if a.get(k) != b.get(k)
    ]
    return diff[:limit] + ([f"and {len(diff) - limit} more"] if len(diff) > limit else [])


def prepare_run_folder(out: str | Path, recipe_toml: str, overwrite: bool = False) -> Path:
    """Check that ``out`` may receive the run of ``recipe_toml``, then create it.

    Raises
    ------
    ConfigError
        When ``out`` is a file, or holds the run of another recipe and ``overwrite`` is
        false (naming the keys that differ).
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: the run folder is a file; choose another --out")
    config = folder / "config.toml"
    if config.is_file():
        try:
            diff = recipe_differences(config.read_text(encoding="utf-8"), recipe_toml)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            diff = ["config.toml cannot be read"]
        if diff and not overwrite:
            raise ConfigError(
                f"{folder}: holds a run of another recipe ({'; '.join(diff)}); "
                "use --overwrite to replace it, or choose another --out"
            )
        if diff:
            shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    clean_partials(folder)
    return folder


@contextmanager
def run_log(folder: Path) -> Iterator[None]:
    """Send gracefuse's log (INFO and up) to ``folder/run.log`` while the block runs."""
    handler = logging.FileHandler(folder / "run.log", mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("gracefuse")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
