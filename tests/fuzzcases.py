"""Generated malformed (and well-formed) inputs, with the answer each must give.

Each ``*_case`` strategy draws a specification; :func:`write_grace`, :func:`write_wells`
and :func:`write_recipe` turn it into a file, and the ``check_*`` functions read it back
with gracefuse and return ``"correct"`` (the result equals what was written, in mm, on
``(time, lat, lon)``) or ``"refused"`` (an :class:`~gracefuse.errors.GracefuseError` that
names the file, for a spec with a defect). Anything else raises :class:`Unexpected`: a
foreign exception, a defect read without a word, or a wrong value, unit or axis.

Used by ``tests/test_fuzz.py`` (a fast profile) and ``benchmarks/fuzz_inputs.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from hypothesis import strategies as st

from gracefuse.errors import GracefuseError

UNITS_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "kg m-2": 1.0}
DEFECTS_NC = (
    "none", "none", "none", "no_units", "bad_units", "no_time_units", "bad_time_units",
    "nan_time", "duplicate_time", "decreasing_time", "inf", "big", "sentinel", "yx_no_coords",
    "truncate", "truncate", "lon_repeat_different", "lat_out_of_range", "no_time", "out_of_range",
)  # fmt: skip


class Unexpected(AssertionError):
    """A reader gave a wrong answer silently, or failed with a foreign exception."""


@st.composite
def grace_case(draw) -> dict:
    """A GRACE-like grid: sizes, layout, units, time encoding and at most one defect."""
    nt, ny, nx = draw(st.integers(1, 5)), draw(st.integers(2, 4)), draw(st.integers(2, 5))
    truth = draw(
        st.lists(
            st.floats(-1500, 1500, allow_nan=False), min_size=nt * ny * nx, max_size=nt * ny * nx
        )
    )
    return {
        "truth": np.asarray(truth, dtype=float).reshape(nt, ny, nx),
        "units": draw(st.sampled_from(sorted(UNITS_TO_MM))),
        "order": draw(st.permutations(["time", "lat", "lon"])),
        "names": draw(st.sampled_from([("lat", "lon"), ("latitude", "longitude")])),
        "lon360": draw(st.booleans()),
        "lat_desc": draw(st.booleans()),
        "time_units": draw(
            st.sampled_from(["days since 2002-01-01", "hours since 2000-01-01 00:00:00"])
        ),
        "start": draw(st.integers(0, 200)),
        "nan_cell": draw(st.booleans()),
        "declared_fill": draw(st.booleans()),
        "format": draw(st.sampled_from(["NETCDF3_CLASSIC", "NETCDF4"])),
        "defect": draw(st.sampled_from(DEFECTS_NC)),
        "cut": draw(st.integers(1, 400)),
    }


def _grid(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    nt, ny, nx = spec["truth"].shape
    lat = -10.0 + 2.0 * np.arange(ny)
    lon = -30.0 + 3.0 * np.arange(nx) if not spec["lon360"] else 1.5 + 3.0 * np.arange(nx)
    return lat, lon


def _times(spec: dict) -> tuple[pd.DatetimeIndex, np.ndarray]:
    nt = spec["truth"].shape[0]
    months = pd.date_range("2002-04-01", periods=200 + nt, freq="MS")[spec["start"] :][:nt]
    epochs = months + pd.Timedelta(days=14)
    ref = pd.Timestamp(spec["time_units"].split("since ")[1])
    scale = 1.0 if spec["time_units"].startswith("days") else 24.0
    return months, np.asarray((epochs - ref) / pd.Timedelta(days=1), dtype=float) * scale


def write_grace(spec: dict, path: Path) -> Path:
    """Write ``spec`` as a netCDF file at ``path`` (with its defect, if any)."""
    truth, defect = spec["truth"].copy(), spec["defect"]
    lat, lon = _grid(spec)
    _, tvals = _times(spec)
    stored = truth / UNITS_TO_MM[spec["units"]]
    if spec["nan_cell"]:
        stored[0, 0, 0] = np.nan
    if defect in ("inf", "big", "sentinel", "out_of_range"):
        stored[-1, -1, -1] = {"inf": np.inf, "big": 1e30, "sentinel": -9999.0,
                              "out_of_range": 1e6 / UNITS_TO_MM[spec["units"]]}[defect]  # fmt: skip
    if defect == "nan_time":
        tvals = tvals.copy()
        tvals[-1] = np.nan
    if defect in ("duplicate_time", "decreasing_time") and len(tvals) > 1:
        tvals = tvals.copy()
        tvals[-1] = tvals[0] if defect == "duplicate_time" else tvals[0] - 100.0
    lat_name, lon_name = spec["names"]
    lat_v = lat[::-1] if spec["lat_desc"] else lat
    if defect == "lat_out_of_range":
        lat_v = lat_v + 200.0
    data = stored[:, ::-1, :] if spec["lat_desc"] else stored
    attrs = {"units": spec["units"]} if defect != "no_units" else {}
    if defect == "bad_units":
        attrs["units"] = "furlong"
    da = xr.DataArray(data, dims=("time", lat_name, lon_name), attrs=attrs)
    lon_v = lon.copy()
    if defect == "lon_repeat_different" and len(lon_v) > 1:
        lon_v[-1] = lon_v[0] + 360.0
        da[:, :, -1] = da[:, :, 0] + 1.0
    ds = xr.Dataset({"lwe_thickness": da.transpose(*[_dim(d, spec) for d in spec["order"]])})
    if defect != "yx_no_coords":
        ds = ds.assign_coords({lat_name: lat_v, lon_name: lon_v})
    else:
        ds = ds.rename({lat_name: "y", lon_name: "x"})
    if defect != "no_time":
        t_attrs = {"units": spec["time_units"], "calendar": "standard"}
        if defect == "no_time_units":
            t_attrs = {}
        elif defect == "bad_time_units":
            t_attrs["units"] = "months after launch"
        ds = ds.assign_coords(time=("time", tvals, t_attrs))
    enc = {"lwe_thickness": {"dtype": "f8"}}
    if spec["declared_fill"]:
        enc["lwe_thickness"]["_FillValue"] = -99999.0
    if "time" in ds.variables:
        enc["time"] = {"dtype": "f8", "_FillValue": None}
    ds.attrs["title"] = "GRACE-like storage grid"
    ds.to_netcdf(path, format=spec["format"], encoding=enc)
    if defect == "truncate":
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            fh.truncate(max(1, size - spec["cut"]))
    return path


def _dim(d: str, spec: dict) -> str:
    return {"lat": spec["names"][0], "lon": spec["names"][1]}.get(d, d)


def _expected(spec: dict) -> xr.DataArray:
    truth = spec["truth"].copy()
    if spec["nan_cell"]:
        truth[0, 0, 0] = np.nan
    lat, lon = _grid(spec)
    months, _ = _times(spec)
    out = xr.DataArray(
        truth, coords={"time": months, "lat": lat, "lon": lon}, dims=("time", "lat", "lon")
    )
    out = out.assign_coords(lon=((out.lon + 180.0) % 360.0) - 180.0).sortby("lon")
    return out


def _read(read, path: Path, well_formed: bool, what: str):
    """``read()``'s result, or ``None`` when it refused a defective input with
    gracefuse's error naming ``path``. Anything else raises :class:`Unexpected`: a foreign
    exception, a well-formed input refused, or a defect read without a word."""
    try:
        result = read()
    except GracefuseError as exc:
        if well_formed:
            raise Unexpected(f"a well-formed {what} was refused: {exc}") from exc
        if path.name not in str(exc):
            raise Unexpected(f"error does not name the file: {exc}") from exc
        return None
    except Exception as exc:
        raise Unexpected(f"foreign exception {type(exc).__name__}: {exc}") from exc
    if not well_formed:
        raise Unexpected(f"a defective {what} was read without a word")
    return result


def check_grace(spec: dict, folder: Path) -> str:
    """Read a generated file with :func:`open_grace`; ``"correct"`` or ``"refused"``."""
    from gracefuse.data.grace import open_grace

    path = write_grace(spec, folder / "grace.nc")
    defect = spec["defect"]
    benign = defect == "none" or (
        defect in ("duplicate_time", "decreasing_time", "lon_repeat_different")
        and spec["truth"].shape[0 if defect != "lon_repeat_different" else 2] == 1
    )
    ds = _read(lambda: open_grace(path), path, benign, f"file ({defect})")
    if ds is None:
        return "refused"
    got, want = ds["twsa"], _expected(spec)
    if got.dims != ("time", "lat", "lon") or got.shape != want.shape:
        raise Unexpected(f"axes {got.dims} {got.shape}, expected (time, lat, lon) {want.shape}")
    for c in ("time", "lat", "lon"):
        if not np.array_equal(np.asarray(got[c].values), np.asarray(want[c].values)):
            raise Unexpected(f"coordinate {c}: {got[c].values} != {want[c].values}")
    if not np.allclose(got.values, want.values, rtol=1e-6, atol=1e-6, equal_nan=True):
        raise Unexpected("values differ from what was written (wrong unit or axis)")
    empty = [
        f"{t:%Y-%m}"
        for t, v in zip(want.time.to_index(), want.values, strict=True)
        if np.isnan(v).all()
    ]
    listed = [m for m in ds.attrs["missing_months"].split(", ") if m]
    if listed != empty:
        raise Unexpected(f"missing months {listed}, expected {empty}")
    return "correct"


WELL_DEFECTS = ("none", "none", "lat", "lon", "inf", "big", "sentinel", "text", "date", "no_lat")


@st.composite
def wells_case(draw) -> dict:
    """A well table: wells, months, values and at most one defect."""
    n_wells, n_months = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    levels = draw(st.lists(st.floats(-300, 300, allow_nan=False), min_size=n_wells * n_months,
                           max_size=n_wells * n_months))  # fmt: skip
    return {
        "levels": np.asarray(levels).reshape(n_wells, n_months),
        "lat": draw(st.lists(st.floats(-89, 89), min_size=n_wells, max_size=n_wells)),
        "lon": draw(st.lists(st.floats(-179, 359), min_size=n_wells, max_size=n_wells)),
        "defect": draw(st.sampled_from(WELL_DEFECTS)),
    }


def write_wells(spec: dict, path: Path) -> Path:
    """Write ``spec`` as a CSV table (``well_id, lat, lon, date, level``)."""
    rows = []
    months = pd.date_range("2005-01-01", periods=spec["levels"].shape[1], freq="MS")
    for i, row in enumerate(spec["levels"]):
        for t, v in zip(months, row, strict=True):
            rows.append({"well_id": f"W{i}", "lat": spec["lat"][i], "lon": spec["lon"][i],
                         "date": f"{t:%Y-%m-%d}", "level": repr(float(v))})  # fmt: skip
    df = pd.DataFrame(rows)
    d = spec["defect"]
    if d in ("lat", "lon"):
        df[d] = {"lat": 100.0, "lon": 500.0}[d]
    elif d in ("inf", "big", "sentinel", "text"):
        df.loc[len(df) - 1, "level"] = {
            "inf": "inf",
            "big": "1e30",
            "sentinel": "-9999",
            "text": "dry",
        }[d]
    elif d == "date":
        df.loc[0, "date"] = "not a date"
    elif d == "no_lat":
        df = df.drop(columns="lat")
    df.to_csv(path, index=False)
    return path


def check_wells(spec: dict, folder: Path) -> str:
    """Read a generated table with :func:`open_wells`; ``"correct"`` or ``"refused"``."""
    from gracefuse.data.tables import open_wells

    path = write_wells(spec, folder / "wells.csv")
    well_formed = spec["defect"] == "none"
    ds = _read(lambda: open_wells(path, "level"), path, well_formed, f"table ({spec['defect']})")
    if ds is None:
        return "refused"
    got = ds["level"].sel(well=[f"W{i}" for i in range(len(spec["lat"]))]).values
    if not np.allclose(got, spec["levels"], rtol=1e-9, atol=1e-9):
        raise Unexpected("well levels differ from what was written")
    if not np.allclose(ds["lat"].sel(well=[f"W{i}" for i in range(len(spec["lat"]))]), spec["lat"]):
        raise Unexpected("well latitudes differ from what was written")
    return "correct"


MONTHS = ("2002-04", "2017-12", "1979-01", "2012-06", "2005-01-15", "2008-03", "2016-01",
          "1900-01", "2010-13", "soon", "2040-01")  # fmt: skip
#: fusion models (valid in these fusion recipes), then a reconstruction model, a renamed one
#: and an unknown one (refused)
MODEL_NAMES = ("segnet_lite", "segnet_pool", "unet", "vgg16_unet", "seunet", "segnet", "resnet")


def _mostly(valid: list, invalid: list):
    """Each valid value three times as likely as each invalid one."""
    return st.sampled_from(valid * 3 + invalid)


@st.composite
def recipe_case(draw) -> dict:
    """A recipe: training numbers, a twin or file source, models, and stray keys or types;
    most fields valid, so that valid recipes and single defects both occur."""
    twin = draw(st.booleans())
    data: dict = {"kind": "twin" if twin else "files"}
    if twin:
        data |= {"size": draw(_mostly([8, 16, 32, 64, 128], [0, 7, 100000])),
                 "start": draw(_mostly(list(MONTHS[:7]), list(MONTHS[7:]))),
                 "end": draw(_mostly(list(MONTHS[:7]), list(MONTHS[7:])))}  # fmt: skip
    else:
        box = [draw(_mostly([-60.0, 0.0, 7.75], [95.0])), draw(_mostly([47.75, 60.0, 89.0], [-100.0])),
               draw(_mostly([-20.0, 0.0, 60.0], [400.0])), draw(_mostly([100.0, 180.0, 360.0], [-190.0]))]  # fmt: skip
        data |= {"grace": "g.nc", "lsm": ["l/*.nc4"], "box": box}
    train = {
        "epochs": draw(_mostly([1, 2, 10, 60], [-5, 0])),
        "lr": draw(_mostly([1e-4, 1e-3, 0.5], [-0.1, 0.0, 20.0])),
        "batch_size": draw(_mostly([1, 5, 64], [-2, 0])),
    }
    threads = draw(_mostly([None, 1, 4], [-1, 0]))
    if threads is not None:
        train["num_threads"] = threads
    n_models = draw(_mostly([1, 2], [0]))
    names = [draw(_mostly(list(MODEL_NAMES[:4]), list(MODEL_NAMES[4:]))) for _ in range(n_models)]
    rare = st.sampled_from([False] * 9 + [True])
    return {
        "recipe": {
            "name": "fuzz",
            "data": data,
            "train": train,
            "models": [{"name": n} for n in names],
        },  # fmt: skip
        "stray": draw(st.sampled_from([None] * 12 + ["train.epoch", "data.color", "top"])),
        "wrong_type": draw(rare),
        "broken_toml": draw(rare),
    }


def _recipe_valid(spec: dict) -> bool:
    """The rules, written out independently of gracefuse's validators."""
    r = spec["recipe"]
    if spec["stray"] or spec["wrong_type"] or spec["broken_toml"]:
        return False
    t, d, names = r["train"], r["data"], [m["name"] for m in r["models"]]
    ok = t["epochs"] >= 1 and 0 < t["lr"] <= 10 and t["batch_size"] >= 1
    ok &= t.get("num_threads", 1) >= 1
    ok &= 1 <= len(names) == len(set(names)) and all(n in MODEL_NAMES[:4] for n in names)
    if d["kind"] == "twin":
        good = set(MONTHS[:7]) | {"2040-01"}
        ok &= 8 <= d["size"] <= 128 and d["start"] in good and d["end"] in good
        if ok:
            start, end = d["start"][:7], d["end"][:7]
            ok &= start < end <= "2030-12"
    else:
        s, n, w, e = d["box"]
        ok &= -90 <= s < n <= 90 and -180 <= w < e <= 360
    return bool(ok)


def write_recipe(spec: dict, path: Path) -> Path:
    """Write ``spec`` as TOML (with its stray key, wrong type or broken syntax)."""
    import copy

    import tomli_w

    r = copy.deepcopy(spec["recipe"])
    if spec["stray"] == "train.epoch":
        r["train"]["epoch"] = 5
    elif spec["stray"] == "data.color":
        r["data"]["color"] = "blue"
    elif spec["stray"] == "top":
        r["extra"] = 1
    if spec["wrong_type"]:
        r["train"]["epochs"] = "ten"
    text = tomli_w.dumps(r)
    if spec["broken_toml"]:
        text = text.replace("=", "", 1)
    path.write_text(text)
    return path


def check_recipe(spec: dict, folder: Path) -> str:
    """Load a generated recipe; ``"correct"`` (its values kept) or ``"refused"``."""
    from gracefuse.recipes import load_recipe

    path = write_recipe(spec, folder / "recipe.toml")
    recipe = _read(lambda: load_recipe(path), path, _recipe_valid(spec), "recipe")
    if recipe is None:
        return "refused"
    t = spec["recipe"]["train"]
    if (recipe.train.epochs, recipe.train.lr, recipe.train.batch_size) != (
        t["epochs"],
        t["lr"],
        t["batch_size"],
    ):
        raise Unexpected("training settings were changed on loading")
    if [m.name for m in recipe.models] != [m["name"] for m in spec["recipe"]["models"]]:
        raise Unexpected("models were changed on loading")
    return "correct"
