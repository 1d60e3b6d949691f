"""The bit-level datapath (accuracy/bitlevel.py): an independent integer reference, the lossless limit, the
choice of datapath, the surrogate's calibration and the accuracy trend in ADC bits."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from imcnas.accuracy import layers as L
from imcnas.accuracy import nonideal as ni
from imcnas.errors import ConfigError
from imcnas.hardware import load_chip


def _reference(layer: L.IMCLayer, x: torch.Tensor) -> torch.Tensor:
    """Integer arithmetic, loop by loop: input codes -> bit planes (or DAC digits), weight codes -> slices,
    row groups of ``rows_per_read`` inputs, each partial sum through the ADC, shift-add (Linear layers)."""
    cfg, lay = layer.cfg, layer.cfg.layout
    signed = bool(layer.in_signed)
    in_levels = 2 ** (cfg.in_bits - 1) - 1 if signed else 2 ** cfg.in_bits - 1
    bound = float(layer.in_bound)
    codes = torch.round(x.clamp(-bound if signed else 0.0, bound) / (bound / in_levels)).long()
    w_max = float(layer.w_max())
    g_pos, g_neg = ni.to_cells(layer.weight.detach(), layer.w_max(), lay)
    d_pos = torch.round(g_pos * lay.cell_levels).long()
    d_neg = torch.round(g_neg * lay.cell_levels).long()
    pb = 1 if cfg.in_scheme == "bit_serial" else cfg.dac_bits
    mag_bits = cfg.in_bits - 1 if signed else cfg.in_bits
    n_planes = math.ceil(mag_bits / pb)
    rows, levels = cfg.rows_per_read, 2 ** cfg.adc_bits
    rng = rows * lay.cell_levels * (2 ** pb - 1) if cfg.adc_range == "full_scale" else float(layer.adc_bound_bits)

    def adc(v: float) -> float:
        if cfg.adc_levels == "neurosim":  # thresholds k * rng / L, k = 2..L; each code read at its lower edge
            code = min(max(math.floor(v * levels / rng), 0), levels)
            return 0.0 if code < 2 else code * rng / levels
        step = rng / (levels - 1)  # round half up, never finer than one cell unit
        code = math.floor(v + 0.5) if step <= 1 else math.floor((v * (levels - 1) + rng / 2) / rng)
        return min(max(code, 0), levels - 1) * max(step, 1.0)

    out = torch.zeros(x.shape[0], d_pos.shape[1], dtype=torch.float64)
    phases = [(1, codes.clamp(min=0))] + ([(-1, (-codes).clamp(min=0))] if signed else [])
    for sign, mag in phases:
        for p in range(n_planes):
            digit = (mag >> (p * pb)) & (2 ** pb - 1)
            for s in range(lay.slices):
                for a in range(0, x.shape[1], rows):
                    xin = digit[:, a:a + rows]
                    pos = (xin @ d_pos[s][:, a:a + rows].T).double().apply_(adc)
                    if lay.signed == "unsigned":
                        neg = torch.zeros_like(pos)
                    else:  # the offset scheme's reference column holds the same code under every output
                        cols = d_neg[s][:1] if lay.signed == "offset" else d_neg[s]
                        neg = (xin @ cols[:, a:a + rows].T).double().apply_(adc)
                    out += sign * 2 ** (p * pb) * lay.base ** s * (pos - neg)
    k = lay.levels / (lay.levels // 2) if lay.signed == "offset" else 1.0
    return out * (bound / in_levels) * k * w_max / lay.levels


CASES = [
    ("neurosim-rram-22nm", []),
    ("neurosim-rram-22nm", ["adc.range=full_scale", "adc.bits=4"]),
    ("neurosim-rram-22nm", ["adc.levels=neurosim"]),
    ("neurosim-sram-22nm", ["weights.signed=differential", "adc.bits=3"]),
    ("neurosim-sram-22nm", ["weights.signed=unsigned", "crossbar.parallel_rows=16"]),
    ("neurosim-rram-22nm", ["device.bits_per_cell=2", "inputs.scheme=dac", "inputs.dac_bits=2",
                            "crossbar.parallel_rows=64", "adc.bits=6"]),
]


@pytest.mark.parametrize("preset, sets", CASES)
@pytest.mark.parametrize("signed_inputs", [False, True])
def test_bit_level_equals_an_independent_integer_reference(preset: str, sets: list, signed_inputs: bool) -> None:
    torch.manual_seed(0)
    chip = load_chip(preset, sets)
    layer, _ = L.convert(nn.Linear(70, 6, bias=False), chip)
    assert layer.cfg.bit_level
    x = torch.rand(12, 70) - (0.4 if signed_inputs else 0.0)
    L.calibrate(layer, [x])
    layer.eval()
    with torch.no_grad():
        y = layer(x)
    ref = _reference(layer, x)
    assert bool(layer.in_signed) == signed_inputs
    assert torch.allclose(y.double(), ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max())), \
        float((y.double() - ref).abs().max())


def _ideal(layer: L.IMCLayer, x: torch.Tensor) -> torch.Tensor:
    """The ideal quantised matmul: same quantised inputs and cells, one read, no ADC."""
    cfg = layer.cfg
    object.__setattr__(layer, "cfg", replace(cfg, bit_level=False, adc_bits=16))
    try:
        with torch.no_grad():
            return layer(x)
    finally:
        object.__setattr__(layer, "cfg", cfg)


@pytest.mark.parametrize("module, shape", [(nn.Linear(100, 7), (8, 100)), (nn.Conv2d(6, 8, 3, padding=1), (4, 6, 9, 9)),
                                           (nn.Conv2d(8, 8, 3, padding=1, groups=4), (4, 8, 9, 9)),
                                           (nn.Conv1d(5, 4, 3), (3, 5, 20))])
@pytest.mark.parametrize("sets", [["adc.bits=6"],  # 32 rows x 1-bit cells: full scale 32 -> 6 bits lossless
                                  ["weights.signed=differential", "adc.bits=6"],
                                  ["device.bits_per_cell=2", "crossbar.parallel_rows=64", "adc.bits=8"]])
def test_a_lossless_adc_gives_the_ideal_quantised_matmul(module: nn.Module, shape: tuple, sets: list) -> None:
    """bits >= log2(parallel_rows x (2^cell_bits - 1)) + 1 with the full-scale range: every conversion exact."""
    torch.manual_seed(1)
    layer, _ = L.convert(module, load_chip("neurosim-rram-22nm", ["adc.range=full_scale"] + sets))
    x = torch.rand(*shape)
    L.calibrate(layer, [x])
    layer.eval()
    with torch.no_grad():
        y = layer(x)
    assert torch.allclose(y, _ideal(layer, x), atol=1e-5)
    # one bit fewer is lossy
    coarse, _ = L.convert(module, load_chip("neurosim-rram-22nm", ["adc.range=full_scale"] + sets[:-1] +
                                            [f"adc.bits={int(sets[-1].split('=')[1]) - 2}"]))
    L.calibrate(coarse, [x])
    coarse.eval()
    with torch.no_grad():
        assert not torch.allclose(coarse(x), _ideal(coarse, x), atol=1e-5)


def test_programmed_cells_are_read_slice_by_slice() -> None:
    """After programming, the bit-level datapath reads the noisy cells themselves: without an ADC it equals the
    one-read model on the same cells."""
    torch.manual_seed(2)
    layer, _ = L.convert(nn.Linear(64, 5), load_chip("neurosim-rram-22nm", ["adc.bits=16"]))
    x = torch.rand(6, 64)
    L.calibrate(layer, [x])
    layer.eval()
    L.program(layer, seed=3)
    L.set_time(layer, 3600.0, seed=3)
    with torch.no_grad():
        y = layer(x)
    one = _ideal(layer, x)
    assert torch.allclose(y, one, atol=1e-5)
    L.reset(layer)
    assert not torch.allclose(_ideal(layer, x), one, atol=1e-4)  # the noise was there


def test_the_chip_chooses_the_datapath() -> None:
    assert L.layer_config(load_chip("neurosim-rram-22nm")).bit_level  # bit-serial, 8 slices
    assert L.layer_config(load_chip("neurosim-rram-22nm", ["inputs.scheme=pulse_width"])).bit_level  # slices
    assert not L.layer_config(load_chip("pcm-14nm")).bit_level  # pulse width, equal-significance cells
    assert L.layer_config(load_chip("pcm-14nm", ["inputs.scheme=bit_serial"])).bit_level
    assert not L.layer_config(load_chip("neurosim-rram-22nm"), datapath="one_read").bit_level
    assert L.layer_config(load_chip("pcm-14nm"), datapath="bit_level").bit_level
    with pytest.raises(ConfigError, match="datapath"):
        L.layer_config(load_chip("pcm-14nm"), datapath="bits")


def test_coarse_adcs_cost_more_bit_by_bit_and_the_surrogate_is_calibrated() -> None:
    """On a bit-serial, bit-sliced chip a coarse ADC errs more per read than the one-read model says; the
    calibration measures the extra spread that hardware-aware training then injects."""
    torch.manual_seed(4)
    base = nn.Linear(128, 16)
    x = torch.rand(64, 128)
    errs = {}
    for datapath in ("one_read", "bit_level"):
        layer, _ = L.convert(base, load_chip("neurosim-sram-22nm", ["adc.bits=3"]), datapath=datapath)
        L.calibrate(layer, [x])
        layer.eval()
        with torch.no_grad():
            errs[datapath] = float((layer(x) - _ideal(layer, x)).pow(2).mean().sqrt())
        if datapath == "bit_level":
            assert float(layer.bit_sigma) > 0
            layer.train()
            torch.manual_seed(5)
            noisy = layer(x)
            layer.bit_sigma.zero_()
            torch.manual_seed(5)
            assert not torch.allclose(noisy, layer(x))  # training injects the calibrated spread
    assert errs["bit_level"] > errs["one_read"]
