"""Errors that the CLI turns into one clear message and exit code 2."""

from __future__ import annotations

from os import PathLike


class GracefuseError(Exception):
    """Base class of every error gracefuse raises on purpose (bad input, bad config)."""


class InputError(GracefuseError):
    """An input file or variable is missing, malformed or inconsistent.

    Parameters
    ----------
    path
        The file concerned (or ``None`` when the problem is not tied to one file).
    problem
        What is wrong, in plain words.
    variable
        The variable concerned, if any.

    Examples
    --------
    >>> str(InputError("grace.nc", "units 'furlong' are not a water height", variable="lwe"))
    "grace.nc: variable 'lwe': units 'furlong' are not a water height"
    """

    def __init__(
        self, path: str | PathLike | None, problem: str, variable: str | None = None
    ) -> None:
        self.path = None if path is None else str(path)
        self.variable = variable
        self.problem = problem
        parts = [p for p in (self.path, f"variable '{variable}'" if variable else None) if p]
        super().__init__(": ".join([*parts, problem]))


class ConfigError(GracefuseError):
    """A recipe/config is invalid (unknown key, wrong type, inconsistent options)."""
