"""A two-layer torch_geometric GCN on the bundled Karate Club graph (offline)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from imcnas.workload import OpKind, trace

pyg_nn = pytest.importorskip("torch_geometric.nn")
datasets = pytest.importorskip("torch_geometric.datasets")


class GCN(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__()
        self.conv1 = pyg_nn.GCNConv(cin, hidden)
        self.conv2 = pyg_nn.GCNConv(hidden, cout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def test_gcn_karate_club() -> None:
    data = datasets.KarateClub()[0]
    nodes, edges = data.num_nodes, data.edge_index.size(1)
    w = trace(GCN(data.num_features, 16, 4), (data.x, data.edge_index))
    assert w.tracer == "hooks" and w.batch == 1  # one graph, not 34 samples
    lin1, lin2 = w.matrix_ops
    assert (lin1.name, lin1.rows, lin1.cols, lin1.vectors) == ("conv1.lin", data.num_features, 16, nodes)
    assert (lin2.name, lin2.rows, lin2.cols, lin2.vectors) == ("conv2.lin", 16, 4, nodes)
    aggr = {o.name: o for o in w.ops if o.kind is OpKind.AGGREGATE and o.name.endswith("aggr_module")}
    assert set(aggr) == {"conv1.aggr_module", "conv2.aggr_module"}
    for op, feats in zip(aggr.values(), (16, 4)):
        assert op.meta["edges"] == edges + nodes  # GCNConv adds one self loop per node
        assert op.flops == (edges + nodes) * feats
        assert op.elements == nodes * feats
    assert w.macs == nodes * (data.num_features * 16 + 16 * 4)
