"""Fuzz the readers and recipes with generated inputs and count what happened.

Aim: at least 5,000 cases in all, 0 unexpected exceptions and 0 silent wrong results (a
defect read without a word, or a value, unit or axis that differs from what was written).
Each input is either read right by construction (``correct``) or refused with gracefuse's
error naming the file (``refused``). The generators are ``tests/fuzzcases.py``
(hypothesis strategies; the same ones the test suite runs in a fast profile).

Usage::

    python benchmarks/fuzz_inputs.py [--grace 3000] [--wells 1500] [--recipes 1500]

Prints one JSON object: counts per target and per defect, seconds, and the failures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from fuzzcases import (  # noqa: E402
    Unexpected,
    check_grace,
    check_recipe,
    check_wells,
    grace_case,
    recipe_case,
    wells_case,
)


def run(strategy, check, n: int, defect_of) -> dict:
    """Draw ``n`` cases from ``strategy`` and tally ``check``'s outcome per defect."""
    counts: Counter = Counter()
    failures: list[str] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def body(spec):
        with tempfile.TemporaryDirectory() as d:
            try:
                outcome = check(spec, Path(d))
            except Unexpected as exc:
                silent = ("without a word", "differ", "accepted", "changed", "expected")
                outcome = "silent_wrong" if any(w in str(exc) for w in silent) else "unexpected"
                failures.append(f"{defect_of(spec)}: {exc}"[:300])
            except Exception as exc:  # noqa: BLE001 - counted, never hidden
                outcome = "unexpected"
                failures.append(f"{defect_of(spec)}: {type(exc).__name__}: {exc}"[:300])
        counts[(defect_of(spec), outcome)] += 1

    t0 = time.perf_counter()
    body()
    per_defect: dict = {}
    for (defect, outcome), k in sorted(counts.items()):
        per_defect.setdefault(defect, {})[outcome] = k
    totals = Counter()
    for (_, outcome), k in counts.items():
        totals[outcome] += k
    return {
        "cases": sum(counts.values()),
        "outcomes": dict(totals),
        "per_defect": per_defect,
        "seconds": round(time.perf_counter() - t0, 1),
        "failures": failures[:20],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grace", type=int, default=3000)
    ap.add_argument("--wells", type=int, default=1500)
    ap.add_argument("--recipes", type=int, default=1500)
    args = ap.parse_args()
    results = {
        "grace_netcdf": run(grace_case(), check_grace, args.grace, lambda s: s["defect"]),
        "well_csv": run(wells_case(), check_wells, args.wells, lambda s: s["defect"]),
        "recipe_toml": run(
            recipe_case(),
            check_recipe,
            args.recipes,
            lambda s: "broken_toml" if s["broken_toml"] else (s["stray"] or "fields"),
        ),
    }
    total = Counter()
    for r in results.values():
        total.update(r["outcomes"])
    summary = {
        "benchmark": "fuzz_inputs",
        "target": ">= 5000 cases, 0 unexpected, 0 silent_wrong",
        "cases": sum(total.values()),
        "outcomes": dict(total),
        "met": sum(total.values()) >= 5000
        and total["unexpected"] == 0
        and total["silent_wrong"] == 0,
        "targets": results,
    }
    print(json.dumps(summary, indent=1))
    return 0 if summary["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
