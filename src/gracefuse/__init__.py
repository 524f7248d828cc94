"""gracefuse: fuse GRACE/GRACE-FO water storage with land-surface models through deep learning.

The pipeline is laid out as packages: ``data`` (readers, grids, the synthetic twin,
``load_inputs``) → ``datasets`` (splits, scaling, features) → ``models`` → ``training`` →
``evaluate`` → ``methods/<family>`` → ``report``, driven by ``runner`` (see
``docs/architecture.md``).
"""

from gracefuse.errors import GracefuseError, InputError

__version__ = "0.1.0"

__all__ = ["GracefuseError", "InputError", "__version__"]
