"""Recurrent modules priced as their gate matmuls per time step, and nothing priced at zero unnoticed:
unknown modules/functions and failing rules are UNSUPPORTED and named in ``Workload.unsupported``."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from imcnas.hardware import estimate
from imcnas.workload import OpKind, Unit, trace
from imcnas.workload import _modules


class LSTMNet(nn.Module):
    def __init__(self, **kw) -> None:
        super().__init__()
        self.rnn = nn.LSTM(32, 64, batch_first=True, **kw)
        self.fc = nn.Linear(64 * (2 if kw.get("bidirectional") else 1), 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


def test_lstm_macs_are_its_gate_matmuls() -> None:
    for tracer in ("fx", "hooks"):
        w = trace(LSTMNet(), torch.randn(1, 20, 32), tracer=tracer)
        assert w.macs == 20 * (32 * 256 + 64 * 256) + 64 * 10 == 492_160  # was 640 before RNN rules
        ih, hh, fc = w.matrix_ops
        assert (ih.name, ih.rows, ih.cols, ih.vectors) == ("rnn.weight_ih_l0", 32, 256, 20)
        assert (hh.name, hh.rows, hh.cols, hh.vectors) == ("rnn.weight_hh_l0", 64, 256, 20)
        assert ih.meta["layer"] == hh.meta["layer"] == "rnn"
        (gates,) = [o for o in w.ops if o.kind is OpKind.ELEMENTWISE]
        assert gates.name == "rnn.gates_l0" and gates.elements == 20 * 64 and gates.flops == 28 * 20 * 64
        assert not w.unsupported


def test_multilayer_bidirectional_gru_seq_first_and_batch() -> None:
    m = nn.GRU(8, 16, num_layers=2, bidirectional=True)
    w = trace(m, torch.randn(5, 3, 8))  # (seq, batch, in)
    shapes = {o.name.removeprefix("GRU."): (o.rows, o.cols, o.vectors) for o in w.matrix_ops}  # a bare module
    assert shapes == {"weight_ih_l0": (8, 48, 15), "weight_hh_l0": (16, 48, 15),
                      "weight_ih_l0_reverse": (8, 48, 15), "weight_hh_l0_reverse": (16, 48, 15),
                      "weight_ih_l1": (32, 48, 15), "weight_hh_l1": (16, 48, 15),
                      "weight_ih_l1_reverse": (32, 48, 15), "weight_hh_l1_reverse": (16, 48, 15)}
    assert shapes.keys() == {n for n, _ in m.named_parameters() if n.startswith("weight")}
    assert w.weights == sum(p.numel() for n, p in m.named_parameters() if n.startswith("weight"))


def test_lstm_projection_and_cells() -> None:
    m = nn.LSTM(8, 16, proj_size=4)
    w = trace(m, torch.randn(7, 2, 8))
    assert {o.name.removeprefix("LSTM."): (o.rows, o.cols) for o in w.matrix_ops} == {
        "weight_ih_l0": (8, 64), "weight_hh_l0": (4, 64), "weight_hr_l0": (16, 4)}
    for cell, gates in ((nn.LSTMCell(8, 16), 4), (nn.GRUCell(8, 16), 3), (nn.RNNCell(8, 16), 1)):
        w = trace(cell, torch.randn(3, 8))
        assert [(o.rows, o.cols, o.vectors) for o in w.matrix_ops] == [(8, gates * 16, 3), (16, gates * 16, 3)]
    unbatched = trace(nn.RNN(8, 16), torch.randn(9, 8))
    assert [o.vectors for o in unbatched.matrix_ops] == [9, 9]


def test_unknown_modules_and_functions_are_unsupported() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bil = nn.Bilinear(4, 4, 3)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.bil(x, x)
            return torch.special.i0(y) + self.up(y.unsqueeze(1)).mean()

    for tracer in ("fx", "hooks"):
        w = trace(Odd(), torch.randn(2, 4), tracer=tracer)
        assert w.unsupported == ("bil", "special_i0")
        bad = {o.name: o for o in w.ops if o.unit is Unit.UNSUPPORTED}
        assert "Bilinear" in bad["bil"].meta["reason"] and bad["bil"].elements == 6 == bad["bil"].flops
        assert "special_i0" in bad["special_i0"].meta["reason"]
        assert {o.name: o.unit for o in w.ops}["up"] is Unit.DIGITAL  # parameter-free nn module: digital
        assert w.summary()["unsupported"] == ["bil", "special_i0"]


def test_a_failing_rule_is_unsupported_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> list:
        raise RuntimeError("cannot read this")

    monkeypatch.setitem(_modules._ANALOG_RULES, "linear", boom)
    w = trace(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), torch.randn(2, 4))
    assert w.unsupported == ("0",)
    assert "RuntimeError: cannot read this" in w.ops[0].meta["reason"] and w.ops[0].elements == 8


def test_report_lists_every_op_with_its_kind() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 8)
            self.bil = nn.Bilinear(8, 8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.fc(x))
            return self.bil(h @ h.transpose(-1, -2) @ h, h)

    d = estimate((Net(), torch.randn(1, 4, 8)), "neurosim-sram-22nm").to_dict()
    assert d["unsupported"] == ["bil"]
    kinds = {o["name"]: o["kind"] for o in d["ops"]}
    assert kinds == {"fc": "crossbar", "relu": "digital", "matmul": "dynamic", "matmul_1": "dynamic",
                     "bil": "unsupported"}
    fc = d["ops"][0]
    assert fc["macs"] == 4 * 64 and fc["layer"] == "fc" and fc["op"] == "matrix"
    assert d["ops"][-1]["reason"].startswith("no cost rule")
