"""One decision of what runs analog: the cost model's crossbar layers and ``accuracy.convert``'s simulated layers
are the same modules, path by path, for every zoo model and for "foreign" models (transformer encoder ViT,
LSTM/GRU classifiers, ConvTranspose decoder, Conv3d net, a custom attention module)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from imcnas import load_chip
from imcnas.accuracy import layers as L
from imcnas.workload import OpKind, analog_layers, get_model, list_models, trace


class ViT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 32, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, 32))
        self.pos = nn.Parameter(torch.zeros(1, 17, 32))
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.encoder(x)[:, 0])


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.rnn = nn.LSTM(16, 24, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(48, 5)

    def forward(self, tok: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(self.emb(tok))
        return self.fc(y[:, -1])


class GRUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(8, 16)
        self.cell = nn.LSTMCell(16, 12)
        self.fc = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.gru(x)
        h, _ = self.cell(y[-1])
        return self.fc(h)


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16 * 4 * 4)
        self.up1 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(8, 3, 3, padding=1, groups=1)
        self.smooth = nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(-1, 16, 4, 4)
        return self.smooth(torch.sigmoid(self.up2(F.relu(self.up1(x)))))


class Conv3dNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv3d(1, 4, 3, padding=1)
        self.c2 = nn.Conv3d(4, 8, 3, stride=2, groups=2)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool3d(F.relu(self.c2(F.relu(self.c1(x)))), 1).flatten(1))


class SelfAttention(nn.Module):
    """A hand-written attention: q/k/v as nn.Linear, QK^T and AV as torch.matmul of two activations."""

    def __init__(self, d: int = 16) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.out = nn.Linear(d, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(x), self.k(x), self.v(x)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / 4.0, dim=-1)
        return self.out(torch.matmul(a, v).mean(1))


FOREIGN = {
    "vit": (ViT, lambda: torch.randn(2, 3, 16, 16)),
    "lstm": (LSTMClassifier, lambda: torch.randint(0, 50, (2, 7))),
    "gru": (GRUNet, lambda: torch.randn(6, 2, 8)),
    "decoder": (Decoder, lambda: torch.randn(2, 8)),
    "conv3d": (Conv3dNet, lambda: torch.randn(2, 1, 6, 6, 6)),
    "attention": (SelfAttention, lambda: torch.randn(2, 5, 16)),
}


def _agree(model: nn.Module, x: torch.Tensor) -> tuple[nn.Module, dict[str, str]]:
    analog = analog_layers(model)
    work = trace(model, x)
    crossbar = {o.meta["layer"] for o in work.ops if o.kind is OpKind.MATRIX}
    assert all(o.unit.value == "crossbar" for o in work.matrix_ops)
    net, report = L.convert(model, load_chip("pcm-14nm"))
    assert crossbar == set(analog) == set(report.simulated)
    assert [p for p, _ in L.simulated_modules(net)] == report.simulated
    assert not set(report.digital) & crossbar
    assert not work.unsupported, work.unsupported
    return net, analog


@pytest.mark.parametrize("name", list_models())
def test_zoo_models_agree(name: str) -> None:
    model, x = get_model(name)
    _agree(model, x if isinstance(x, tuple) else x[:1])  # a graph model's input is (x, edge_index)


@pytest.mark.parametrize("name", list(FOREIGN))
def test_foreign_models_agree_and_run(name: str) -> None:
    torch.manual_seed(0)
    cls, make_x = FOREIGN[name]
    model, x = cls().eval(), make_x()
    net, analog = _agree(model, x)
    L.calibrate(net, [x])
    with torch.no_grad():
        assert net.eval()(x).shape == model(x).shape
    expected = {"vit": {"attention": 2, "linear": 5, "conv": 1}, "lstm": {"rnn": 1, "linear": 1},
                "gru": {"rnn": 1, "rnn_cell": 1, "linear": 1}, "decoder": {"linear": 1, "conv": 3},
                "conv3d": {"conv": 2, "linear": 1}, "attention": {"linear": 4}}[name]
    assert {k: list(analog.values()).count(k) for k in set(analog.values())} == expected


def test_crossbar_ops_and_simulated_matmuls_have_the_same_names() -> None:
    for cls, make_x in (FOREIGN["vit"], FOREIGN["lstm"], FOREIGN["gru"]):
        model, x = cls().eval(), make_x()
        net, _ = L.convert(model, load_chip("pcm-14nm"))
        assert [o.name for o in trace(model, x).matrix_ops] == [n for n, _ in L.imc_layers(net)]


def test_functional_weights_are_digital_on_both_sides() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 4))
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x @ self.w)

    model = Functional()
    work = trace(model, torch.randn(3, 8))
    assert [o.kind for o in work.ops] == [OpKind.DIGITAL_MATMUL, OpKind.MATRIX]
    _, report = L.convert(model, load_chip("pcm-14nm"))
    assert report.simulated == ["fc"] and "" not in report.digital
    assert analog_layers(model) == {"fc": "linear"}
