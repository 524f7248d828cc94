"""Built-in recipes (one TOML per study) and the loader of every recipe.

A recipe is the union of the families' recipes, discriminated on ``method`` (``fusion``
when absent): each family validates only its own sections, and a key or section of
another family is an error naming it. Data paths are resolved against the recipe's folder;
``${data}`` (or ``$GRACEFUSE_SHARED_DATA``) stands for the shared data folder: ``--data
DIR``, else the ``GRACEFUSE_SHARED_DATA`` variable, else the first ``shared/data`` found
beside the working folder or one of its parents.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Union

from pydantic import Field, TypeAdapter, ValidationError

from gracefuse.config import FileSource, GraceOnlySource, RecipeBase, describe_errors
from gracefuse.errors import ConfigError
from gracefuse.methods import METHODS

DATA_VARIABLE = "GRACEFUSE_SHARED_DATA"
PLACEHOLDERS = ("${data}", "$" + DATA_VARIABLE, "${" + DATA_VARIABLE + "}")


@cache
def recipe_adapter() -> TypeAdapter:
    """The union of every registered family's recipe, discriminated on ``method``."""
    types = tuple(m.recipe_type for m in METHODS.values())
    union = Union[types] if len(types) > 1 else types[0]  # noqa: UP007 - built at run time
    return TypeAdapter(Annotated[union, Field(discriminator="method")])


def builtin_recipes() -> dict[str, Path]:
    """Every built-in recipe by name."""
    folder = resources.files("gracefuse") / "recipes"
    return {p.name[:-5]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def find_shared_data(explicit: str | os.PathLike | None = None) -> tuple[Path | None, list[Path]]:
    """The shared data folder and the places looked at: ``explicit`` (``--data``), else
    ``$GRACEFUSE_SHARED_DATA``, else ``shared/data`` beside the working folder or a parent."""
    if explicit is not None:
        return Path(explicit), [Path(explicit)]
    if os.environ.get(DATA_VARIABLE):
        return Path(os.environ[DATA_VARIABLE]), [Path(os.environ[DATA_VARIABLE])]
    here = Path.cwd().resolve()
    looked = [d / "shared" / "data" for d in (here, *here.parents)]
    return next((p for p in looked if p.is_dir()), None), looked


def _resolver(root: Path, data_dir: str | os.PathLike | None):
    def fix(key: str, s: str | None) -> str | None:
        if s is None:
            return None
        for token in PLACEHOLDERS:
            if token in s:
                shared, looked = find_shared_data(data_dir)
                if data_dir is not None and not Path(data_dir).is_dir():
                    raise ConfigError(f"--data {data_dir}: not a folder (data.{key} needs it)")
                if shared is None or not shared.is_dir():
                    where = ", ".join(str(p) for p in looked[:3])
                    raise ConfigError(
                        f"data.{key}: {s} needs the shared data folder, not found (looked in "
                        f"{where}); pass --data DIR or set {DATA_VARIABLE}"
                    )
                s = s.replace(token, str(shared))
        s = os.path.expandvars(s)
        return str(s if Path(s).is_absolute() else root / s)

    return fix


def _resolve_paths(recipe: RecipeBase, root: Path, data_dir) -> RecipeBase:
    d = recipe.data
    if hasattr(d, "resolved"):  # a family's own source resolves its paths
        return recipe.model_copy(update={"data": d.resolved(_resolver(root, data_dir))})
    if not isinstance(d, FileSource | GraceOnlySource):
        return recipe
    fix = _resolver(root, data_dir)
    keys = ["grace", "grace_scale_factors", "grace_land_mask"]
    if isinstance(d, FileSource):
        keys += ["wells", "land_mask"]
    update = {k: fix(k, getattr(d, k)) for k in keys}
    if isinstance(d, FileSource):
        update["lsm"] = [fix("lsm", x) for x in d.lsm]
    return recipe.model_copy(update={"data": d.model_copy(update=update)})


def parse_recipe(raw: dict, context: str) -> RecipeBase:
    """A recipe from a TOML table (``method`` defaults to ``fusion``), or a
    :class:`ConfigError` starting with ``context`` and naming every bad key."""
    raw = {"method": "fusion", **raw}
    if raw["method"] not in METHODS:
        raise ConfigError(
            f"{context}: method: {raw['method']!r} is not a method; choose one of "
            f"{', '.join(METHODS)}"
        )
    own = METHODS[raw["method"]].recipe_type.model_fields
    for key in raw:
        others = [n for n, m in METHODS.items() if key in m.recipe_type.model_fields]
        if key not in own and others:
            raise ConfigError(
                f"{context}: {key}: a section of {' and '.join(others)} recipes, not of "
                f"{raw['method']} ones (method = {raw['method']!r})"
            )
    try:
        return recipe_adapter().validate_python(raw)
    except ValidationError as exc:  # drop the union's tag from each location
        raise ConfigError(f"{context}: {describe_errors(exc, skip=raw['method'])}") from exc


def load_recipe(
    path: str | os.PathLike,
    base_dir: str | os.PathLike | None = None,
    method: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> RecipeBase:
    """Load a TOML recipe (a file, or a built-in name such as ``sun2019_twin``).

    Relative data paths are resolved against ``base_dir`` (default: the recipe's folder),
    ``${data}`` against the shared data folder (:func:`find_shared_data`). With ``method``
    given, a recipe of another family is refused.
    """
    p = Path(path)
    if not p.exists() and not p.suffix and p.name in builtin_recipes():
        p = builtin_recipes()[p.name]
    if not p.exists():
        raise ConfigError(f"{p}: recipe not found (built-in: {', '.join(builtin_recipes())})")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a text file ({exc.reason})") from exc
    recipe = parse_recipe(raw, f"{p}: invalid recipe")
    if method is not None and recipe.method != method:
        raise ConfigError(
            f"{p}: a {recipe.method} recipe, not a {method} one; run it with `gracefuse run`"
        )
    return _resolve_paths(recipe, Path(base_dir) if base_dir else p.parent, data_dir)
