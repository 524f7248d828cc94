"""The input choice of ``yu2021_twin``, made on the validation block only.

Runs the recipe's SE-U-Net with and without the exponential precipitation memories
(``memory_efolding``) and prints, as JSON lines, the grid-median RMSE (mm) and region NSE on
the validation block (the block the fill model is chosen on; the reported hidden block
and the test months are not printed, so they cannot steer the choice).

Aim: keep the memories only if they lower the validation-block RMSE. About 6 minutes on 2
CPU cores: ``python benchmarks/choices_fill.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

from gracefuse.recipes import load_recipe
from gracefuse.runner import run_recipe


def main() -> int:
    for memory in ([], [12.0, 24.0, 48.0, 96.0]):
        recipe = load_recipe("yu2021_twin")
        recipe.reconstruction = recipe.reconstruction.model_copy(update={"memory_efolding": memory})
        recipe.models = [m for m in recipe.models if m.name == "seunet"]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = run_recipe(recipe, tmp, progress=False, figures=False)
        t = res.table
        val = t[(t.split == "validation_block") & (t.model == "seunet")]
        pick = val.set_index(["scale", "metric"])["value"]
        line = {
            "memory_efolding": memory,
            "validation_block_rmse_grid_median": round(float(pick[("grid_median", "rmse")]), 2),
            "validation_block_nse_region": round(float(pick[("region", "nse")]), 4),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
