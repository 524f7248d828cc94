"""The three-cornered hat (TCH): the noise of each of several products that measure the
same signal, from the variances of their differences alone, and their inverse-variance
combination.

Two forms:

- :func:`tch_three`, the closed form for exactly three products with independent noise,
  ``σ_1² = ½·(var(x_1 − x_2) + var(x_1 − x_3) − var(x_2 − x_3))``; it can return a
  negative variance when the assumption fails;
- :func:`tch_covariance`, the generalised form for any ``N ≥ 3`` (Premoli and Tavella
  1993; Galindo and Palacio 1999/2003): the full ``N × N`` noise covariance ``R`` whose
  differences reproduce the observed difference covariance ``S`` exactly, with the
  ``N`` free parameters chosen to make the noises as uncorrelated as possible (minimal sum
  of squared off-diagonal covariances) under the constraint that ``R`` is positive
  definite, so no variance is ever negative.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import minimize

from gracefuse.errors import InputError

#: fewest months that all products must share for a TCH estimate
MIN_MONTHS = 24


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] < 3:
        raise InputError(None, f"needs at least three products, got {x.shape[-1]}",
                         "products")  # fmt: skip
    return x[np.isfinite(x).all(axis=1)]


def tch_three(x: np.ndarray) -> np.ndarray:
    """Noise variances ``(3,)`` of three products ``x`` ``(T, 3)`` by the closed form.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(0, 10, 20000)
    >>> x = s[:, None] + rng.normal(0, 1, (20000, 3)) * [1.0, 2.0, 3.0]
    >>> np.round(np.sqrt(tch_three(x)), 1)
    array([1., 2., 3.])
    """
    x = _check(x)
    if x.shape[1] != 3:
        raise InputError(None, f"the closed form takes three products, got {x.shape[1]}",
                         "products")  # fmt: skip
    d = {(i, j): np.var(x[:, i] - x[:, j], ddof=1) for i in range(3) for j in range(3) if i < j}
    v12, v13, v23 = d[0, 1], d[0, 2], d[1, 2]
    return 0.5 * np.array([v12 + v13 - v23, v12 + v23 - v13, v13 + v23 - v12])


def _full_r(free: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The noise covariance ``(N, N)`` from the free parameters ``(r_1N … r_{N−1,N},
    r_NN)`` and the difference covariance ``s`` (reference: the last product)."""
    n = s.shape[0] + 1
    r_in, r_nn = free[:-1], free[-1]
    r = np.empty((n, n))
    r[:-1, :-1] = s - r_nn + r_in[:, None] + r_in[None, :]
    r[:-1, -1] = r[-1, :-1] = r_in
    r[-1, -1] = r_nn
    return r


def tch_covariance(x: np.ndarray) -> np.ndarray:
    """The generalised TCH: noise covariance ``(N, N)`` of ``N ≥ 3`` products ``(T, N)``.

    Months where a product is missing are left out. The result is positive semi-definite
    (variances ≥ 0); for three products whose closed form is positive it equals the
    closed form with zero covariances.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> s = rng.normal(0, 10, 20000)
    >>> x = s[:, None] + rng.normal(0, 1, (20000, 4)) * [1.0, 2.0, 3.0, 1.5]
    >>> np.round(np.sqrt(np.diag(tch_covariance(x))), 1)
    array([1. , 2. , 3. , 1.5])
    """
    x = _check(x)
    if len(x) < MIN_MONTHS:
        return np.full((x.shape[1], x.shape[1]), np.nan)
    y = x[:, :-1] - x[:, [-1]]
    s = np.atleast_2d(np.cov(y, rowvar=False))
    n = x.shape[1]
    det = np.linalg.det(s)
    if not det > 0:
        return np.full((n, n), np.nan)
    k = det ** (1.0 / (n - 1))
    s_inv = np.linalg.inv(s)
    u = np.ones(n - 1)
    off = np.triu_indices(n, 1)

    def objective(free: np.ndarray) -> float:
        return float(np.sum(_full_r(free * k, s)[off] ** 2))

    def positive(free: np.ndarray) -> float:  # > 0 ⇔ R positive definite (given S)
        r_in, r_nn = free[:-1] * k, free[-1] * k
        v = r_in - r_nn * u
        return float((r_nn - v @ s_inv @ v) / k)

    start = np.zeros(n)
    start[-1] = 1.0 / (2.0 * (u @ s_inv @ u)) / k
    res = minimize(objective, start, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": positive}],
                   options={"ftol": 1e-14, "maxiter": 500})  # fmt: skip
    return _full_r(res.x * k, s)


def tch_noise(x: np.ndarray) -> np.ndarray:
    """Noise standard deviations ``(N,)`` (units of ``x``) by :func:`tch_covariance`."""
    return np.sqrt(np.clip(np.diag(tch_covariance(x)), 0.0, None))


def combine(x: np.ndarray, noise_std: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse-variance combination of products ``(T, N)`` with noises ``(N,)``.

    Returns the combined series ``(T,)`` (weights renormalised over the products present
    each month) and its noise standard deviation ``(Σ σ_i⁻²)^(−1/2)``, which assumes
    independent noises (what the TCH's minimal covariances aim at).
    """
    w = 1.0 / np.asarray(noise_std, float) ** 2
    x = np.asarray(x, float)
    present = np.isfinite(x)
    wt = np.where(present, w[None], 0.0)
    total = wt.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = np.where(total > 0, (np.nan_to_num(x) * wt).sum(1) / total, np.nan)
    return combined, float(1.0 / np.sqrt(w.sum()))


def weighted_noise(r: np.ndarray, w: np.ndarray) -> float:
    """Noise standard deviation ``sqrt(wᵀ R w)`` of the combination with weights ``w``
    under the full TCH noise covariance ``r`` (its covariances included)."""
    return float(np.sqrt(max(float(w @ r @ w), 0.0))) if np.isfinite(r).all() else np.nan


def tch_dataset(products: xr.DataArray, dim: str = "product") -> xr.Dataset:
    """TCH over ``products`` ``(product, time, *space)``, per location.

    Returns ``noise_std`` ``(product, *space)`` in the units of ``products`` (with a
    ``combined`` entry: the inverse-variance combination's noise ``sqrt(wᵀ R w)`` under the
    full TCH covariance), ``mean_noise_std`` (the equal-weight mean's, a baseline),
    ``relative_noise``
    (noise over each product's own signal standard deviation) and ``combined``
    ``(time, *space)``.
    """
    if products.sizes[dim] < 3:
        raise InputError(None, f"needs at least three products, got {products.sizes[dim]}",
                         dim)  # fmt: skip
    space = [d for d in products.dims if d not in (dim, "time")]
    if space:
        stacked = products.transpose(dim, "time", *space).stack(loc=space)
    else:
        stacked = products.transpose(dim, "time").expand_dims(loc=[0], axis=-1)
    arr = stacked.values  # (P, T, L)
    n_p, n_t, n_l = arr.shape
    noise = np.full((n_p + 1, n_l), np.nan)
    mean_noise = np.full(n_l, np.nan)
    comb = np.full((n_t, n_l), np.nan)
    for i in range(n_l):
        r = tch_covariance(arr[:, :, i].T)
        sd = np.sqrt(np.clip(np.diag(r), 0.0, None))
        noise[:n_p, i] = sd
        mean_noise[i] = weighted_noise(r, np.full(n_p, 1.0 / n_p))
        if np.isfinite(sd).all() and (sd > 0).all():
            comb[:, i] = combine(arr[:, :, i].T, sd)[0]
            noise[n_p, i] = weighted_noise(r, sd**-2.0 / np.sum(sd**-2.0))
    names = [*map(str, products[dim].values), "combined"]
    signal = np.nanstd(np.concatenate([arr, comb[None]]), axis=1, ddof=1)
    ds = xr.Dataset(
        {"noise_std": ((dim, "loc"), noise), "relative_noise": ((dim, "loc"), noise / signal),
         "combined": (("time", "loc"), comb), "mean_noise_std": ("loc", mean_noise)},
        coords={dim: names, "time": products["time"].values},
    )  # fmt: skip
    if space:
        ds = ds.assign_coords(xr.Coordinates.from_pandas_multiindex(stacked.indexes["loc"], "loc"))
    ds = ds.unstack("loc") if space else ds.isel(loc=0, drop=True)
    ds["noise_std"].attrs = {"units": products.attrs.get("units", "mm"),
                             "long_name": "TCH noise standard deviation"}  # fmt: skip
    ds["relative_noise"].attrs = {"units": "1", "long_name": "TCH noise over signal std"}
    ds["mean_noise_std"].attrs = {
        "units": ds["noise_std"].attrs["units"],
        "long_name": "TCH noise of the equal-weight mean (baseline)",
    }
    ds["combined"].attrs = {
        "units": ds["noise_std"].attrs["units"],
        "long_name": "inverse-TCH-variance combination of the products",
    }
    return ds
