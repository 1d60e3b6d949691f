"""The tracer stores only the nonzero submatrix of a pruned weight: all-zero fan-in rows and outputs vanish."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as tprune

from imcnas.workload import trace


def _conv_net(conv: nn.Module) -> nn.Sequential:
    return nn.Sequential(conv, nn.ReLU())


@pytest.mark.parametrize("tracer", ["fx", "hooks"])
def test_zero_output_channels_compact_cols(tracer: str) -> None:
    torch.manual_seed(0)
    m = _conv_net(nn.Conv2d(16, 32, 3, padding=1))
    with torch.no_grad():
        m[0].weight[[1, 5, 7]] = 0.0
    (op,) = trace(m, torch.randn(2, 16, 6, 6), tracer=tracer).matrix_ops
    assert (op.rows, op.cols, op.groups) == (144, 29, 1)
    assert (op.meta["dense_rows"], op.meta["dense_cols"]) == (144, 32)
    assert op.vectors == 2 * 36 and op.macs == 144 * 29 * 2 * 36


def test_zero_input_features_compact_linear_rows() -> None:
    m = nn.Sequential(nn.Linear(20, 8), nn.ReLU())
    with torch.no_grad():
        m[0].weight[:, [0, 3, 19]] = 0.0
        m[0].weight[2, 4] = 0.0  # a scattered zero keeps its row
    (op,) = trace(m, torch.randn(4, 20)).matrix_ops
    assert (op.rows, op.cols) == (17, 8)
    assert (op.meta["dense_rows"], op.meta["dense_cols"]) == (20, 8)
    assert op.vectors == 4 and op.macs == 17 * 8 * 4


def test_dense_model_unchanged() -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    w = trace(m, torch.randn(1, 3, 6, 6))
    assert [(o.rows, o.cols) for o in w.matrix_ops] == [(27, 8), (128, 10)]
    assert all("dense_rows" not in o.meta for o in w.matrix_ops)


def test_grouped_conv_keeps_the_largest_group() -> None:
    conv = nn.Conv2d(8, 8, 3, groups=2)  # each group: 4 in-channels x 9 = 36 rows, 4 outputs
    m = _conv_net(conv)
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        conv.weight[0] = 0.0  # one output of group 0 only: group 1 still needs 4 columns
    (op,) = trace(m, x).matrix_ops
    assert (op.rows, op.cols, op.groups) == (36, 4, 2) and "dense_cols" not in op.meta
    with torch.no_grad():
        conv.weight[4] = 0.0  # the same output of group 1
        conv.weight[:, 1] = 0.0  # in-group input channel 1 of every output: 9 rows per group
    (op,) = trace(m, x).matrix_ops
    assert (op.rows, op.cols, op.groups) == (27, 3, 2)
    assert (op.meta["dense_rows"], op.meta["dense_cols"]) == (36, 4)
    assert op.macs == 27 * 3 * 2 * op.vectors


def test_transposed_conv_compacts_inputs() -> None:
    conv = nn.ConvTranspose2d(6, 4, 2, stride=2)  # rows = 6 inputs, cols = 4 * 2 * 2
    with torch.no_grad():
        conv.weight[2] = 0.0
    (op,) = trace(_conv_net(conv), torch.randn(1, 6, 3, 3)).matrix_ops
    assert (op.rows, op.cols, op.meta["dense_rows"]) == (5, 16, 6)


def test_torch_prune_masks_survive_an_optimizer_step() -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(10, 6), nn.ReLU())
    mask = torch.ones(6, 10)
    mask[:2] = 0.0
    tprune.custom_from_mask(m[0], "weight", mask)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, weight_decay=0.1)
    m(torch.randn(3, 10)).sum().backward()
    opt.step()  # the tracer reads weight_orig * weight_mask
    for tracer in ("fx", "hooks"):
        (op,) = trace(m, torch.randn(3, 10), tracer=tracer).matrix_ops
        assert (op.rows, op.cols, op.meta["dense_cols"]) == (10, 4, 6)


def test_meta_fake_and_lazy_weights_are_left_alone() -> None:
    with torch.device("meta"):
        m = _conv_net(nn.Conv2d(3, 8, 3))
        (op,) = trace(m, torch.randn(1, 3, 6, 6)).matrix_ops
    assert (op.rows, op.cols) == (27, 8)
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        m = _conv_net(nn.Conv2d(3, 8, 3))
        (op,) = trace(m, torch.randn(1, 3, 6, 6)).matrix_ops
    assert (op.rows, op.cols) == (27, 8)
    lazy = nn.Sequential(nn.LazyLinear(5), nn.ReLU())
    (op,) = trace(lazy, torch.randn(2, 7)).matrix_ops
    assert (op.rows, op.cols) == (7, 5)


def test_fully_zero_layer_keeps_one_cell() -> None:
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    with torch.no_grad():
        m[0].weight.zero_()
    (op,) = trace(m, torch.randn(1, 4)).matrix_ops
    assert (op.rows, op.cols) == (1, 1)


class Conv1D(nn.Module):
    """Stand-in for HF's GPT-2 Conv1D: weight (in x out), y = x @ W + b."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


Conv1D.__module__ = "transformers.pytorch_utils"


def test_hf_conv1d_orientation() -> None:
    m = nn.Sequential(Conv1D(6, 10), nn.ReLU())  # 10 inputs, 6 outputs
    with torch.no_grad():
        m[0].weight[[2, 3]] = 0.0  # inputs 2 and 3
        m[0].weight[:, 5] = 0.0  # output 5
    (op,) = trace(m, torch.randn(2, 10)).matrix_ops
    assert op.module == "Conv1D" and (op.rows, op.cols) == (8, 5)
    assert (op.meta["dense_rows"], op.meta["dense_cols"]) == (10, 6)
