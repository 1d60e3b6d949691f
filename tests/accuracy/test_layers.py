"""``convert`` and the simulated IMC layers: which layers are replaced, row splitting (chunks), ADC resolution,
per-layer bits, grouped and 1-D convolutions (time: ``test_layers_time.py``; training and devices:
``test_layers_train.py``)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from imcnas import load_chip
from imcnas.accuracy import layers as L
from imcnas.accuracy.composite import IMCAttention
from imcnas.errors import ConfigError
from imcnas.hardware import Chip

IDEAL = ["weights.bits=16", "inputs.bits=16", "adc.bits=16", "device.noise.model=none"]


def _chip(preset: str = "pcm-14nm", *overrides: str) -> Chip:
    return load_chip(preset, list(overrides))


def _mlp(seed: int = 0, d_in: int = 64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d_in, 48), nn.ReLU(), nn.Linear(48, 10))


class _CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 3, padding=1)
        self.bn = nn.BatchNorm2d(12)
        self.dw = nn.Conv2d(12, 12, 3, padding=1, groups=12)  # depthwise
        self.grp = nn.Conv2d(12, 16, 3, padding=1, groups=2, bias=False)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv1(x)))
        x = torch.relu(self.dw(x))
        x = nn.functional.max_pool2d(torch.relu(self.grp(x)), 2)
        return self.fc(x.flatten(1))


class _Seq1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(4, 24, 5, padding=2)
        self.c2 = nn.Conv1d(24, 8, 3, stride=2, groups=4)
        self.fc = nn.Linear(8 * 15, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.c2(torch.relu(self.c1(x)))).flatten(1))


class _Transformerish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 16)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm = nn.LayerNorm(16)
        self.gn = nn.GroupNorm(2, 16)
        self.ff = nn.Linear(16, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, tok: torch.Tensor) -> torch.Tensor:
        x = self.emb(tok)
        x = self.norm(x + self.attn(x, x, x, need_weights=False)[0])
        x = torch.relu(self.ff(x))
        x = self.gn(x.transpose(1, 2)).transpose(1, 2)
        return self.head(x.mean(1))


def _batch(seed: int = 1, shape: tuple[int, ...] = (32, 1, 8, 8)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _converted(model: nn.Module, chip: Chip, x: torch.Tensor, **kw) -> nn.Module:
    net, _ = L.convert(model, chip, **kw)
    L.calibrate(net, [x])
    return net.eval()


# ------------------------------------------------------------------------------------------------ convert
def test_convert_replaces_conv_linear_and_attention_and_reports_digital_layers() -> None:
    model = _Transformerish()
    net, report = L.convert(model, _chip())
    assert report.simulated == ["attn", "ff", "head"]
    assert set(report.digital) == {"emb", "norm", "gn"}
    assert all(isinstance(v, str) and v for v in report.digital.values())
    assert isinstance(net.emb, nn.Embedding) and isinstance(net.attn, IMCAttention)
    assert isinstance(net.attn.base, nn.MultiheadAttention) and isinstance(net.attn.out_proj, L.IMCLayer)
    assert isinstance(net.ff, L.IMCLayer) and isinstance(net.head, L.IMCLayer)
    assert [n for n, _ in L.imc_layers(net)] == ["attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj",
                                                 "ff", "head"]
    assert [n for n, _ in L.simulated_modules(net)] == ["attn", "ff", "head"]
    assert report.to_dict() == {"simulated": ["attn", "ff", "head"], "digital": report.digital}
    tok = torch.randint(0, 20, (3, 7), generator=torch.Generator().manual_seed(0))
    L.calibrate(net, [tok])
    assert net(tok).shape == (3, 4)


def test_convert_cnn_reports_norm_and_simulates_all_convs() -> None:
    net, report = L.convert(_CNN(), _chip())
    assert report.simulated == ["conv1", "dw", "grp", "fc"]
    assert list(report.digital) == ["bn"]
    assert "norm" in report.digital["bn"]


def test_conv3d_transposed_and_padded_convs_are_simulated_prelu_stays_digital() -> None:
    model = nn.Sequential(nn.Conv3d(1, 2, 1), nn.ConvTranspose2d(2, 2, 1), nn.Conv2d(2, 2, 1, padding_mode="circular"),
                          nn.PReLU(), nn.Linear(2, 2))
    net, report = L.convert(model, _chip())
    assert report.simulated == ["0", "1", "2", "4"]
    assert set(report.digital) == {"3"} and "no crossbar model" in report.digital["3"]
    assert isinstance(net[2], L.IMCLayer) and isinstance(net[3], nn.PReLU)


def test_convert_leaves_the_original_untouched() -> None:
    model = _mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    net, _ = L.convert(model, _chip())
    L.calibrate(net, [_batch()])
    L.program(net, seed=0)
    L.set_time(net, 3600.0)
    with torch.no_grad():
        next(iter(net.parameters())).add_(1.0)
    assert isinstance(model[1], nn.Linear) and not isinstance(model[1], L.IMCLayer)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # inplace=True converts the given object
    same, _ = L.convert(model, _chip(), inplace=True)
    assert same is model and isinstance(model[1], L.IMCLayer)


def test_convert_rejects_a_non_chip() -> None:
    with pytest.raises(ConfigError):
        L.convert(_mlp(), {"adc": {"bits": 4}})  # type: ignore[arg-type]


@pytest.mark.parametrize("preset", ["pcm-14nm", "neurosim-sram-22nm", "neurosim-rram-22nm"])
def test_ideal_sixteen_bit_noise_free_chip_approximates_the_original(preset: str) -> None:
    # small reads: many chunks per layer, so the split-and-add path is exercised too
    chip = _chip(preset, *IDEAL, "crossbar.parallel_rows=32")
    x = _batch(1, (8, 1, 8, 8))
    for model in (_mlp(), _CNN().eval()):
        ref = model(x)
        net = _converted(model, chip, x)
        assert any(len(m.chunks()) > 1 for _, m in L.imc_layers(net))
        L.program(net, seed=0)
        L.set_time(net, 86400.0)
        with torch.no_grad():
            assert _rel_err(net(x), ref) < 2e-3


def test_default_chip_is_close_but_not_exact() -> None:
    x = _batch()
    model = _mlp()
    ref = model(x)
    net = _converted(model, _chip("pcm-14nm", "device.noise.model=none"), x)
    with torch.no_grad():
        err = _rel_err(net(x), ref)
    assert 1e-4 < err < 0.1


# ----------------------------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("rows", [256, 64, 16, 7])
def test_linear_chunks_follow_rows_per_read(rows: int) -> None:
    chip = _chip("pcm-14nm", f"crossbar.parallel_rows={rows}")
    net, _ = L.convert(nn.Sequential(nn.Linear(300, 5)), chip)
    ch = net[0].chunks()
    assert len(ch) == math.ceil(300 / rows)
    assert ch[0][0] == 0 and ch[-1][1] == 300
    assert all(b - a <= rows for a, b in ch)
    assert all(ch[i][1] == ch[i + 1][0] for i in range(len(ch) - 1))  # contiguous, no overlap


@pytest.mark.parametrize("rows,k,c_in", [(256, 3, 40), (64, 3, 40), (32, 3, 64), (16, 5, 6), (128, 1, 300)])
def test_conv_chunks_keep_whole_input_channels(rows: int, k: int, c_in: int) -> None:
    chip = _chip("pcm-14nm", f"crossbar.parallel_rows={rows}")
    net, _ = L.convert(nn.Sequential(nn.Conv2d(c_in, 8, k)), chip)
    net = net[0]
    ch = net.chunks()
    per_read = max(1, rows // (k * k))  # whole channels per analog read
    assert len(ch) == math.ceil(c_in / per_read)
    assert ch[0][0] == 0 and ch[-1][1] == c_in
    assert all(ch[i][1] == ch[i + 1][0] for i in range(len(ch) - 1))
    for a, b in ch:
        assert (b - a) * k * k <= max(rows, k * k)
    assert net.fan_in == c_in * k * k
    if k * k <= rows:
        assert len(ch) >= math.ceil(net.fan_in / rows)


def test_fewer_parallel_rows_gives_more_chunks() -> None:
    counts = []
    for rows in (256, 128, 64, 32, 8):
        chip = _chip("pcm-14nm", f"crossbar.parallel_rows={rows}")
        net, _ = L.convert(_CNN(), chip)
        counts.append(sum(len(m.chunks()) for _, m in L.imc_layers(net)))
    assert all(a < b for a, b in zip(counts, counts[1:]))


def test_chunks_for_grouped_and_1d_convs_cover_one_group() -> None:
    chip = _chip("pcm-14nm", "crossbar.parallel_rows=9")
    net, _ = L.convert(_CNN(), chip)
    assert net.dw.chunks() == [(0, 1)]  # depthwise: one input channel per group
    assert len(net.grp.chunks()) == 6  # 12 / 2 channels per group, one 3x3 channel per 9-row read
    net1, _ = L.convert(_Seq1d(), _chip("pcm-14nm", "crossbar.parallel_rows=10"))
    assert len(net1.c1.chunks()) == 2  # 4 channels of 5 taps, 2 channels per read
    assert len(net1.c2.chunks()) == 2  # 6 channels per group of 3 taps: 3 per read


# ---------------------------------------------------------------------------------------------- ADC bits
def test_fewer_adc_bits_give_larger_output_error() -> None:
    x = _batch(2, (128, 1, 8, 8))
    model = _mlp(3)
    ref = model(x)
    errs = []
    for bits in (4, 6, 8, 10):
        chip = _chip("pcm-14nm", "weights.bits=16", "inputs.bits=16", f"adc.bits={bits}",
                     "device.noise.model=none", "crossbar.parallel_rows=32")
        net = _converted(model, chip, x)
        with torch.no_grad():
            errs.append(_rel_err(net(x), ref))
    assert all(a > b for a, b in zip(errs, errs[1:])), errs
    assert errs[0] > 3 * errs[2]


def test_fewer_input_bits_give_larger_output_error() -> None:
    x = _batch(2, (128, 1, 8, 8))
    model = _mlp(3)
    ref = model(x)
    errs = []
    for bits in (2, 4, 8):
        chip = _chip("pcm-14nm", "weights.bits=16", f"inputs.bits={bits}", "adc.bits=16", "device.noise.model=none")
        net = _converted(model, chip, x)
        with torch.no_grad():
            errs.append(_rel_err(net(x), ref))
    assert errs[0] > errs[1] > errs[2]


def test_calibration_sets_ranges_and_signed_inputs() -> None:
    x = _batch()
    net = _converted(_mlp(), _chip(), x)
    first, second = net[1], net[3]
    assert float(first.in_bound) > 0 and float(first.adc_bound) > 0
    assert bool(first.in_signed)  # standard normal inputs
    assert not bool(second.in_signed)  # after a ReLU
    assert float(first.in_bound) <= float(x.abs().max()) + 1e-6


def test_ir_drop_reduces_output_magnitude() -> None:
    x = _batch()
    model = _mlp()
    out = {}
    for s in (0.0, 0.3):
        chip = _chip("pcm-14nm", *IDEAL, f"crossbar.ir_drop={s}")
        net = _converted(model, chip, x)
        with torch.no_grad():
            out[s] = net[:2](x)  # the first (simulated) linear layer, before the ReLU
    bias = model[1].bias.detach()
    assert float((out[0.3] - bias).abs().mean()) < float((out[0.0] - bias).abs().mean())


# ------------------------------------------------------------------------------------------ per-layer bits
def test_per_layer_bits_override() -> None:
    chip = _chip("pcm-14nm")
    net, _ = L.convert(_mlp(), chip, layer_bits={"1": {"weights": 3, "adc": 5}, "3": {"inputs": 4}})
    first, second = net[1], net[3]
    assert (first.cfg.w_bits, first.cfg.adc_bits, first.cfg.in_bits) == (3, 5, chip.inputs.bits)
    assert (second.cfg.w_bits, second.cfg.adc_bits, second.cfg.in_bits) == (chip.weights.bits, chip.adc.bits, 4)
    assert len(torch.unique(first.ideal_weight().detach())) <= 2 * 7 + 1  # 3-bit magnitudes, signed pair
    assert len(torch.unique(second.ideal_weight().detach())) > 2 * 7 + 1


def test_bad_layer_name_and_bad_key_give_one_line_config_errors() -> None:
    with pytest.raises(ConfigError) as err:
        L.convert(_mlp(), _chip(), layer_bits={"nope": {"weights": 4}})
    assert "nope" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        L.convert(_mlp(), _chip(), layer_bits={"1": {"weight_bits": 4}})
    assert "weight_bits" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("value", [0, -3, 40, "x"])
def test_bad_per_layer_bit_values_give_one_line_config_errors(value: object) -> None:
    with pytest.raises(ConfigError) as err:
        L.convert(_mlp(), _chip(), layer_bits={"1": {"weights": value}})
    assert "\n" not in str(err.value)


def test_converting_a_bare_layer_replaces_the_root() -> None:
    layer = nn.Linear(8, 4)
    net, report = L.convert(layer, _chip())
    assert isinstance(net, L.IMCLayer) and report.simulated == [""]
    assert isinstance(layer, nn.Linear) and net.base is not layer
    x = _batch(0, (5, 8))
    L.calibrate(net, [x])
    with torch.no_grad():
        assert _rel_err(net(x), layer(x)) < 0.05


# --------------------------------------------------------------------------------- grouped / 1-D convs
def test_grouped_depthwise_and_conv1d_match_the_original_on_an_ideal_chip() -> None:
    chip = _chip("pcm-14nm", *IDEAL, "crossbar.parallel_rows=9")
    x = _batch()
    cnn = _CNN().eval()
    net = _converted(cnn, chip, x)
    with torch.no_grad():
        assert _rel_err(net(x), cnn(x)) < 2e-3
    x1 = _batch(3, (16, 4, 32))
    seq = _Seq1d()
    net1 = _converted(seq, _chip("pcm-14nm", *IDEAL, "crossbar.parallel_rows=10"), x1)
    with torch.no_grad():
        assert _rel_err(net1(x1), seq(x1)) < 2e-3
    # and on the real chip they run and stay close
    net2 = _converted(seq, _chip("pcm-14nm", "crossbar.parallel_rows=10"), x1)
    L.program(net2, seed=0)
    L.set_time(net2, 1.0)
    with torch.no_grad():
        assert _rel_err(net2(x1), seq(x1)) < 0.3
