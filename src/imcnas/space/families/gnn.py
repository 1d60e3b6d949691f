"""``gnn``: NAS-Bench-Graph's space (Qin et al., NeurIPS 2022 Datasets and Benchmarks) on torch_geometric.

A network is a DAG of four computing nodes over the input. Node ``i`` reads one earlier state, chosen by the
*link* ``arch.link`` (a string of four predecessor indices, 0 = the input, j = node j; NAS-Bench-Graph's nine
non-isomorphic topologies, e.g. ``"0123"`` a chain, ``"0000"`` four parallel nodes), and applies operator
``arch.op<i>``:

=======  ======================================================  ==========================================
op       torch_geometric layer                                   crossbar (Linear) layers
=======  ======================================================  ==========================================
gcn      ``GCNConv(in, dim)``                                    1 (``lin``)
gat      ``GATConv(in, dim // heads, heads)`` (concatenated)     1 (``lin``); attention vectors digital
gin      ``GINConv(Linear(in, dim))``                            1
cheb     ``ChebConv(in, dim, K=arch.cheb_k)``                    K
sage     ``SAGEConv(in, dim)`` (mean aggregation)                2 (``lin_l``, ``lin_r``)
arma     :class:`ARMA`, torch_geometric's ``ARMAConv(in, dim)``  2 (``lin_init``, ``lin_root``)
         (1 stack, 1 layer) with its two weights as Linear
         layers
graph    ``GraphConv(in, dim)`` (k-GNN, Morris et al. 2019)      2 (``lin_rel``, ``lin_root``)
fc       ``Linear(in, dim)`` (no message passing)                1
skip     identity                                                0
=======  ======================================================  ==========================================

Every non-skip node is followed by batch norm, ReLU and dropout. The *leaves* (nodes no other node reads) are
concatenated (a skip leaf gives the state it passes on, except the input, which it never adds: the bench's parameter counts show both), optionally read out per graph (``global_mean_pool`` when the model is called with a ``batch``
vector: graph classification), passed through ``arch.post`` Linear+ReLU layers of width ``dim`` and a Linear
classifier. ``arch.pre`` Linear+ReLU layers of width ``dim`` may precede the DAG. With NAS-Bench-Graph's
Cora settings (dim 256, pre 0, post 1, 1,433 features, 7 classes) the parameter count equals the bench's
``para`` for every architecture (tests/space/test_gnn.py checks a sample), less ``dim x dim`` per ``arma``
node: torch_geometric's ``ARMAConv`` allocates a layer-to-layer weight that a one-layer ARMA never uses
(the bench counts it); :class:`ARMA` computes the same function without it.

The forward is ``model(x, edge_index, batch=None)``: ``x`` (N, F) node features, ``edge_index`` (2, E).
``input_shape`` is ``(F,)``, the node-feature width. torch_geometric is an optional extra
(``pip install 'imcnas[graph]'``), imported when a model is built.

Keys (``*`` = default; the default space searches link, ops and dim):

================  ==============================  ===========================================================
arch.link         the 9 topologies ("0123"*)      predecessor of each node
arch.op0..op3     the 9 operators ("gcn"*)        operator of each node
arch.dim          32, 64*, 128                    hidden width (2..4096; divisible by arch.heads for gat)
arch.pre          (not searched)                  Linear layers before the DAG (0*..2)
arch.post         (not searched)                  Linear layers after the leaves (0..2; 1*)
arch.dropout      (not searched)                  dropout after each layer (0..0.9; 0.5*)
arch.heads        (not searched)                  GAT heads (1..16; 2* as the bench)
arch.cheb_k       (not searched)                  ChebNet order (1..5; 2*)
================  ==============================  ===========================================================
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imcnas.errors import ConfigError
from imcnas.space.families.base import Knob, choice_of, int_in, number_in, resolve_arch
from imcnas.space.params import Choice, Param

__all__ = ["GNN", "GraphNet", "KNOBS", "LINKS", "OPS", "leaves", "require_pyg"]

LINKS: tuple[str, ...] = ("0000", "0001", "0011", "0012", "0013", "0111", "0112", "0122", "0123")
OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")  # the bench's order
MAX_PRE = MAX_POST = 2
MAX_CHEB_K = 5

KNOBS: dict[str, Knob] = {
    "arch.link": Knob("0123", choice_of(*LINKS)),
    **{f"arch.op{i}": Knob("gcn", choice_of(*OPS)) for i in range(4)},
    "arch.dim": Knob(64, int_in(2, 4096)),
    "arch.pre": Knob(0, int_in(0, MAX_PRE)),
    "arch.post": Knob(1, int_in(0, MAX_POST)),
    "arch.dropout": Knob(0.5, number_in(0.0, 0.9)),
    "arch.heads": Knob(2, int_in(1, 16)),
    "arch.cheb_k": Knob(2, int_in(1, MAX_CHEB_K)),
}


def require_pyg() -> Any:
    """The ``torch_geometric`` module, or a one-line ConfigError saying how to install it."""
    try:
        import torch_geometric
        import torch_geometric.nn  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"graph models need torch_geometric (pip install 'imcnas[graph]'): {err}") from None
    return torch_geometric


def _source(link: str, ops: list[str], state: int) -> int:
    """The state a read of ``state`` really sees: skip nodes pass their own source through."""
    while state > 0 and ops[state - 1] == "skip":
        state = int(link[state - 1])
    return state


def leaves(link: str, ops: list[str]) -> list[int]:
    """States (1..4 = nodes, 0 = the input) concatenated at the output: one per node that no node reads, a skip
    node giving the state it passes on. A skip of the input itself adds nothing (the bench's parameter counts
    show this); with no other output, the input."""
    read = {int(c) for c in link}
    out = [_source(link, ops, i + 1) for i in range(4) if i + 1 not in read]
    return [s for s in out if s > 0] or [0]


def _shape(input_shape: Any, num_classes: Any) -> int:
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = all(s == t for s, t in zip(shape, input_shape)) and len(shape) == 1 and shape[0] >= 1
    except (TypeError, ValueError):
        shape, ok = (), False
    if not ok:
        raise ConfigError(f"family 'gnn': input_shape must be (F,), the node-feature width of a graph dataset, "
                          f"got {input_shape!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"family 'gnn': num_classes must be a positive int, got {num_classes!r}")
    return shape[0]


def _operator(op: str, fan_in: int, dim: int, heads: int, cheb_k: int) -> nn.Module | None:
    g = require_pyg().nn
    if op == "gcn":
        return g.GCNConv(fan_in, dim)
    if op == "gat":
        if dim % heads:
            raise ConfigError(f"family 'gnn': arch.dim {dim} is not divisible by arch.heads {heads} (gat "
                              "concatenates its heads)")
        return g.GATConv(fan_in, dim // heads, heads=heads)
    if op == "gin":
        return g.GINConv(nn.Linear(fan_in, dim))
    if op == "cheb":
        return g.ChebConv(fan_in, dim, K=cheb_k)
    if op == "sage":
        return g.SAGEConv(fan_in, dim)
    if op == "arma":
        return _arma_class()(fan_in, dim)
    if op == "graph":
        return g.GraphConv(fan_in, dim)
    if op == "fc":
        return nn.Linear(fan_in, dim)
    return None  # skip


def _arma_class() -> type:
    """:class:`ARMA`, defined on first use (its base class comes from torch_geometric, an optional extra)."""
    cls = globals().get("ARMA")
    if cls is not None:
        return cls
    g = require_pyg()
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    class ARMA(g.nn.MessagePassing):
        """torch_geometric's ``ARMAConv`` with one stack and one layer (as NAS-Bench-Graph uses it),
        ``relu(A_norm (x W_init) + x W_root + b)``, with ``W_init`` and ``W_root`` as Linear layers
        (``lin_init``, ``lin_root``) so that they map onto crossbars like every other operator's weights;
        ``A_norm`` is the symmetric GCN normalisation without self loops, as in ``ARMAConv``."""

        def __init__(self, in_channels: int, out_channels: int) -> None:
            super().__init__(aggr="add")
            lin = g.nn.Linear
            self.lin_init = lin(in_channels, out_channels, bias=False, weight_initializer="glorot")
            self.lin_root = lin(in_channels, out_channels, bias=False, weight_initializer="glorot")
            self.bias = nn.Parameter(torch.zeros(out_channels))

        def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
            ei, w = gcn_norm(edge_index, None, x.size(0), add_self_loops=False, dtype=x.dtype)
            out = self.propagate(ei, x=self.lin_init(x), edge_weight=w)
            return F.relu(out + self.lin_root(x) + self.bias)

        def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
            return edge_weight.view(-1, 1) * x_j

    ARMA.__module__, ARMA.__qualname__ = __name__, "ARMA"  # picklable as imcnas.space.families.gnn.ARMA
    globals()["ARMA"] = ARMA
    return ARMA


class GraphNet(nn.Module):
    """Pre-process layers, four operator nodes wired by ``link``, leaf concatenation, (readout), post layers,
    classifier. ``forward(x, edge_index, batch=None)``."""

    def __init__(self, arch: Mapping[str, Any], features: int, num_classes: int) -> None:
        super().__init__()
        dim, self.link = int(arch["arch.dim"]), str(arch["arch.link"])
        self.ops_names = [str(arch[f"arch.op{i}"]) for i in range(4)]
        self.dropout = float(arch["arch.dropout"])
        widths = [features]
        pre = []
        for _ in range(int(arch["arch.pre"])):
            pre.append(nn.Linear(widths[0], dim))
            widths[0] = dim
        self.pre = nn.ModuleList(pre)
        ops, norms = [], []
        for i, name in enumerate(self.ops_names):
            fan_in = widths[int(self.link[i])]
            op = _operator(name, fan_in, dim, int(arch["arch.heads"]), int(arch["arch.cheb_k"]))
            ops.append(op if op is not None else nn.Identity())
            norms.append(nn.BatchNorm1d(dim))  # one per node, as the bench counts them (a skip node's is unused)
            widths.append(dim if op is not None else fan_in)
        self.ops, self.norms = nn.ModuleList(ops), nn.ModuleList(norms)
        self.leaves = leaves(self.link, self.ops_names)
        width = sum(widths[i] for i in self.leaves)
        post = []
        for _ in range(int(arch["arch.post"])):
            post.append(nn.Linear(width, dim))
            width = dim
        self.post = nn.ModuleList(post)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None) -> Tensor:
        h = x
        for lin in self.pre:
            h = F.dropout(F.relu(lin(h)), self.dropout, self.training)
        states = [h]
        for i, (name, op, norm) in enumerate(zip(self.ops_names, self.ops, self.norms)):
            s = states[int(self.link[i])]
            if name == "skip":
                states.append(s)
                continue
            out = op(s) if name == "fc" else op(s, edge_index)
            states.append(F.dropout(F.relu(norm(out)), self.dropout, self.training))
        h = torch.cat([states[i] for i in self.leaves], dim=-1) if len(self.leaves) > 1 else states[self.leaves[0]]
        if batch is not None:
            from torch_geometric.nn import global_mean_pool

            h = global_mean_pool(h, batch)
        for lin in self.post:
            h = F.dropout(F.relu(lin(h)), self.dropout, self.training)
        return self.classifier(h)


class GNN:
    """The ``gnn`` family (see the module docstring for keys and defaults)."""

    name = "gnn"
    knobs = KNOBS
    graph = True  # its models take (x, edge_index[, batch]): the study feeds them graph datasets only

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """link (9 topologies), op0..op3 (9 operators each), dim 32/64/128."""
        _shape(input_shape, num_classes)
        return {"arch.link": Choice(LINKS), **{f"arch.op{i}": Choice(OPS) for i in range(4)},
                "arch.dim": Choice((32, 64, 128))}

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """A :class:`GraphNet` over ``(F,)`` node features."""
        features = _shape(input_shape, num_classes)
        return GraphNet(resolve_arch(self.name, arch, KNOBS), features, num_classes)

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """pre + 4 nodes x at most ``cheb_k`` Linear layers + post + classifier."""
        _shape(input_shape, num_classes)
        return MAX_PRE + 4 * MAX_CHEB_K + MAX_POST + 1
