"""Error types. User errors carry a one-line message the CLI prints without a traceback."""
from __future__ import annotations


class ImcnasError(Exception):
    """Base class of errors caused by user input (bad names, fields, files, models)."""

    exit_code: int = 2


class ConfigError(ImcnasError):
    """A hardware description or config field is unknown or out of range."""


class UnknownNameError(ImcnasError):
    """A preset, model or other name is not known; the message lists the known ones."""

    def __init__(self, what: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        super().__init__(f"unknown {what} '{name}'; known: {', '.join(sorted(known))}")


class TraceError(ImcnasError):
    """A model could not be traced into a workload."""


class EnduranceError(ConfigError):
    """A chip would wear out its cells: crossbars rewritten per inference beyond the device's endurance."""


class MappingError(ImcnasError):
    """A workload does not fit the chip (e.g. fixed tile count too small)."""
