"""Operation records: what a network computes, with shapes and counts, independent of any hardware.

All counts are for the whole example input the model was traced with; ``Workload.batch`` says how many
inferences that is, and the cost model divides by it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np


class OpKind(str, Enum):
    """Kinds of operation. Only MATRIX ops hold static weights that map onto crossbars."""

    MATRIX = "matrix"  # the layers of imcnas.workload.analog_layers (Conv, Linear, attention/RNN weights): crossbars
    DIGITAL_MATMUL = "digital_matmul"  # a static weight used by a function call (F.linear(x, self.w), x @ self.w)
    EMBEDDING = "embedding"  # table lookup: static weights, read one row per token
    DYNAMIC_MATMUL = "dynamic_matmul"  # both operands are activations (attention QK^T, AV)
    AGGREGATE = "aggregate"  # graph message passing (sum/mean over neighbours)
    POOL = "pool"
    ACTIVATION = "activation"
    NORM = "norm"
    SOFTMAX = "softmax"
    ELEMENTWISE = "elementwise"  # residual adds, multiplies, ...
    OTHER = "other"  # digital work the tracer knows (reductions, resampling, ...): one flop per element
    UNSUPPORTED = "unsupported"  # a module or function the tracer cannot price (meta["reason"] says why)


class Unit(str, Enum):
    """Where an op runs, the one question a user asks of a priced workload (``Op.unit``)."""

    CROSSBAR = "crossbar"  # static weights in crossbars (MATRIX)
    DYNAMIC = "dynamic"  # activation x activation matmuls on the digital units (DYNAMIC_MATMUL)
    DIGITAL = "digital"  # everything else the tracer prices: elementwise, norms, lookups, functional matmuls
    UNSUPPORTED = "unsupported"  # not priced faithfully: the tracer did not know it (UNSUPPORTED)


_UNITS = {"matrix": Unit.CROSSBAR, "dynamic_matmul": Unit.DYNAMIC, "unsupported": Unit.UNSUPPORTED}
_MACS = frozenset(("matrix", "dynamic_matmul", "digital_matmul"))


@dataclass(frozen=True)
class Op:
    """One operation of a traced network.

    For MATRIX (and DIGITAL_MATMUL) ops the weight is the unrolled matrix of one group, ``rows`` (fan-in: kh*kw*cin/groups) by
    ``cols`` (outputs per group), applied ``vectors`` times per group (output positions x batch).
    For EMBEDDING ops ``rows`` is the table size, ``cols`` the embedding width, ``vectors`` the lookups.
    For DYNAMIC_MATMUL ops ``macs`` = m*k*n summed over the batch and heads.
    For the rest, ``elements`` is the number of output elements and ``macs`` is 0; ``flops`` counts the
    digital arithmetic (one per output element for activations/adds, window size for pooling, ...).
    Ops of a module carry its path in ``meta["layer"]``; UNSUPPORTED ops say why in ``meta["reason"]``.
    """

    name: str
    kind: OpKind
    module: str = ""  # type of the source module or function, e.g. "Conv2d", "matmul"
    rows: int = 0
    cols: int = 0
    groups: int = 1
    vectors: int = 0
    macs: int = 0
    elements: int = 0
    flops: int = 0
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def weights(self) -> int:
        """Number of static weights (0 for ops without static weights)."""
        if self.kind in (OpKind.MATRIX, OpKind.EMBEDDING, OpKind.DIGITAL_MATMUL):
            return self.rows * self.cols * self.groups
        return 0

    @property
    def is_static(self) -> bool:
        """True when the op's weights sit in crossbars."""
        return self.kind is OpKind.MATRIX

    @property
    def unit(self) -> Unit:
        """Where the op runs: crossbar, dynamic (digital activation matmul), digital or unsupported."""
        return _UNITS.get(self.kind.value, Unit.DIGITAL)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n if shape else 0


def _kernel_area(op: Op) -> int:
    """kh x kw of a convolution (1 for a Linear layer)."""
    k = op.meta.get("kernel", 1)
    if isinstance(k, (tuple, list)):
        return int(np.prod(k)) if k else 1
    return int(k) ** 2


def _input_side(op: Op, batch: float) -> float:
    """Side of the layer's input feature map (the last dim of a 4-D input), else sqrt(positions)."""
    if len(op.in_shape) == 4:
        return float(op.in_shape[-1])
    return float(np.sqrt(max(op.vectors / batch, 1.0)))


# Digital functions priced per element by their own operation counts (``Digital.*_ops`` of the chip, I-BERT
# integer kernels) instead of one adder op per traced flop; keys of ``Workload.digital_totals``. Matched on
# the lower-case module or function name (``Op.module``). ReLU-type activations, batch norm, pooling and
# element-wise arithmetic are not listed: they stay at one adder op per flop.
ELEMENT_FUNCTIONS: dict[str, frozenset[str]] = {
    "gelu": frozenset(("gelu", "erf")),
    "sigmoid": frozenset(("sigmoid", "silu", "swish", "tanh", "elu", "selu", "celu", "mish", "softplus", "glu",
                          "logsigmoid", "tanhshrink")),
}


def element_function(op: Op) -> str | None:
    """The per-element function class of an op (``softmax``, ``norm``, ``gelu``, ``sigmoid``), or None for
    work priced at one adder op per flop. Batch norm (folded to a per-channel affine) stays per flop."""
    if op.kind is OpKind.SOFTMAX:
        return "softmax"
    name = op.module.lower()
    if op.kind is OpKind.NORM:
        return None if "batch" in name else "norm"
    if op.kind is OpKind.ACTIVATION:
        return next((k for k, names in ELEMENT_FUNCTIONS.items() if name in names), None)
    return None


def dynamic_shape(op: Op) -> tuple[float, float, float, float] | None:
    """(m, k, n, instances) of a dynamic matmul whose tracer recorded its shape (attention, ``matmul``): each
    instance multiplies an m x k by a k x n operand; None when it did not (einsum, dynamic convolutions)."""
    m = op.meta
    if op.kind is not OpKind.DYNAMIC_MATMUL or not all(key in m for key in ("m", "k", "n")):
        return None
    inst = m.get("batch", op.macs / max(m["m"] * m["k"] * m["n"], 1))
    return float(m["m"]), float(m["k"]), float(m["n"]), float(inst)


def aggregate_shape(op: Op) -> tuple[float, float, float]:
    """(edges, features, nodes) of an AGGREGATE op: ``flops`` = edges x features messages summed into nodes
    (``elements`` = nodes x features outputs)."""
    edges = float(max(op.meta.get("edges", 0), 1))
    feats = max(op.flops / edges, 1.0)
    nodes = max(op.elements / feats, 1.0)
    return edges, feats, nodes


@dataclass(frozen=True)
class Workload:
    """An ordered list of operations for ``batch`` inferences of one network."""

    name: str
    ops: tuple[Op, ...]
    batch: int = 1
    input_shape: tuple[int, ...] = ()
    tracer: str = ""  # how the ops were found: "fx", "hooks", or "" when built by hand

    @property
    def matrix_ops(self) -> list[Op]:
        """The static-weight ops that map onto crossbars, in order."""
        return [o for o in self.ops if o.kind is OpKind.MATRIX]

    @cached_property
    def macs(self) -> int:
        """Multiply-accumulates per inference on static weights plus dynamic matmuls."""
        total = sum(o.macs for o in self.ops if o.kind.value in _MACS)
        return total // max(self.batch, 1)

    @cached_property
    def unsupported(self) -> tuple[str, ...]:
        """Names (module paths, or ``path.function``) of the ops the tracer could not price, in order.

        Empty for a faithfully priced network. Each op's ``meta["reason"]`` says why; the cost model prices
        them as one digital flop per output element, a lower bound, so callers should refuse or warn."""
        return tuple(o.name for o in self.ops if o.kind is OpKind.UNSUPPORTED)

    @cached_property
    def weights(self) -> int:
        """Static weights (crossbar and embedding tables)."""
        return sum(o.weights for o in self.ops)

    @cached_property
    def matrix_arrays(self) -> dict[str, np.ndarray]:
        """Per MATRIX op: rows, cols, groups, vectors per inference (float64 arrays), for vectorised costing."""
        ms = self.matrix_ops
        b = float(max(self.batch, 1))
        return {
            # per-layer precision set by with_layer_bits (NaN: the chip's own)
            "w_bits": np.array([o.meta.get("w_bits", np.nan) for o in ms], dtype=np.float64),
            "in_bits": np.array([o.meta.get("in_bits", np.nan) for o in ms], dtype=np.float64),
            "rows": np.array([o.rows for o in ms], dtype=np.float64),
            "cols": np.array([o.cols for o in ms], dtype=np.float64),
            "groups": np.array([o.groups for o in ms], dtype=np.float64),
            "vectors": np.array([o.vectors for o in ms], dtype=np.float64) / b,
            "in_elems": np.array([_numel(o.in_shape) for o in ms], dtype=np.float64) / b,
            "out_elems": np.array([_numel(o.out_shape) for o in ms], dtype=np.float64) / b,
            "kernel_area": np.array([_kernel_area(o) for o in ms], dtype=np.float64),
            "in_hw": np.array([_input_side(o, b) for o in ms], dtype=np.float64),
        }

    @cached_property
    def digital_totals(self) -> dict[str, float]:
        """Per inference: ``flops`` priced at one adder op each (activations of the ReLU type, batch norm,
        pooling, element-wise and other digital work); elements of the functions priced per element
        (``softmax_elems``, ``norm_elems``, ``gelu_elems``, ``sigmoid_elems``: :func:`element_function`);
        ``dyn_macs``, dynamic-matmul MACs with the MACs of functional weight matmuls (the digital units compute
        both), of which ``xbar_macs`` could run on crossbars (shape recorded, :func:`dynamic_shape`);
        ``agg_flops``, aggregation messages (edges x features); ``io_elems``, elements read+written by
        non-crossbar ops other than aggregation; ``embedding_elems``, embedding-table words looked up;
        ``embed_reads``, static weights read digitally (lookups plus each functional matmul's weights once);
        ``embed_weights``, their table size."""
        b = float(max(self.batch, 1))
        rest = [o for o in self.ops if o.kind not in (OpKind.MATRIX, OpKind.EMBEDDING)]
        emb = [o for o in self.ops if o.kind is OpKind.EMBEDDING]
        dig = [o for o in self.ops if o.kind is OpKind.DIGITAL_MATMUL]
        per_elem = {"softmax": 0.0, "norm": 0.0, "gelu": 0.0, "sigmoid": 0.0}
        flops = 0.0
        for o in rest:
            if o.kind.value in _MACS or o.kind is OpKind.AGGREGATE:
                continue
            fn = element_function(o)
            if fn is None:
                flops += o.flops
            else:
                per_elem[fn] += o.elements
        embed_elems = sum(o.vectors * o.cols for o in emb) / b
        return {
            "flops": flops / b,
            **{f"{k}_elems": v / b for k, v in per_elem.items()},
            "dyn_macs": sum(o.macs for o in rest if o.kind.value in _MACS) / b,
            "xbar_macs": sum(o.macs for o in rest if dynamic_shape(o) is not None) / b,
            "agg_flops": sum(o.flops for o in rest if o.kind is OpKind.AGGREGATE) / b,
            "io_elems": sum(_numel(o.in_shape) + _numel(o.out_shape) for o in rest
                            if o.kind is not OpKind.AGGREGATE) / b,
            "embedding_elems": embed_elems,
            "embed_reads": embed_elems + float(sum(o.weights for o in dig)),
            "embed_weights": float(sum(o.weights for o in emb + dig)),
        }

    @cached_property
    def dynamic_arrays(self) -> dict[str, np.ndarray]:
        """Per dynamic matmul with a recorded shape (:func:`dynamic_shape`), in order: ``m``, ``k``, ``n`` and
        ``inst`` (instances per inference: batch x heads / workload batch), for pricing them on crossbars."""
        shapes = [s for s in map(dynamic_shape, self.ops) if s is not None]
        a = np.array(shapes, dtype=np.float64).reshape(len(shapes), 4)
        return {"m": a[:, 0], "k": a[:, 1], "n": a[:, 2], "inst": a[:, 3] / float(max(self.batch, 1))}

    @cached_property
    def rewritable_ops(self) -> tuple[tuple[Op, bool], ...]:
        """The dynamic matmuls and aggregations, in order, each with whether its shape is recorded (so that
        it can run on crossbars rewritten per inference: :func:`dynamic_shape`; aggregations always)."""
        return tuple((o, o.kind is OpKind.AGGREGATE or dynamic_shape(o) is not None) for o in self.ops
                     if o.kind in (OpKind.DYNAMIC_MATMUL, OpKind.AGGREGATE))

    @cached_property
    def aggregate_arrays(self) -> dict[str, np.ndarray]:
        """Per AGGREGATE op, in order: ``edges``, ``features`` and ``nodes`` per inference
        (:func:`aggregate_shape`; a batch of graphs counts as one graph of all their nodes and edges)."""
        b = float(max(self.batch, 1))
        shapes = [aggregate_shape(o) for o in self.ops if o.kind is OpKind.AGGREGATE]
        a = np.array(shapes, dtype=np.float64).reshape(len(shapes), 3)
        return {"edges": a[:, 0] / b, "features": a[:, 1], "nodes": a[:, 2] / b}

    def with_layer_bits(self, layer_bits: dict[str, dict[str, int]]) -> "Workload":
        """A copy whose MATRIX ops carry per-layer ``weights``/``inputs`` bits (keys are op names, i.e.
        module paths); the cost model prices those layers at that precision instead of the chip's."""
        from dataclasses import replace

        names = {o.name for o in self.matrix_ops}
        unknown = sorted(set(layer_bits) - names)
        if unknown:
            from imcnas.errors import ConfigError

            raise ConfigError(f"layer bits: no crossbar layer named '{unknown[0]}' in workload '{self.name}'")
        ops = []
        for o in self.ops:
            bits = layer_bits.get(o.name) if o.kind is OpKind.MATRIX else None
            if bits:
                meta = dict(o.meta)
                if "weights" in bits:
                    meta["w_bits"] = int(bits["weights"])
                if "inputs" in bits:
                    meta["in_bits"] = int(bits["inputs"])
                o = replace(o, meta=meta)
            ops.append(o)
        return replace(self, ops=tuple(ops))

    def op_table(self) -> list[dict[str, Any]]:
        """One JSON-able row per op, per inference: name, ``kind`` (its :class:`Unit`: crossbar / dynamic /
        digital / unsupported), ``op`` (its :class:`OpKind`), module type, layer path, MACs, elements, flops,
        and ``reason`` for unsupported ops."""
        b = float(max(self.batch, 1))
        rows = []
        for o in self.ops:
            row = {"name": o.name, "kind": o.unit.value, "op": o.kind.value, "module": o.module,
                   "layer": o.meta.get("layer", ""), "macs": o.macs / b, "elements": o.elements / b,
                   "flops": o.flops / b}
            if o.kind is OpKind.UNSUPPORTED:
                row["reason"] = o.meta.get("reason", "")
            rows.append(row)
        return rows

    def summary(self) -> dict[str, Any]:
        """Counts of ops by kind, MACs, weights and the unsupported ops, JSON-able."""
        kinds: dict[str, int] = {}
        for o in self.ops:
            kinds[o.kind.value] = kinds.get(o.kind.value, 0) + 1
        return {"name": self.name, "ops": kinds, "macs": self.macs, "weights": self.weights, "batch": self.batch,
                "unsupported": list(self.unsupported)}
