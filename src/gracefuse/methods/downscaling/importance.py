"""SHAP importances of the covariates of every learned downscaler (the ``shap`` package's
KernelExplainer on a sample of fine cells).

- Point models (``random_forest``, ``gnnwr``, ``gtnnwr``, ``ssvaer``): the explained value
  is the model's raw fine prediction at a sampled fine land cell and month of the test
  months; the features are that cell's predictors. GNNWR/GTNNWR keep the cell's own
  location and month (their weights), so each sample has its own explainer. The background
  is a sample of training-month cells.
- The PI-ConvLSTM + U-Net: a feature is a whole input channel of a patch (a predictor's map,
  or the coarse GWSA with its sequence); leaving it out sets it to its training mean (0 in
  standardised units); the explained values are the predictions at sampled land cells.

The importance of a predictor is its mean ``|SHAP|`` (mm) over the explained values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def _kernel(f, x: np.ndarray, background: np.ndarray, nsamples: int) -> np.ndarray:
    """``|SHAP|`` of ``f`` at the rows of ``x`` (``(n, P)``, averaged over outputs)."""
    import shap  # deferred: a heavy import that only importance needs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.KernelExplainer(f, background)
        values = np.asarray(explainer.shap_values(x, nsamples=nsamples, silent=True))
    if values.ndim == 3:  # (n, P, outputs)
        values = np.abs(values).mean(-1)
    return np.abs(values)


def point_importance(predict, problem, samples: int, nsamples: int, seed: int,
                     per_sample: bool) -> np.ndarray:  # fmt: skip
    """Mean ``|SHAP|`` (mm) of each predictor for ``predict(x, t, i, j) → (n,)``.

    ``per_sample``: the model reads where the cell is (GNNWR/GTNNWR), so each explained
    cell is explained with its own location and month held fixed."""
    rng = np.random.default_rng([seed, 61])
    t_test = np.nonzero(problem.months_of("test"))[0]
    t_train = np.nonzero(problem.months_of("train"))[0]
    ii, jj = np.nonzero(problem.land)
    pick = rng.integers(0, len(ii), samples)
    t = rng.choice(t_test, samples)
    x = problem.features[t, ii[pick], jj[pick]].astype(np.float64)
    bpick = rng.integers(0, len(ii), 16)
    background = problem.features[rng.choice(t_train, 16), ii[bpick], jj[bpick]].astype(float)
    if not per_sample:
        f = lambda z: predict(z, *(np.zeros(len(z), int),) * 3)  # noqa: E731
        return _kernel(f, x, background, nsamples).mean(0)
    out = []
    for k in range(samples):
        where = (np.full(1, t[k]), np.full(1, ii[pick[k]]), np.full(1, jj[pick[k]]))

        def f(z, where=where):
            return predict(z, *(np.repeat(w, len(z)) for w in where))

        out.append(_kernel(f, x[k : k + 1], background, nsamples)[0])
    return np.mean(out, 0)


def patch_importance(run_patch, n_features: int, samples: int, nsamples: int) -> np.ndarray:
    """Mean ``|SHAP|`` (mm) of each input channel group of the patch network.

    ``run_patch(masks, k) → (m, n_outputs)`` runs the network on patch ``k`` once per row
    of ``masks`` ``(m, n_features)``, the channel groups where a row is 0 set to their
    training mean."""
    ones = np.ones((1, n_features))
    out = []
    for k in range(samples):
        f = lambda m, k=k: run_patch(np.asarray(m), k)  # noqa: E731
        out.append(_kernel(f, ones, np.zeros((1, n_features)), nsamples)[0])
    return np.mean(out, 0)


def importance_table(values: dict[str, tuple[list[str], np.ndarray]]) -> pd.DataFrame:
    """``model, predictor, mean_abs_shap, rank`` (rank 1 the largest, per model) from
    ``model → (predictor names, mean |SHAP|)``."""
    rows = []
    for model, (names, v) in values.items():
        order = np.argsort(-v)
        rank = np.empty(len(v), int)
        rank[order] = np.arange(1, len(v) + 1)
        rows += [{"model": model, "predictor": n, "mean_abs_shap": float(a), "rank": int(r)}
                 for n, a, r in zip(names, v, rank, strict=True)]  # fmt: skip
    return pd.DataFrame(rows)
