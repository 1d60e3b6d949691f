"""What a NAS-Bench-Graph network costs on a grid of chips: the cost half of
:class:`~imcnas.benchmarks.nasbenchgraph.NASBenchGraphProblem`.

The priced network is the benched one: with the settings of :data:`DATASETS` (the bench's own hidden width,
pre- and post-process layers, found by fitting) the ``gnn`` family's
:class:`~imcnas.space.families.gnn.GraphNet` has the bench's ``para`` parameters for every architecture tested
(tests/benchmarks/test_nasbenchgraph.py checks a random sample per dataset). Physics matched no setting tried
and is left out; proteins (graph classification, another operator list) too.

Graph sizes are the published statistics of the datasets (nodes; directed edge count, both directions of an
undirected edge counted), as the PyG dataset documentation lists them (``torch_geometric.datasets.Planetoid``,
``Coauthor`` and ``Amazon``, "STATS" tables) and OGB for ogbn-arxiv (169,343 nodes, 1,166,243 edges). The
edges of the priced graph are drawn uniformly at random without self loops: the cost model counts nodes,
edges and features, never which nodes an edge links, so any graph of the right size gives the same cost.

Pricing 26,206 networks by tracing each would take hours; the workload of a GraphNet is the ops of its pre
layers, of each non-skip node (its operator, batch norm and ReLU, depending only on the operator and on whether
it reads the raw features or a hidden state), and of its post layers and classifier (depending on the number
of concatenated leaves). So each of these pieces is traced once (:func:`signature_workload` assembles an
architecture's workload from them), and architectures with the same :func:`signature` (multiset of node
pieces and leaf count) share one estimate (the cost does not depend on op order; the tests check assembled
against directly traced estimates). :func:`price_signature` prices one signature on every chip of a grid at
once; the costs are kept per (dataset, grid) for the process and can be handed to another one
(:func:`seed_cost_cache`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.hardware import Chip
from imcnas.space.families.gnn import OPS, leaves

__all__ = ["COST_OBJECTIVES", "DATASETS", "GraphDataset", "Signature", "arch_dict", "get_dataset", "graph_inputs",
           "grid_costs", "price_signature", "seed_cost_cache", "signature", "signature_workload"]

COST_OBJECTIVES: tuple[str, ...] = ("energy_pj", "latency_ns", "area_mm2")
Signature = tuple[tuple[tuple[str, bool], ...], int]  # sorted (operator, reads the raw features), leaf count


@dataclass(frozen=True)
class GraphDataset:
    """A NAS-Bench-Graph dataset: the network's settings in the bench and the graph the cost is priced on."""

    label: str
    features: int
    classes: int
    dim: int
    pre: int
    post: int
    nodes: int
    edges: int


DATASETS: dict[str, GraphDataset] = {
    "cora": GraphDataset("Cora", 1433, 7, 256, 0, 1, 2_708, 10_556),
    "citeseer": GraphDataset("CiteSeer", 3703, 6, 256, 0, 1, 3_327, 9_104),
    "pubmed": GraphDataset("PubMed", 500, 3, 128, 0, 0, 19_717, 88_648),
    "cs": GraphDataset("Coauthor CS", 6805, 15, 128, 1, 0, 18_333, 163_788),
    "photo": GraphDataset("Amazon Photo", 745, 8, 128, 0, 0, 7_650, 238_162),
    "computers": GraphDataset("Amazon Computers", 767, 10, 64, 1, 1, 13_752, 491_722),
    "arxiv": GraphDataset("ogbn-arxiv", 128, 40, 128, 0, 1, 169_343, 1_166_243),
}


def get_dataset(name: str) -> GraphDataset:
    """The settings of dataset ``name``; a one-line ConfigError for an unknown one."""
    if name not in DATASETS:
        raise ConfigError(f"unknown NAS-Bench-Graph dataset '{name}'; supported: {', '.join(DATASETS)}")
    return DATASETS[name]


def signature(link: str, ops: Sequence[str], pre: int) -> Signature:
    """What the cost of a GraphNet depends on: the sorted (operator, reads the raw features) pairs of its
    non-skip nodes and the number of concatenated leaves."""
    ops = list(ops)
    nodes = []
    for i, op in enumerate(ops):
        if op == "skip":
            continue
        src = int(link[i])
        while src > 0 and ops[src - 1] == "skip":  # a skip passes its own input on
            src = int(link[src - 1])
        nodes.append((op, pre == 0 and src == 0))
    return tuple(sorted(nodes)), len(leaves(link, ops))


def _graph(ds: GraphDataset, width: int) -> tuple[Any, Any]:
    """Node features (nodes, width) and ``edges`` uniform random edges without self loops (fixed seed)."""
    import torch

    g = torch.Generator().manual_seed(0)
    src = torch.randint(0, ds.nodes, (ds.edges,), generator=g)
    dst = (src + torch.randint(1, ds.nodes, (ds.edges,), generator=g)) % ds.nodes
    return torch.zeros(ds.nodes, width), torch.stack([src, dst])


def graph_inputs(dataset: str) -> tuple[Any, Any]:
    """The (x, edge_index) the problem prices a network of ``dataset`` on."""
    ds = get_dataset(dataset)
    return _graph(ds, ds.features)


def arch_dict(ds: GraphDataset, link: str, ops: Sequence[str]) -> dict[str, Any]:
    """The ``gnn`` family's arch dict of (link, ops) with the bench's settings of ``ds``."""
    return {"arch.link": link, **{f"arch.op{i}": op for i, op in enumerate(ops)}, "arch.dim": ds.dim,
            "arch.pre": ds.pre, "arch.post": ds.post}


@lru_cache(maxsize=2)
def _pieces(dataset: str) -> dict[Any, list[Any]]:
    """Traced pieces of the dataset's GraphNets: ``"pre"``; ``(op, reads_input)`` per operator (operator, batch
    norm, ReLU); ``("head", leaves)`` (post layers and classifier on the concatenated leaves)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    from imcnas.space.families.gnn import GNN, GraphNet
    from imcnas.workload.tracer import trace

    ds = DATASETS[dataset]
    net = GNN().build(arch_dict(ds, "0123", ["gcn"] * 4), (ds.features,), ds.classes)
    assert isinstance(net, GraphNet)

    class Pre(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pre = net.pre

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for lin in self.pre:
                x = F.dropout(F.relu(lin(x)), 0.5, self.training)
            return x

    class Node(nn.Module):
        def __init__(self, op: str, fan_in: int) -> None:
            super().__init__()
            one = GNN().build({**arch_dict(ds, "0000", [op, "skip", "skip", "skip"]), "arch.pre": 0},
                              (fan_in,), ds.classes)
            self.name, self.op, self.norm = op, one.ops[0], one.norms[0]

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            out = self.op(x) if self.name == "fc" else self.op(x, edge_index)
            return F.dropout(F.relu(self.norm(out)), 0.5, self.training)

    class Head(nn.Module):
        def __init__(self, n_leaves: int) -> None:
            super().__init__()
            post, width = [], n_leaves * ds.dim
            for _ in range(ds.post):
                post.append(nn.Linear(width, ds.dim))
                width = ds.dim
            self.post, self.classifier = nn.ModuleList(post), nn.Linear(width, ds.classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for lin in self.post:
                x = F.dropout(F.relu(lin(x)), 0.5, self.training)
            return self.classifier(x)

    x, edge_index = _graph(ds, ds.features)
    out: dict[Any, list[Any]] = {"pre": list(trace(Pre(), x, tracer="hooks").ops) if ds.pre else []}
    h = torch.zeros(ds.nodes, ds.dim)
    for op in OPS[:-1]:
        for reads_input in ((True, False) if ds.pre == 0 else (False,)):
            out[(op, reads_input)] = list(trace(Node(op, ds.features if reads_input else ds.dim),
                                                (x if reads_input else h, edge_index), tracer="hooks").ops)
    for n in range(1, 5):
        out[("head", n)] = list(trace(Head(n), torch.zeros(ds.nodes, n * ds.dim), tracer="hooks").ops)
    return out


@lru_cache(maxsize=64)
def _renamed(dataset: str, piece: Any, prefix: str) -> tuple[Any, ...]:
    return tuple(dataclasses.replace(o, name=f"{prefix}.{o.name}") for o in _pieces(dataset)[piece])


def signature_workload(dataset: str, sig: Signature) -> Any:
    """The workload of every GraphNet of ``dataset`` with cost signature ``sig``, assembled from traced pieces.
    Op names and order differ from a direct trace; counts, shapes and costs are the same."""
    from imcnas.workload.ops import Workload

    ds = DATASETS[dataset]
    ops = list(_renamed(dataset, "pre", "pre"))
    for i, node in enumerate(sig[0]):
        ops += _renamed(dataset, node, f"ops.{i}")
    ops += _renamed(dataset, ("head", sig[1]), "head")
    return Workload(name=f"nasbench-graph-{dataset}", ops=tuple(ops), batch=1,
                    input_shape=(ds.nodes, ds.features), tracer="hooks")


def price_signature(dataset: str, sig: Signature, chips: Sequence[Chip], arrays: Any) -> np.ndarray:
    """(n_chips, 3) energy, latency and area (COST_OBJECTIVES order) of the networks with signature ``sig`` on
    ``chips``, whose ``imcnas.hardware.params.chip_arrays`` are ``arrays``: estimate_batch's figures without
    re-reading the chips per call (the tests check them against it). A chip that cannot run the network is a
    ConfigError naming it."""
    from imcnas.hardware.cost import price, totals

    t = totals(price(signature_workload(dataset, sig), arrays))
    if not np.all(t["feasible"]):
        bad = chips[int(np.flatnonzero(~np.asarray(t["feasible"], dtype=bool))[0])].name
        raise ConfigError(f"chip {bad} cannot run a NAS-Bench-Graph network of {dataset} (too few tiles "
                          "or crossbars rewritten beyond their endurance)")
    return np.stack([np.asarray(t[k], dtype=float) for k in COST_OBJECTIVES], axis=1)


_COSTS: dict[tuple, dict[Signature, np.ndarray]] = {}  # (dataset, grid key) -> signature -> (n_chips, 3) costs


def grid_costs(grid_key: tuple) -> dict[Signature, np.ndarray]:
    """This process's priced costs of a (dataset, chip grid), by signature; problems on the same grid share it."""
    return _COSTS.setdefault(grid_key, {})


def seed_cost_cache(grid_key: tuple, costs: Mapping[Signature, np.ndarray]) -> None:
    """Take costs priced in another process (``nasbenchgraph.cost_cache``): a problem on the same dataset and
    grid then prices nothing (``imcnas bench`` seeds its worker processes so)."""
    grid_costs(grid_key).update(costs)
