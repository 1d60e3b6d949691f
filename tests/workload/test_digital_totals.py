"""Workload.digital_totals splits the digital work by kind (issue 11): per-element functions apart from the
one-adder-op-per-flop work that CNNs use; dynamic matmuls and aggregations with the shapes the cost model
needs to put them on crossbars."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import imcnas
from imcnas.workload.ops import Op, OpKind, Workload, element_function


class Mix(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 16)
        self.bn = nn.BatchNorm1d(8)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.emb(idx))  # (2, 8, 16)
        x = nn.functional.gelu(self.fc(x)) + torch.nn.functional.silu(x)
        x = torch.relu(self.bn(x))
        scores = torch.softmax(x @ x.transpose(1, 2), dim=-1)  # (2, 8, 8)
        return scores @ x


def test_digital_totals_by_kind() -> None:
    w = imcnas.trace(Mix().eval(), torch.zeros(2, 8, dtype=torch.long))
    dt = w.digital_totals
    n = 8 * 16  # elements per inference of a (8, 16) activation
    assert dt["norm_elems"] == n and dt["gelu_elems"] == n and dt["sigmoid_elems"] == n
    assert dt["softmax_elems"] == 8 * 8
    assert dt["embedding_elems"] == n
    # batch norm (2 flops per element), ReLU and the add stay one adder op per flop
    assert dt["flops"] == 2 * n + n + n
    # both matmuls are dynamic with recorded shapes: m x k x n per instance
    assert dt["dyn_macs"] == dt["xbar_macs"] == 8 * 16 * 8 + 8 * 8 * 16
    d = w.dynamic_arrays
    assert d["m"].tolist() == [8, 8] and d["k"].tolist() == [16, 8] and d["n"].tolist() == [8, 16]
    assert d["inst"].tolist() == [1.0, 1.0]  # per inference (the example holds 2)


@pytest.mark.parametrize("kind, module, want", [
    (OpKind.SOFTMAX, "log_softmax", "softmax"), (OpKind.NORM, "GroupNorm", "norm"),
    (OpKind.NORM, "batch_norm", None), (OpKind.NORM, "SyncBatchNorm", None), (OpKind.ACTIVATION, "Tanh", "sigmoid"),
    (OpKind.ACTIVATION, "ReLU6", None), (OpKind.ACTIVATION, "hardswish", None), (OpKind.POOL, "MaxPool2d", None),
])
def test_element_function_classes(kind, module, want) -> None:
    assert element_function(Op(name="x", kind=kind, module=module)) == want


def test_aggregate_arrays() -> None:
    op = Op(name="a", kind=OpKind.AGGREGATE, module="scatter_add", elements=100 * 32, flops=400 * 32,
            in_shape=(400, 32), out_shape=(100, 32), meta={"edges": 400})
    w = Workload(name="g", ops=(op,))
    a = w.aggregate_arrays
    assert (a["edges"].tolist(), a["features"].tolist(), a["nodes"].tolist()) == ([400.0], [32.0], [100.0])
    assert w.digital_totals["agg_flops"] == 400 * 32 and w.digital_totals["io_elems"] == 0
