"""Property-based fuzzing of the readers and recipes (a fast profile; the long run is
``benchmarks/fuzz_inputs.py``). Every generated input is either read right by
construction, or refused with the project's error naming the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from fuzzcases import check_grace, check_recipe, check_wells, grace_case, recipe_case, wells_case

FAST = settings(
    max_examples=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


@FAST
@given(grace_case())
def test_grace_files_are_read_right_or_refused(spec):
    with tempfile.TemporaryDirectory() as d:
        assert check_grace(spec, Path(d)) in ("correct", "refused")


@FAST
@given(wells_case())
def test_well_tables_are_read_right_or_refused(spec):
    with tempfile.TemporaryDirectory() as d:
        assert check_wells(spec, Path(d)) in ("correct", "refused")


@FAST
@given(recipe_case())
def test_recipes_are_loaded_right_or_refused(spec):
    with tempfile.TemporaryDirectory() as d:
        assert check_recipe(spec, Path(d)) in ("correct", "refused")
