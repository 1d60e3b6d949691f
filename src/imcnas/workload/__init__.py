"""What runs: a network as an ordered list of operations with shapes and counts."""
from __future__ import annotations

from imcnas.workload.ops import Op, OpKind, Workload
from imcnas.workload.trace import trace
from imcnas.workload.zoo import get_model, list_models, load_model

__all__ = ["Op", "OpKind", "Workload", "trace", "list_models", "get_model", "load_model"]
