"""Tracer behaviour on small hand-made models: rules, fx -> hooks fallback, errors, modes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from imcnas.errors import TraceError
from imcnas.workload import OpKind, Workload, trace


class Straight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.act(self.conv(x)), 2)
        return self.fc(x.flatten(1))


class Branchy(Straight):
    """Same layers, but a data-dependent branch that torch.fx cannot trace."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv(x))
        if x.sum() > -1e30:
            x = F.max_pool2d(x, 2)
        return self.fc(x.flatten(1))


def test_grouped_and_strided_conv() -> None:
    m = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=4), nn.BatchNorm2d(32))
    w = trace(m, torch.randn(2, 16, 9, 9))
    (op,) = w.matrix_ops
    assert (op.rows, op.cols, op.groups) == (3 * 3 * 4, 8, 4)
    assert op.vectors == 2 * 5 * 5  # output positions of the strided conv, times the batch
    assert op.macs == 36 * 8 * 4 * 50 and w.macs == op.macs // 2
    assert op.weights == 32 * 4 * 9
    assert op.meta["stride"] == (2, 2) and op.meta["padding"] == (1, 1)
    assert w.ops[1].kind is OpKind.NORM and w.ops[1].elements == 2 * 32 * 5 * 5


def test_fallback_to_hooks_gives_same_matrix_ops() -> None:
    straight, branchy = Straight(), Branchy()
    branchy.load_state_dict(straight.state_dict())
    x = torch.randn(1, 3, 16, 16)
    a, b = trace(straight, x), trace(branchy, x)
    assert (a.tracer, b.tracer) == ("fx", "hooks")
    assert a.matrix_ops == b.matrix_ops and len(a.matrix_ops) == 2
    assert [o.kind for o in a.ops] == [OpKind.MATRIX, OpKind.ACTIVATION, OpKind.POOL, OpKind.MATRIX]
    assert {o.meta["tracer"] for o in b.ops} == {"hooks"}
    with pytest.raises(TraceError, match="torch.fx"):
        trace(branchy, x, tracer="fx")


def test_functional_ops_and_static_operands() -> None:
    class Fn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(32, 10))
            self.k = nn.Parameter(torch.randn(16, 4, 3, 3))

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            a = F.conv2d(x, self.k, padding=1, groups=2)  # functional grouped conv
            b = F.linear(y, self.w.t())  # weight derived from a parameter is still static
            c = y @ y.transpose(1, 2)  # two activations
            d = torch.einsum("bij,jk->bik", y, self.w)
            return a.mean() + b.sum() + c.sum() + F.softmax(d, -1).sum()

    for tracer in ("fx", "hooks"):
        w = trace(Fn(), (torch.randn(2, 8, 6, 6), torch.randn(2, 5, 32)), tracer=tracer)
        # static weights used by function calls run on the digital units (accuracy.convert cannot reach them)
        assert not w.matrix_ops and not w.unsupported
        conv, lin, ein = [o for o in w.ops if o.kind is OpKind.DIGITAL_MATMUL]
        assert all(o.unit.value == "digital" and o.weights == o.rows * o.cols * o.groups for o in (conv, lin, ein))
        assert w.macs == (conv.macs + lin.macs + ein.macs + 2 * 5 * 32 * 5) // 2
        assert (conv.rows, conv.cols, conv.groups, conv.vectors) == (36, 8, 2, 72)
        assert (lin.rows, lin.cols, lin.vectors) == (32, 10, 10)
        assert (ein.rows, ein.cols, ein.vectors, ein.module) == (32, 10, 10, "einsum")
        (dyn,) = [o for o in w.ops if o.kind is OpKind.DYNAMIC_MATMUL]
        assert dyn.macs == 2 * 5 * 32 * 5
        assert [o.kind for o in w.ops].count(OpKind.SOFTMAX) == 1


def test_sdpa_and_multihead_attention() -> None:
    class Att(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(32, 4, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, _ = self.mha(x, x, x, need_weights=False)
            q = y.view(2, 10, 4, 8).transpose(1, 2)
            return F.scaled_dot_product_attention(q, q, q)

    for tracer in ("fx", "hooks"):
        w = trace(Att(), torch.randn(2, 10, 32), tracer=tracer)
        dyn = [o for o in w.ops if o.kind is OpKind.DYNAMIC_MATMUL]
        assert [o.name for o in dyn] == ["mha.qk", "mha.av", "scaled_dot_product_attention.qk",
                                         "scaled_dot_product_attention.av"]
        assert all(o.macs == 2 * 4 * 10 * 10 * 8 for o in dyn)
        assert [o.name for o in w.matrix_ops] == ["mha.q_proj", "mha.k_proj", "mha.v_proj", "mha.out_proj"]
        assert w.weights == 4 * 32 * 32


def test_untraceable_model_names_the_module() -> None:
    class Boom(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("shape mismatch here\nsecond line")

    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Boom()))
    with pytest.raises(TraceError) as info:
        trace(model, torch.randn(1, 4), "net")
    msg = str(info.value)
    assert "\n" not in msg
    assert "'1.1' (Boom)" in msg and "ValueError: shape mismatch here" in msg and "net" in msg


def test_inputs_modes_and_skips() -> None:
    class TwoIn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 3)
            self.drop = nn.Dropout(0.5)

        def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
            h = self.drop(self.fc(x)).reshape(-1, 3).permute(1, 0)
            return h if mask is None else h * mask

    m = TwoIn().train()
    w = trace(m, {"x": torch.randn(3, 4, 6)})
    assert isinstance(w, Workload) and w.tracer == "fx" and w.batch == 3 and w.input_shape == (3, 4, 6)
    assert [o.name for o in w.ops] == ["fc"] and w.ops[0].vectors == 12
    assert m.training and m.drop.training  # train mode restored
    w2 = trace(m, (torch.randn(2, 6), torch.ones(3, 2)), name="two")
    assert w2.name == "two" and [o.kind for o in w2.ops] == [OpKind.MATRIX, OpKind.ELEMENTWISE]
    assert trace(m, torch.randn(5, 6), batch=1).batch == 1
    with pytest.raises(TraceError, match="unknown tracer"):
        trace(m, torch.randn(1, 6), tracer="jit")


def test_constants_and_static_lookups() -> None:
    class Pos(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok, self.pos = nn.Embedding(50, 8), nn.Embedding(12, 8)
            self.proj = nn.Linear(8, 8)
            self.register_buffer("ids", torch.arange(12))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            scale = self.proj(self.pos.weight[:1]).sum()  # computed from parameters only: not counted
            return (self.tok(x) + self.pos(self.ids)) * scale

    x = torch.randint(0, 50, (3, 12))
    a, b = trace(Pos(), x, tracer="fx"), trace(Pos(), x, tracer="hooks")
    assert a.ops == b.ops
    assert [(o.name, o.kind) for o in a.ops] == [("tok", OpKind.EMBEDDING), ("pos", OpKind.EMBEDDING),
                                                 ("add", OpKind.ELEMENTWISE), ("mul", OpKind.ELEMENTWISE)]
    assert (a.ops[1].rows, a.ops[1].vectors) == (12, 12) and a.weights == 62 * 8
