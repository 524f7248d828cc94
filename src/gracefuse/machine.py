"""Facts about the machine a run ran on, for ``run_info.json``: what can make two
machines of one kind give different numbers (CPU model and its vector extensions, thread
counts, the torch build and its kernel libraries)."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import numpy as np
import torch


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def torch_build() -> dict[str, str]:
    """The versions of the kernel libraries torch was built with, and the CPU capability
    it uses (from :func:`torch.__config__.show`).

    Examples
    --------
    >>> sorted(torch_build())
    ['cpu_capability', 'mkl', 'onednn']
    """
    text = torch.__config__.show()
    patterns = {"onednn": r"(?:MKL-DNN|oneDNN)\s+v?([\d.]+)",
                "mkl": r"Math Kernel Library Version\s+([\w.\-]+)",
                "cpu_capability": r"CPU capability usage:\s*(\S+)"}  # fmt: skip
    out = {}
    for key, pattern in patterns.items():
        m = re.search(pattern, text)
        out[key] = m.group(1) if m else "absent"
    return out


def machine_facts() -> dict:
    """CPU model and count, torch's intra- and inter-op threads, whether deterministic
    algorithms are on, and the versions of Python, NumPy, torch and its kernel libraries."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch_build": torch_build(),
    }
