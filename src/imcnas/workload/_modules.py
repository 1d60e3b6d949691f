"""Rules for module calls (nn.Linear, convolutions, embeddings, attention, RNNs, PyG aggregation, ...).

Split from :mod:`imcnas.workload._classify`, which holds the shared records and the function-call rules.
Which modules are priced on crossbars is decided by :func:`imcnas.workload.analog.analog_kind`, the same
function ``imcnas.accuracy.convert`` calls. A ``torch.nn`` leaf module with weights and no rule is
UNSUPPORTED (never a silent zero).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from imcnas.workload._classify import (Rule, T, _arg, _conv, _dynamic, _matrix, _pool_window, _simple, tensors,
                                      unsupported)
from imcnas.workload._recurrent import rnn_cell_rule, rnn_rule
from imcnas.workload.analog import _has_mro, analog_kind
from imcnas.workload.ops import Op, OpKind


# ---------------------------------------------------------------------------------------------- modules
def _first(args: tuple, kwargs: dict) -> T:
    ts = tensors((args, kwargs))
    return ts[0] if ts else T(())


def _linear(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    """nn.Linear, PyG's Linear (weight out x in) and HF's Conv1D (weight in x out)."""
    x, (a, b) = _first(args, kwargs), tuple(m.weight.shape)
    hf = type(m).__name__ == "Conv1D"
    rows, cols = (a, b) if hf else (b, a)
    op = _matrix(name, type(m).__name__, x, out, rows, cols, 1, x.numel // max(rows, 1),
                 bias=getattr(m, "bias", None) is not None)
    return [_compact(op, m, lambda w: (w if hf else w.t()).unsqueeze(0))]


def _convnd(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    g = m.groups
    op = _conv(name, type(m).__name__, _first(args, kwargs), out, tuple(m.weight.shape), g,
               m.transposed, stride=tuple(m.stride), padding=m.padding if isinstance(m.padding, str)
               else tuple(m.padding), dilation=tuple(m.dilation), bias=m.bias is not None)
    if m.transposed:  # weight (cin, cout/g, *k): a group's matrix is its cin/g inputs x (cout/g * k)
        return [_compact(op, m, lambda w: w.reshape(g, w.shape[0] // g, -1))]
    # weight (cout, cin/g, *k): a group's matrix is (cin/g * k) fan-in rows x cout/g outputs
    return [_compact(op, m, lambda w: w.reshape(g, w.shape[0] // g, -1).transpose(1, 2))]


# ---------------------------------------------------------------------------------------------- pruning
_PLAIN = (torch.Tensor, nn.Parameter)  # not FakeTensor, UninitializedParameter or other subclasses


def _real_weight(m: Any) -> torch.Tensor | None:
    """The module's materialised weight, or None for meta/fake/lazy/sparse weights (no compaction then).
    A ``torch.nn.utils.prune``-d module's weight is recomputed from ``weight_orig * weight_mask``."""
    w = getattr(m, "weight", None)
    orig, mask = getattr(m, "weight_orig", None), getattr(m, "weight_mask", None)
    if isinstance(orig, torch.Tensor) and isinstance(mask, torch.Tensor) and type(orig) in _PLAIN \
            and type(mask) in _PLAIN and orig.device.type != "meta" and mask.device.type != "meta":
        w = orig * mask
    if not isinstance(w, torch.Tensor) or type(w) not in _PLAIN or w.device.type == "meta" \
            or w.layout is not torch.strided:
        return None
    return w


def _compact(op: Op, m: Any, as_groups: Callable[[torch.Tensor], torch.Tensor]) -> Op:
    """Record the stored size of a pruned weight: the nonzero submatrix of each group.

    ``as_groups`` views the weight as (groups, rows, cols) in the op's orientation. A fan-in row that is zero
    for every output of a group needs no input driver and no cells (the mapper leaves that input out); an
    output column that is entirely zero needs no cells and no ADC conversions. So only the rows and columns
    with a nonzero weight are stored: ``rows``/``cols`` become the largest such counts over the groups (the
    block shape stays uniform), ``macs`` scales with them, and ``meta["dense_rows"]``/``["dense_cols"]`` keep
    the dense size. A dense model has no all-zero row or column and is unchanged. Scattered zeros (unstructured
    pruning) still occupy their cells: only whole rows/columns that vanish shrink the matrix. At least one row
    and one column are kept. Weights that are not materialised (meta, fake, lazy) are left alone.
    """
    if op.rows <= 0 or op.cols <= 0:
        return op
    try:
        with torch.no_grad():
            w = _real_weight(m)
            if w is None:
                return op
            w = w.detach()
            if int(torch.count_nonzero(w)) == w.numel():  # dense: the common case, one cheap pass
                return op
            nz = as_groups(w) != 0
            if tuple(nz.shape) != (op.groups, op.rows, op.cols):
                return op
            rows = max(int(nz.any(dim=2).sum(dim=1).max()), 1)
            cols = max(int(nz.any(dim=1).sum(dim=1).max()), 1)
    except Exception:  # noqa: BLE001 - an odd weight must not change how the layer is traced
        return op
    if (rows, cols) == (op.rows, op.cols):
        return op
    return dataclasses.replace(op, rows=rows, cols=cols, macs=rows * cols * op.groups * op.vectors,
                               meta={**op.meta, "dense_rows": op.rows, "dense_cols": op.cols})


def _embedding(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    idx = _first(args, kwargs)
    return [Op(name=name, kind=OpKind.EMBEDDING, module=type(m).__name__, rows=m.num_embeddings,
               cols=m.embedding_dim, vectors=idx.numel, elements=out.numel if out else 0, in_shape=idx.shape,
               out_shape=out.shape if out else ())]


def _batch_len(t: T, batch_first: bool) -> tuple[int, int]:
    if len(t.shape) == 2:
        return 1, t.shape[0]
    return (t.shape[0], t.shape[1]) if batch_first else (t.shape[1], t.shape[0])


def _mha(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    """nn.MultiheadAttention: Q/K/V projections, QK^T, softmax, AV, output projection."""
    q, k, v = (_arg(args, kwargs, i, key) for i, key in enumerate(("query", "key", "value")))
    (n, L), (_, S) = _batch_len(q, m.batch_first), _batch_len(k, m.batch_first)
    E, H = m.embed_dim, m.num_heads
    hd, src = E // H, type(m).__name__
    scores = T((n, H, L, S))
    o = T((n, L, E))
    return [_matrix(f"{name}.q_proj", src, q, o, E, E, 1, n * L),
            _matrix(f"{name}.k_proj", src, k, T((n, S, E)), m.kdim, E, 1, n * S),
            _matrix(f"{name}.v_proj", src, v, T((n, S, E)), m.vdim, E, 1, n * S),
            _dynamic(f"{name}.qk", src, o, scores, n * H * L * S * hd, m=L, k=hd, n=S, batch=n * H),
            _simple(f"{name}.softmax", OpKind.SOFTMAX, src, scores, scores, 3.0),
            _dynamic(f"{name}.av", src, scores, o, n * H * L * S * hd, m=L, k=S, n=hd, batch=n * H),
            _matrix(f"{name}.out_proj", src, o, out, E, E, 1, n * L)]


def _aggregation(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    x = _first(args, kwargs)
    dim = kwargs.get("dim", args[4] if len(args) > 4 and isinstance(args[4], int) else -2)
    edges = x.shape[dim] if len(x.shape) >= abs(dim) else 0
    return [_simple(name, OpKind.AGGREGATE, type(m).__name__, x, out, flops=x.numel, edges=edges)]


def _kind_rule(kind: OpKind, per_elem: float) -> Rule:
    def rule(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
        return [_simple(name, kind, type(m).__name__, _first(args, kwargs), out, per_elem)]
    return rule


def _pool(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    x = _first(args, kwargs)
    if type(m).__name__.startswith("Adaptive"):
        return [_simple(name, OpKind.POOL, type(m).__name__, x, out, flops=x.numel)]
    window = _pool_window(m.kernel_size, max(len(x.shape) - 2, 1))
    return [_simple(name, OpKind.POOL, type(m).__name__, x, out, float(window), kernel=m.kernel_size,
                    stride=m.stride)]


def _skip(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    return []


_ACT_FLOPS = {"ReLU": 1.0, "ReLU6": 1.0, "Hardtanh": 1.0, "LeakyReLU": 1.0, "PReLU": 1.0, "Threshold": 1.0,
              "Hardswish": 3.0, "Hardsigmoid": 3.0}
_SKIP_MODULES = (nn.Identity, nn.Flatten, nn.Unflatten, nn.ChannelShuffle, nn.PixelShuffle, nn.PixelUnshuffle)


def _unsupported_module(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    return [unsupported(name, type(m).__name__, _first(args, kwargs), out,
                        f"no cost rule for module {type(m).__name__} (it holds weights)")]


_ANALOG_RULES: dict[str, Rule] = {"linear": _linear, "conv": _convnd, "attention": _mha, "rnn": rnn_rule,
                                  "rnn_cell": rnn_cell_rule}


def module_rule(m: nn.Module) -> Rule | None:
    """The rule for a module the tracers treat as a leaf, or None to trace through it."""
    mod = type(m).__module__
    kind = analog_kind(m)
    if kind is not None:
        return _ANALOG_RULES[kind]
    if isinstance(m, nn.Embedding):
        return _embedding
    if _has_mro(m, "Aggregation", "torch_geometric"):
        return _aggregation
    if isinstance(m, _SKIP_MODULES) or mod.startswith(("torch.nn.modules.dropout", "torch.nn.modules.padding")):
        return _skip
    if isinstance(m, (nn.Softmax, nn.LogSoftmax, nn.Softmin, nn.Softmax2d)):
        return _kind_rule(OpKind.SOFTMAX, 3.0)
    if mod == "torch.nn.modules.activation":
        return _kind_rule(OpKind.ACTIVATION, _ACT_FLOPS.get(type(m).__name__, 4.0))
    if mod in ("torch.nn.modules.batchnorm", "torch.nn.modules.instancenorm", "torch.nn.modules.normalization"):
        return _kind_rule(OpKind.NORM, 2.0 if isinstance(m, nn.modules.batchnorm._BatchNorm) else 5.0)
    if mod == "torch.nn.modules.pooling":
        return _pool
    if mod.startswith(("torch.nn.", "torch.ao.nn.")) and not any(True for _ in m.children()) \
            and not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        if any(True for _ in m.parameters(recurse=False)):
            return _unsupported_module  # e.g. nn.Bilinear, nn.EmbeddingBag: weights we cannot place
        return _kind_rule(OpKind.OTHER, 1.0)  # e.g. nn.Upsample, nn.CosineSimilarity: digital, per element
    return None


def keeps_static(target: Rule | str | None) -> bool:
    """True for lookups recorded even with constant indices (e.g. position embeddings): the table is stored."""
    return target is _embedding or target == "embedding"


def is_graph_model(model: nn.Module) -> bool:
    """True when the model holds torch_geometric message-passing layers (its inputs are one graph)."""
    return any(_has_mro(m, "MessagePassing", "torch_geometric") for m in model.modules())

