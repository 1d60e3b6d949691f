"""Simulated attention, recurrent modules, transposed/3-D/padded convolutions: on an ideal chip they compute what
the original modules compute; on a real chip their weight matmuls carry the chip's non-idealities."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from imcnas import load_chip
from imcnas.accuracy import layers as L
from imcnas.accuracy.composite import IMCAttention, IMCRecurrent
from imcnas.accuracy.train import _digital_copy

IDEAL = ["weights.bits=16", "inputs.bits=16", "adc.bits=16", "device.noise.model=none", "crossbar.parallel_rows=32"]


class _MHA(nn.Module):
    def __init__(self, masks: bool = False, **kw) -> None:
        super().__init__()
        self.a, self.masks = nn.MultiheadAttention(16, 4, **kw), masks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.masks:
            return self.a(x, x, x)[0]
        kpm = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool)
        kpm[0, -2:] = True
        causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
        out, w = self.a(x, x, x, key_padding_mask=kpm, attn_mask=causal, average_attn_weights=False)
        return out + w.mean()


def _first(y: object) -> torch.Tensor:
    while isinstance(y, tuple):
        y = y[0]
    return y  # type: ignore[return-value]


CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "mha_batch_first": (lambda: _MHA(batch_first=True), (2, 5, 16)),
    "mha_bias_kv_zero_attn": (lambda: _MHA(add_bias_kv=True, add_zero_attn=True), (5, 2, 16)),
    "mha_masks": (lambda: _MHA(masks=True, batch_first=True), (2, 5, 16)),
    "encoder": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, 0.0, batch_first=True), 2,
                                              enable_nested_tensor=False), (2, 5, 16)),
    "lstm": (lambda: nn.LSTM(8, 12, num_layers=2, bidirectional=True, batch_first=True), (3, 6, 8)),
    "lstm_proj": (lambda: nn.LSTM(8, 12, proj_size=5), (6, 3, 8)),
    "gru_unbatched": (lambda: nn.GRU(8, 12, num_layers=2), (6, 8)),
    "rnn_relu": (lambda: nn.RNN(8, 12, nonlinearity="relu", bidirectional=True), (6, 2, 8)),
    "lstm_cell": (lambda: nn.LSTMCell(8, 12), (3, 8)),
    "gru_cell": (lambda: nn.GRUCell(8, 12), (3, 8)),
    "rnn_cell": (lambda: nn.RNNCell(8, 12), (3, 8)),
    "conv_t2d": (lambda: nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1), (2, 6, 5, 5)),
    "conv_t2d_groups": (lambda: nn.ConvTranspose2d(6, 4, 3, stride=2, groups=2), (2, 6, 5, 5)),
    "conv_t1d_chunks": (lambda: nn.ConvTranspose1d(40, 4, 3), (2, 40, 5)),
    "conv3d": (lambda: nn.Conv3d(3, 4, 3, padding=1), (2, 3, 4, 5, 5)),
    "conv3d_groups": (lambda: nn.Conv3d(4, 4, 3, groups=2), (2, 4, 4, 5, 5)),
    "circular": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (2, 3, 5, 5)),
    "reflect_unbatched": (lambda: nn.Conv1d(3, 4, 3, padding=1, padding_mode="reflect"), (3, 7)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ideal_chip_reproduces_the_module(name: str) -> None:
    torch.manual_seed(0)
    make, shape = CASES[name]
    model, x = nn.Sequential(make()).eval(), torch.randn(*shape)
    with torch.no_grad():
        ref = _first(model(x))
        net, report = L.convert(model, load_chip("pcm-14nm", IDEAL))
        assert report.simulated and report.simulated[0].startswith("0")
        L.calibrate(net, [x])
        L.program(net, seed=0)
        L.set_time(net, 3600.0)
        out = _first(net.eval()(x))
        assert float((out - ref).norm() / ref.norm()) < 2e-3
        noisy, _ = L.convert(model, load_chip("pcm-14nm"))
        L.calibrate(noisy, [x])
        L.program(noisy, seed=0)
        assert float((_first(noisy.eval()(x)) - ref).norm() / ref.norm()) > 1e-3


def test_composites_name_their_matmuls_like_the_cost_model_and_take_per_matmul_bits() -> None:
    model = nn.Sequential(nn.MultiheadAttention(16, 2), nn.LSTM(16, 8))
    bits = {"0": {"weights": 4}, "0.out_proj": {"weights": 6}, "1.weight_hh_l0": {"adc": 3}}
    net, _ = L.convert(model, load_chip("pcm-14nm"), layer_bits=bits)
    assert isinstance(net[0], IMCAttention) and isinstance(net[1], IMCRecurrent)
    got = {n: (m.cfg.w_bits, m.cfg.adc_bits) for n, m in L.imc_layers(net)}
    chip = load_chip("pcm-14nm")
    assert got == {"0.q_proj": (4, chip.adc.bits), "0.k_proj": (4, chip.adc.bits), "0.v_proj": (4, chip.adc.bits),
                   "0.out_proj": (6, chip.adc.bits), "1.weight_ih_l0": (chip.weights.bits, chip.adc.bits),
                   "1.weight_hh_l0": (chip.weights.bits, 3)}
    assert net[0].embed_dim == 16 and net[1].hidden_size == 8  # attributes of the original still readable
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in model.parameters())


def test_gradients_reach_the_original_parameters_and_digital_copy_unwraps() -> None:
    model = nn.Sequential(nn.GRU(4, 6, batch_first=True))
    net, _ = L.convert(model, load_chip("pcm-14nm"))
    x = torch.randn(2, 5, 4)
    L.calibrate(net, [x])
    net.train()
    net(x)[0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    plain = _digital_copy(net)
    assert isinstance(plain[0], nn.GRU) and not list(L.imc_layers(plain))


def test_packed_sequences_are_refused_clearly() -> None:
    net, _ = L.convert(nn.Sequential(nn.LSTM(4, 4)), load_chip("pcm-14nm"))
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(3, 2, 4), [3, 2])
    with pytest.raises(NotImplementedError, match="PackedSequence"):
        net[0](packed)
