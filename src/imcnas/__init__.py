"""imcnas: hardware-aware neural architecture search and co-design for in-memory-computing accelerators.

One import path per concept: ``imcnas.trace``, ``imcnas.estimate``, ``imcnas.estimate_batch``, ``imcnas.load_chip``.
The workload tracer needs torch and is imported on first use, so the cost model stays numpy-only.
"""
from __future__ import annotations

from typing import Any

from imcnas.errors import ConfigError, ImcnasError, MappingError, TraceError, UnknownNameError
from imcnas.hardware import Chip, CostReport, CostTable, estimate, estimate_batch, list_presets, load_chip
from imcnas.workload.ops import Op, OpKind, Workload

__version__ = "0.1.0"
__all__ = ["Chip", "ConfigError", "CostReport", "CostTable", "ImcnasError", "MappingError", "Op", "OpKind",
           "TraceError", "UnknownNameError", "Workload", "estimate", "estimate_batch", "list_presets", "load_chip",
           "trace"]


def trace(model: Any, example_input: Any, name: str | None = None) -> Workload:
    """Trace an nn.Module on an example input into a Workload (see imcnas.workload.tracer)."""
    from imcnas.workload.tracer import trace as _trace

    return _trace(model, example_input, name=name)
