"""What runs: a network as an ordered list of operations with shapes and counts.

``ops`` and ``table`` are torch-free (the cost model imports them); the tracer, the model zoo and
:func:`analog_layers` (the one decision of which layers run on crossbars, shared by the tracer and
``imcnas.accuracy.convert``) need torch and are imported on first use.
"""
from __future__ import annotations

from typing import Any

from imcnas.workload.ops import Op, OpKind, Unit, Workload

__all__ = ["Op", "OpKind", "Unit", "Workload", "analog_kind", "analog_layers", "trace", "list_models", "get_model",
           "load_model"]
_LAZY = {"trace": "imcnas.workload.tracer", "list_models": "imcnas.workload.zoo", "get_model": "imcnas.workload.zoo",
         "load_model": "imcnas.workload.zoo", "analog_kind": "imcnas.workload.analog",
         "analog_layers": "imcnas.workload.analog"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # the function, not the submodule of the same name
        return value
    raise AttributeError(f"module 'imcnas.workload' has no attribute '{name}'")
