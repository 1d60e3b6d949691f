"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020) in torch, with dead-op elimination.

Macro skeleton (CIFAR-10): stem conv3x3 (3 -> 16) + BN; three stages of 5 identical cells with C = 16, 32, 64,
separated by residual reduction blocks (ResNet basic block, stride 2, shortcut avg-pool 2x2 + conv1x1);
``lastact`` BN + ReLU, global average pooling and a linear classifier.

A cell has 4 nodes (0 = cell input, 3 = cell output) and 6 edges i -> j (i < j); node j is the sum of its
incoming edges. Edge ops: ``none`` (zeros), ``skip_connect``, ``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-Conv-BN)
and ``avg_pool_3x3`` (stride 1, padding 1, count_include_pad=False).

Edge orders. An architecture here is 6 op names in NAS-Bench-201 *string order* (:data:`EDGES`, grouped by
target node: 1<-0 | 2<-0, 2<-1 | 3<-0, 3<-1, 3<-2), as in
``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``.
NASLib's op indices (used by AnalogNAS-Bench) list the edges grouped by *source* node
(:data:`NASLIB_EDGES`: 1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2) with op ids :data:`NASLIB_OPS`
(0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avg-pool); :func:`from_op_indices` / :func:`to_op_indices` convert.

Dead ops. An edge is *live* when it lies on a path from node 0 to node 3 through non-``none`` edges. Edges
that cannot reach the output do not affect the result, and edges not reachable from the input only see zeros
(their output is a per-channel constant, the BN shift, that a compiler folds into a bias), so a compiler does
not execute either. With ``prune_dead=True`` (the default) the network omits them: the traced workload holds
only live ops and the cost model prices what would run on the chip. Parameter and MAC counts then differ from
NAS-Bench-201's published figures for cells with dead edges (NB201 counts every edge); ``prune_dead=False``
reproduces NB201's counting. A cell whose output is unreachable from its input outputs zeros.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Sequence

import torch
from torch import Tensor, nn

from imcnas.errors import ConfigError
from imcnas.workload.ops import Op, Workload

__all__ = ["CHANNELS", "CELLS_PER_STAGE", "EDGES", "NASLIB_EDGES", "NASLIB_OPS", "OPS", "NB201Cell",
           "NB201Network", "arch_to_str", "cell_signature", "from_op_indices", "live_edges", "mirror",
           "nb201_network", "nb201_workload", "parse_arch", "prune_dead", "to_op_indices"]

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (source, target)
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
CHANNELS: tuple[int, int, int] = (16, 32, 64)
CELLS_PER_STAGE = 5

Arch = tuple[str, ...]


# ------------------------------------------------------------------------------------------ encodings
def parse_arch(ops: Sequence[str] | str) -> Arch:
    """6 op names in NB201 string order, from a sequence of names or an NB201 architecture string."""
    if isinstance(ops, str):
        nodes = ops.strip().split("+")
        if len(nodes) != 3:
            raise ConfigError(f"NB201 string '{ops}': expected 3 nodes separated by '+', got {len(nodes)}")
        names: list[str] = []
        for j, node in enumerate(nodes, start=1):
            parts = [p for p in node.strip().strip("|").split("|") if p]
            for i, part in enumerate(parts):
                op, _, src = part.partition("~")
                if src != str(i):
                    raise ConfigError(f"NB201 string '{ops}': expected '~{i}' in node {j}, got '{part}'")
                names.append(op)
            if len(parts) != j:
                raise ConfigError(f"NB201 string '{ops}': node {j} needs {j} edges, got {len(parts)}")
        ops = names
    names = [str(o) for o in ops]
    if len(names) != len(EDGES):
        raise ConfigError(f"an NB201 cell has {len(EDGES)} edges, got {len(names)} ops")
    for k, name in enumerate(names):
        if name not in OPS:
            raise ConfigError(f"edge {k}: unknown op '{name}'; known: {', '.join(OPS)}")
    return tuple(names)


def arch_to_str(ops: Sequence[str] | str) -> str:
    """The NB201 architecture string of a cell."""
    a = parse_arch(ops)
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*a)


def from_op_indices(indices: Sequence[int]) -> Arch:
    """NASLib / AnalogNAS-Bench op indices (edges grouped by source node) -> ops in NB201 string order."""
    idx = [int(i) for i in indices]
    if len(idx) != len(NASLIB_EDGES) or any(not 0 <= i < len(NASLIB_OPS) for i in idx):
        raise ConfigError(f"op indices must be 6 ints in 0..{len(NASLIB_OPS) - 1}, got {tuple(indices)}")
    by_edge = {e: NASLIB_OPS[i] for e, i in zip(NASLIB_EDGES, idx)}
    return tuple(by_edge[e] for e in EDGES)


def to_op_indices(ops: Sequence[str] | str) -> tuple[int, ...]:
    """Ops in NB201 string order -> NASLib / AnalogNAS-Bench op indices."""
    by_edge = dict(zip(EDGES, parse_arch(ops)))
    return tuple(NASLIB_OPS.index(by_edge[e]) for e in NASLIB_EDGES)


def mirror(ops: Sequence[str] | str) -> Arch:
    """The cell with its graph reversed (node i -> 3 - i, edge i->j -> 3-j -> 3-i)."""
    by_edge = dict(zip(EDGES, parse_arch(ops)))
    return tuple(by_edge[(3 - j, 3 - i)] for i, j in EDGES)


# ------------------------------------------------------------------------------------------ liveness
def live_edges(ops: Sequence[str] | str) -> tuple[bool, ...]:
    """Per edge (string order): True when it lies on a path input -> output of non-``none`` edges."""
    a = parse_arch(ops)
    on = [(e, op != "none") for e, op in zip(EDGES, a)]
    fwd = {0}
    for j in (1, 2, 3):
        if any(ok and t == j and s in fwd for (s, t), ok in on):
            fwd.add(j)
    bwd = {3}
    for i in (2, 1, 0):
        if any(ok and s == i and t in bwd for (s, t), ok in on):
            bwd.add(i)
    return tuple(ok and s in fwd and t in bwd for (s, t), ok in on)


def prune_dead(ops: Sequence[str] | str) -> Arch:
    """The cell with every dead edge set to ``none`` (same function, only live ops)."""
    return tuple(op if live else "none" for op, live in zip(parse_arch(ops), live_edges(ops)))


def cell_signature(ops: Sequence[str] | str) -> tuple[int, int, int, int, int]:
    """What the cost of the pruned cell depends on: counts of live skip, conv1x1, conv3x3 and avg-pool edges,
    and the number of tensor additions (live in-edges minus live nodes with an input)."""
    live = prune_dead(ops)
    counts = [sum(op == name for op in live) for name in OPS[1:]]
    targets = {t for (_, t), op in zip(EDGES, live) if op != "none"}
    adds = sum(op != "none" for op in live) - len(targets)
    return (counts[0], counts[1], counts[2], counts[3], adds)


# ------------------------------------------------------------------------------------------ modules
class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d, NB201's ``nor_conv`` and basic-block convolutions."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: two ReLU-Conv-BN 3x3 (the first with stride 2) plus a shortcut of avg-pool 2x2
    and conv1x1."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                                        nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def _edge_module(op: str, c: int) -> nn.Module | None:
    if op == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3)
    if op == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return None  # skip_connect passes the tensor; none contributes nothing


class NB201Cell(nn.Module):
    """One NB201 cell of width ``c``; ``none`` edges (and, with ``prune_dead``, dead edges) are omitted."""

    def __init__(self, ops: Sequence[str] | str, c: int, prune_dead: bool = True) -> None:
        super().__init__()
        self.arch = parse_arch(ops)
        used = live_edges(self.arch) if prune_dead else tuple(op != "none" for op in self.arch)
        self.edges = nn.ModuleDict()
        # plan: per target node, its inputs as (source node, module key or "" for a skip connection)
        self._plan: list[list[tuple[int, str]]] = [[], [], [], []]
        for (s, t), op, on in zip(EDGES, self.arch, used):
            if not on:
                continue
            mod = _edge_module(op, c)
            key = ""
            if mod is not None:
                key = f"e{t}_{s}"
                self.edges[key] = mod
            self._plan[t].append((s, key))

    def forward(self, x: Tensor) -> Tensor:
        nodes: list[Tensor | None] = [x, None, None, None]
        for j in (1, 2, 3):
            acc: Tensor | None = None
            for s, key in self._plan[j]:
                src = nodes[s]
                if src is None:  # only without pruning: an edge fed by an unreachable node sees zeros
                    src = torch.zeros_like(x)
                term = self.edges[key](src) if key else src
                acc = term if acc is None else acc + term
            nodes[j] = acc
        out = nodes[3]
        return torch.zeros_like(x) if out is None else out


class NB201Network(nn.Module):
    """The NAS-Bench-201 CIFAR network for one cell (all 15 cells share the architecture)."""

    def __init__(self, ops: Sequence[str] | str, num_classes: int = 10, prune_dead: bool = True,
                 channels: Sequence[int] = CHANNELS, cells_per_stage: int = CELLS_PER_STAGE) -> None:
        super().__init__()
        self.arch = parse_arch(ops)
        c0 = channels[0]
        self.stem = nn.Sequential(nn.Conv2d(3, c0, 3, padding=1, bias=False), nn.BatchNorm2d(c0))
        layers: list[nn.Module] = []
        c_prev = c0
        for k, c in enumerate(channels):
            if k > 0:
                layers.append(ResNetBasicBlock(c_prev, c, 2))
            layers.extend(NB201Cell(self.arch, c, prune_dead) for _ in range(cells_per_stage))
            c_prev = c
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.head(x)

    def head(self, x: Tensor) -> Tensor:
        """lastact, global pooling and classifier."""
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))


def nb201_network(ops: Sequence[str] | str, num_classes: int = 10, *, prune_dead: bool = True) -> NB201Network:
    """The NB201 network of a cell given as 6 op names in NB201 string order or an NB201 string.

    ``prune_dead`` omits edges that are not on an input -> output path (see the module docstring)."""
    return NB201Network(ops, num_classes=num_classes, prune_dead=prune_dead)


# ------------------------------------------------------------------------------------------ workloads
class _Add(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class _Head(nn.Module):
    def __init__(self, net: NB201Network) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.head(x)


def _renamed(ops: Sequence[Op], prefix: str) -> list[Op]:
    return [dataclasses.replace(o, name=f"{prefix}.{o.name}") for o in ops]


@lru_cache(maxsize=4)
def _pieces(num_classes: int) -> dict[str, list[Op]]:
    """Traced building blocks: stem, reductions, head, and per stage one edge op of each kind and one add."""
    from imcnas.workload.tracer import trace

    net = NB201Network(["none"] * 6, num_classes=num_classes)
    x = torch.zeros(1, 3, 32, 32)
    out: dict[str, list[Op]] = {"stem": list(trace(net.stem, x).ops)}
    x = net.stem(x)
    for k, c in enumerate(CHANNELS):
        if k > 0:
            block = net.cells[k * (CELLS_PER_STAGE + 1) - 1]
            out[f"reduce{k}"] = list(trace(block, x).ops)
            x = block(x)
        for op in OPS[2:]:
            out[f"{op}@{k}"] = list(trace(_edge_module(op, c), x).ops)
        out[f"add@{k}"] = list(trace(_Add(), (x, x)).ops)
    out["head"] = list(trace(_Head(net), x).ops)
    return out


@lru_cache(maxsize=1024)
def _signature_workload(sig: tuple[int, int, int, int, int], num_classes: int) -> Workload:
    p = _pieces(num_classes)
    _, n1, n3, npool, nadd = sig
    ops: list[Op] = _renamed(p["stem"], "stem")
    i = 0
    for k in range(len(CHANNELS)):
        if k > 0:
            ops += _renamed(p[f"reduce{k}"], f"cells.{i}")
            i += 1
        cell = (p[f"nor_conv_1x1@{k}"] * n1 + p[f"nor_conv_3x3@{k}"] * n3 + p[f"avg_pool_3x3@{k}"] * npool
                + p[f"add@{k}"] * nadd)
        for _ in range(CELLS_PER_STAGE):
            ops += _renamed(cell, f"cells.{i}")
            i += 1
    ops += _renamed(p["head"], "head")
    return Workload(name=f"nb201{sig}", ops=tuple(ops), batch=1, input_shape=(1, 3, 32, 32), tracer="fx")


def nb201_workload(ops: Sequence[str] | str, num_classes: int = 10) -> Workload:
    """The workload of ``nb201_network(ops)`` (dead ops pruned) on one 32x32 image, assembled from traced
    pieces: it depends only on :func:`cell_signature`, so the 15,625 cells need 16 traces in all. Op names
    and order within a cell differ from a direct trace; counts, shapes and costs are the same."""
    return _signature_workload(cell_signature(ops), num_classes)
