"""Graph tasks for GNNs, generated or built in offline (torch_geometric, an optional extra).

- ``sbm`` (node classification): a stochastic block model graph (``stochastic_blockmodel_graph``), one block
  per class, with noisy class-prototype node features: the graph's communities carry the label that the noisy
  features only hint at, so message passing helps (a feature-only MLP is measurably worse, see
  tests/accuracy/test_graphs.py). 60/20/20 node split.
- ``karate`` (node classification): Zachary's karate club (``KarateClub``: 34 nodes, 4 communities, one-hot
  node ids as features); 50/25/25 node split. A toy: the splits hold 8-9 nodes.
- ``fake-graphs`` (graph classification): torch_geometric's ``FakeDataset`` (random graphs whose node features
  are shifted by the graph's label), with its noise scaled by ``noise``; 60/20/20 graph split.
- ``fake-nodes`` (node classification): one ``FakeDataset`` graph (features shifted by each node's label).

A :class:`GraphDataset` holds the graphs and the splits (node masks of one graph, or graph indices). Models
are called ``model(x, edge_index)`` for node tasks (one inference = the whole graph; the cost model prices
that) and ``model(x, edge_index, batch)`` for graph tasks (one inference = one graph). Generation is seeded
by ``generation_seed`` and never changes with the training seed; splits use ``SPLIT_SEED``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import torch
from torch import Tensor

from imcnas.accuracy.data import SPLIT_SEED, _check, _stratified_split, register_dataset
from imcnas.errors import ConfigError

__all__ = ["GraphDataset", "Batch", "batches", "example_input", "is_graph"]

Batch = tuple[tuple[Tensor, ...], Tensor, "Tensor | None"]  # (model args, labels, node mask or None)


@dataclass(frozen=True)
class GraphDataset:
    """Graphs (torch_geometric ``Data`` with ``x``, ``edge_index``, ``y``) and their split.

    ``task`` "node": one graph, ``splits[s]`` a bool mask over its nodes; "graph": ``splits[s]`` indices of
    graphs. ``input_shape`` is ``(F,)``, the node-feature width."""

    name: str
    graphs: tuple[Any, ...]
    task: Literal["node", "graph"]
    splits: dict[str, Tensor]
    input_shape: tuple[int, ...]
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        """Labelled nodes (node task) or graphs (graph task) per split."""
        return {s: int(v.sum()) if v.dtype == torch.bool else len(v) for s, v in self.splits.items()}


def is_graph(data: Any) -> bool:
    """True for a :class:`GraphDataset`."""
    return isinstance(data, GraphDataset)


def _pyg() -> Any:
    from imcnas.space.families.gnn import require_pyg

    return require_pyg()


def example_input(data: GraphDataset) -> tuple[Tensor, ...]:
    """One inference's model arguments: the whole graph (node task) or the first training graph."""
    if data.task == "node":
        g = data.graphs[0]
        return g.x, g.edge_index
    g = data.graphs[int(data.splits["train"][0])]
    return g.x, g.edge_index, torch.zeros(g.num_nodes, dtype=torch.long)


def batches(data: GraphDataset, split: str, batch_size: int, generator: torch.Generator | None = None
            ) -> Iterator[Batch]:
    """Batches of ``split``: the whole graph with the split's node mask (node task), or mini-batches of
    graphs (graph task; shuffled when ``generator`` is given)."""
    if data.task == "node":
        g = data.graphs[0]
        yield (g.x, g.edge_index), g.y, data.splits[split]
        return
    from torch_geometric.loader import DataLoader

    subset = [data.graphs[int(i)] for i in data.splits[split]]
    for b in DataLoader(subset, batch_size=batch_size, shuffle=generator is not None, generator=generator):
        yield (b.x, b.edge_index, b.batch), b.y, None


# ---------------------------------------------------------------------------------------------- generators
class _Seeded:
    """Seed python's and torch's global generators (torch_geometric's generators use them), then restore."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        self._py = random.getstate()
        self._fork = torch.random.fork_rng()
        self._fork.__enter__()
        random.seed(self.seed)
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: Any) -> None:
        self._fork.__exit__(*exc)
        random.setstate(self._py)


def _node_split(y: Tensor, fractions: tuple[float, float]) -> dict[str, Tensor]:
    idx = _stratified_split(y.numpy(), fractions, SPLIT_SEED)
    masks = {}
    for name, part in zip(("train", "val", "test"), idx):
        m = torch.zeros(len(y), dtype=torch.bool)
        m[torch.as_tensor(part, dtype=torch.long)] = True
        masks[name] = m
    return masks


def _standardise(x: Tensor, rows: Tensor) -> Tensor:
    mean, std = x[rows].mean(0), x[rows].std(0)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))


@register_dataset("sbm")
def _sbm(root: Path | None, seed: int, *, n_nodes: int = 800, classes: int = 4, p_in: float = 0.02,
         p_out: float = 0.004, features: int = 16, noise: float = 2.0, generation_seed: int = 0) -> GraphDataset:
    """Stochastic block model node classification (one block per class, noisy prototype features)."""
    name = "sbm"
    _check(name, isinstance(n_nodes, int) and n_nodes >= 4 * classes, "n_nodes", f"an int >= {4 * classes}", n_nodes)
    _check(name, isinstance(classes, int) and 2 <= classes <= 64, "classes", "an int in [2, 64]", classes)
    _check(name, isinstance(features, int) and features >= 1, "features", "an int >= 1", features)
    for key, v in (("p_in", p_in), ("p_out", p_out)):
        _check(name, isinstance(v, (int, float)) and 0 <= v <= 1, key, "a probability in [0, 1]", v)
    _check(name, isinstance(noise, (int, float)) and noise >= 0, "noise", "a number >= 0", noise)
    utils = _pyg().utils
    sizes = [n_nodes // classes + (i < n_nodes % classes) for i in range(classes)]
    probs = torch.full((classes, classes), float(p_out))
    probs.fill_diagonal_(float(p_in))
    with _Seeded(generation_seed):
        edge_index = utils.stochastic_blockmodel_graph(sizes, probs, directed=False)
        y = torch.repeat_interleave(torch.arange(classes), torch.tensor(sizes))
        prototypes = torch.randn(classes, features)
        x = prototypes[y] + float(noise) * torch.randn(n_nodes, features)
    splits = _node_split(y, (0.6, 0.2))
    g = _pyg().data.Data(x=_standardise(x, splits["train"]), edge_index=edge_index, y=y)
    meta = {"nodes": n_nodes, "edges": int(edge_index.shape[1]), "generation_seed": generation_seed,
            "source": "torch_geometric.utils.stochastic_blockmodel_graph"}
    return GraphDataset(name, (g,), "node", splits, (features,), classes, meta)


@register_dataset("karate")
def _karate(root: Path | None, seed: int) -> GraphDataset:
    """Zachary's karate club (torch_geometric KarateClub): 34 nodes, 4 communities; 50/25/25 node split."""
    g = _pyg().datasets.KarateClub()[0]
    splits = _node_split(g.y, (0.5, 0.25))
    from torch_geometric.data import Data

    data = Data(x=g.x.float(), edge_index=g.edge_index, y=g.y)
    meta = {"nodes": 34, "edges": int(g.edge_index.shape[1]), "source": "torch_geometric.datasets.KarateClub"}
    return GraphDataset("karate", (data,), "node", splits, (int(g.x.shape[1]),), int(g.y.max()) + 1, meta)


def _fake(name: str, task: str, n_graphs: int, nodes: int, degree: float, features: int, classes: int,
          noise: float, generation_seed: int) -> tuple[list[Any], Tensor]:
    _check(name, isinstance(nodes, int) and nodes >= 4, "nodes", "an int >= 4", nodes)
    _check(name, isinstance(degree, (int, float)) and 0 < degree < nodes, "degree", f"a number in (0, {nodes})",
           degree)
    _check(name, isinstance(features, int) and features >= 1, "features", "an int >= 1", features)
    _check(name, isinstance(classes, int) and 2 <= classes <= 64, "classes", "an int in [2, 64]", classes)
    _check(name, isinstance(noise, (int, float)) and noise >= 0, "noise", "a number >= 0", noise)
    from torch_geometric.data import Data

    with _Seeded(generation_seed):
        ds = _pyg().datasets.FakeDataset(num_graphs=n_graphs, avg_num_nodes=nodes, avg_degree=degree,
                                         num_channels=features, num_classes=classes, task=task)
        graphs = []
        for g in ds:
            shift = g.y.unsqueeze(1).float() if task == "node" else g.y.float()
            x = (g.x - shift) * float(noise) + shift  # FakeDataset draws x = N(0, 1) + label
            graphs.append(Data(x=x, edge_index=g.edge_index, y=g.y))
    return graphs, torch.cat([g.y.view(-1) for g in graphs])


@register_dataset("fake-graphs")
def _fake_graphs(root: Path | None, seed: int, *, n_graphs: int = 600, nodes: int = 20, degree: float = 4.0,
                 features: int = 8, classes: int = 3, noise: float = 3.0, generation_seed: int = 0) -> GraphDataset:
    """torch_geometric FakeDataset graph classification (label-shifted noisy node features); 60/20/20."""
    _check("fake-graphs", isinstance(n_graphs, int) and n_graphs >= 10, "n_graphs", "an int >= 10", n_graphs)
    graphs, y = _fake("fake-graphs", "graph", n_graphs, nodes, degree, features, classes, noise, generation_seed)
    idx = _stratified_split(y.numpy(), (0.6, 0.2), SPLIT_SEED)
    splits = {s: torch.as_tensor(i, dtype=torch.long) for s, i in zip(("train", "val", "test"), idx)}
    meta = {"graphs": n_graphs, "avg_nodes": nodes, "generation_seed": generation_seed,
            "source": "torch_geometric.datasets.FakeDataset"}
    return GraphDataset("fake-graphs", tuple(graphs), "graph", splits, (features,), classes, meta)


@register_dataset("fake-nodes")
def _fake_nodes(root: Path | None, seed: int, *, nodes: int = 1000, degree: float = 5.0, features: int = 8,
                classes: int = 4, noise: float = 3.0, generation_seed: int = 0) -> GraphDataset:
    """One torch_geometric FakeDataset graph, node classification (label-shifted noisy features); 60/20/20."""
    graphs, y = _fake("fake-nodes", "node", 1, nodes, degree, features, classes, noise, generation_seed)
    g = graphs[0]
    meta = {"nodes": int(g.num_nodes), "edges": int(g.edge_index.shape[1]), "generation_seed": generation_seed,
            "source": "torch_geometric.datasets.FakeDataset"}
    return GraphDataset("fake-nodes", (g,), "node", _node_split(y, (0.6, 0.2)), (features,), classes, meta)


def refuse_non_graph(family: str, data: Any) -> None:
    """One-line errors for a graph family on a non-graph dataset and the reverse."""
    from imcnas.space.families.base import get_family

    graph_family = bool(getattr(get_family(family), "graph", False))
    if graph_family and not is_graph(data):
        raise ConfigError(f"model family '{family}' needs a graph dataset (sbm, karate, fake-graphs, fake-nodes), "
                          f"got '{data.name}'")
    if is_graph(data) and not graph_family:
        raise ConfigError(f"dataset '{data.name}' is a graph task: use model family 'gnn' (family '{family}' "
                          "takes tensors, not graphs)")
