"""Same recipe, same seed, same numbers: on one machine bit for bit (``kernels = "fast"``,
the default), and across x86-64 CPU models with ``kernels = "portable"``.

What moves a CPU run's numbers, measured in ``benchmarks/reproducibility.py``:

- **oneDNN** (torch's convolution and RNN kernels) picks its code by the CPU's vector
  extensions and cache sizes and splits its sums by thread count: the same shrunk demo on
  1 and 2 threads, or with AVX2 against AVX-512 kernels, moves a test NSE by up to 0.008.
  ``portable`` turns oneDNN off (convolutions go through ATen's im2col + BLAS; the demo's
  SegNet-lite trains 3.5× slower).
- **MKL** (BLAS) picks its kernels by CPU model and vendor; its *conditional numerical
  reproducibility* branch ``COMPATIBLE`` gives the same bits on every x86-64 CPU for one
  thread count. ``portable`` sets ``MKL_CBWR=COMPATIBLE``, which MKL reads once, at its
  first call: a process that used MKL before the run keeps its branch (``run_info.json``
  says which, and the log warns), and runs on :data:`PORTABLE_THREADS` threads unless
  ``num_threads`` says otherwise.
- **torch's deterministic algorithms** are switched on (``warn_only``: an operation without
  a deterministic form runs anyway and is named in ``run_info.json``); on CUDA also cuDNN's
  deterministic mode and cuBLAS's fixed workspace.

Every random stream starts from the recipe's seed: torch's global generator (weights,
dropout), NumPy's and Python's global generators (third-party code such as SHAP's sampler);
gracefuse's own code draws from Generators seeded from it, and the training loop reseeds
per epoch. The context restores every global it touched when it ends.
"""

from __future__ import annotations

import ctypes
import logging
import os
import random
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import torch

from gracefuse.config import TrainConfig

log = logging.getLogger(__name__)

#: MKL's branch codes (``mkl_cbwr_get``), by name
MKL_BRANCHES = {1: "off (MKL chooses by CPU)", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3",
                7: "SSE4_1", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 11: "AVX512_MIC",
                12: "AVX512"}  # fmt: skip
NONDETERMINISTIC = "does not have a deterministic implementation"
#: the thread count of a portable run without ``num_threads`` (MKL's sums depend on it)
PORTABLE_THREADS = 2


def seed_everything(seed: int) -> None:
    """Seed torch's, NumPy's and Python's global generators (weight init, dropout, the
    samplers of third-party code); gracefuse's NumPy code uses its own seeded Generators."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the global stream third-party code draws)
    random.seed(seed)


def mkl_branch() -> str:
    """The branch MKL runs (``MKL_CBWR``), read from torch's MKL; ``"unknown"`` where this
    torch has none. Starts MKL if it has not started."""
    try:
        lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return "unknown"
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    code = get(1)
    return MKL_BRANCHES.get(code, f"code {code}")


@contextmanager
def _global_state() -> Iterator[None]:
    """Restore the random generators, deterministic and kernel flags and thread count on
    exit."""
    rng = (torch.get_rng_state(), np.random.get_state(), random.getstate())  # noqa: NPY002
    flags = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())  # fmt: skip
    threads = torch.get_num_threads()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    onednn = (torch.backends.mkldnn.enabled, torch.backends.mkldnn.deterministic)
    try:
        yield
    finally:
        torch.set_rng_state(rng[0])
        np.random.set_state(rng[1])  # noqa: NPY002
        random.setstate(rng[2])
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
        torch.set_num_threads(threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        torch.backends.mkldnn.enabled, torch.backends.mkldnn.deterministic = onednn


@contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name] = value`` (unless already set by the user) for the block."""
    if value is None or name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def _rethrow(caught: list[warnings.WarningMessage], facts: dict) -> None:
    """Name the operations without a deterministic form in ``facts``; show the other
    warnings as they would have been shown."""
    ops = set(facts.get("nondeterministic_ops", []))
    for w in caught:
        text = str(w.message)
        if NONDETERMINISTIC in text:
            ops.add(text.split(NONDETERMINISTIC)[0].strip())
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    facts["nondeterministic_ops"] = sorted(ops)


@contextmanager
def reproducible(train: TrainConfig) -> Iterator[dict]:
    """Run the block seeded and pinned as ``train`` asks; yields the facts for
    ``run_info.json`` (kernels, MKL branch, threads, the operations without a
    deterministic form), completed when the block ends.

    Examples
    --------
    >>> with reproducible(TrainConfig(seed=3)) as facts:
    ...     a = torch.rand(2)
    >>> with reproducible(TrainConfig(seed=3)):
    ...     b = torch.rand(2)
    >>> bool((a == b).all()), facts["kernels"]
    (True, 'fast')
    """
    portable = train.kernels == "portable"
    facts: dict = {"kernels": train.kernels, "deterministic_algorithms": train.deterministic}
    caught: list[warnings.WarningMessage] = []
    try:
        with ExitStack() as stack:
            stack.enter_context(_global_state())
            stack.enter_context(_env("MKL_CBWR", "COMPATIBLE" if portable else None))
            stack.enter_context(_env("CUBLAS_WORKSPACE_CONFIG", ":4096:8"))
            caught = stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            threads = train.num_threads or (PORTABLE_THREADS if portable else None)
            if threads:
                torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(train.deterministic, warn_only=True)
            torch.backends.cudnn.deterministic = train.deterministic
            torch.backends.cudnn.benchmark = False
            torch.backends.mkldnn.enabled = not portable
            torch.backends.mkldnn.deterministic = train.deterministic
            seed_everything(train.seed)
            facts |= {"mkl_branch": mkl_branch(), "onednn": not portable,
                      "torch_threads": torch.get_num_threads()}  # fmt: skip
            if portable and facts["mkl_branch"] not in ("COMPATIBLE", "unknown"):
                log.warning("MKL started in this process before the run, on branch %s: the "
                            "numbers hold on this CPU model only (run in a fresh process, or "
                            "set MKL_CBWR=COMPATIBLE before starting, for portable numbers)",
                            facts["mkl_branch"])  # fmt: skip
            yield facts
    finally:
        _rethrow(caught, facts)
