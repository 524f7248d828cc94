"""The registry of method families, filled as each family's package is imported."""

from __future__ import annotations

from gracefuse.errors import ConfigError
from gracefuse.methods.base import Method

#: every registered family by its recipe's ``method`` value
METHODS: dict[str, Method] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if cls.name in METHODS:
        raise ValueError(f"method {cls.name!r} is registered twice")
    METHODS[cls.name] = cls()
    return cls


def get_method(name: str) -> Method:
    """The family called ``name``; a :class:`ConfigError` listing the families otherwise."""
    if name not in METHODS:
        raise ConfigError(f"method: {name!r} is not a method; choose one of {', '.join(METHODS)}")
    return METHODS[name]
