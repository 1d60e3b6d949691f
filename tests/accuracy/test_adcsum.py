"""Packed partial sums and the fused ADC shift-add (accuracy/adcsum.py, bitlevel packing): packing is lossless,
packed reads equal unpacked reads on convolutions (channels-last, grouped, 1-D) and linears with lossy ADCs,
and the opt-in compiled kernel computes the same as the eager path."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from imcnas.accuracy import adcsum, bitlevel
from imcnas.accuracy import layers as L
from imcnas.hardware import load_chip


@pytest.mark.parametrize("max_sum, slices", [(32, 8), (128, 8), (255, 4), (1023, 8), (3 * 64, 4)])
def test_packing_round_trips(max_sum: int, slices: int) -> None:
    torch.manual_seed(0)
    k, f = bitlevel.pack_plan(max_sum, slices, torch.float32)
    assert k * f <= 24 and (1 << f) > max_sum
    if k == 1:
        assert 2 * max(max_sum, 1).bit_length() > 24 or slices == 1
        return
    digits = torch.randint(0, 2, (slices, 5, 7)).float()
    x = torch.randint(0, 2, (7, 11)).float()
    sums = torch.einsum("soi,ib->sob", digits, x) * (max_sum // 7)  # whole sums up to max_sum
    packed = bitlevel.pack_slices(sums, k, f)
    for i in range(packed.shape[0]):
        for j in range(k):
            s = i * k + j
            want = sums[s] if s < slices else torch.zeros_like(sums[0])
            assert torch.equal(adcsum.field_values(packed[i], j, k, f), want)


MODULES = [(nn.Conv2d(12, 8, 3, padding=1), (3, 12, 7, 7)), (nn.Conv2d(8, 8, 3, groups=2), (2, 8, 6, 6)),
           (nn.Conv1d(10, 4, 3), (3, 10, 15)), (nn.Linear(90, 6), (5, 90))]
CHIPS = [["adc.bits=3"], ["adc.levels=neurosim", "adc.bits=4"], ["adc.range=full_scale", "adc.bits=4"],
         ["weights.signed=differential", "adc.bits=2", "crossbar.parallel_rows=64"],
         ["device.bits_per_cell=2", "inputs.scheme=dac", "inputs.dac_bits=2", "adc.bits=5"]]


def _run(module: nn.Module, shape: tuple, sets: list) -> tuple[L.IMCLayer, torch.Tensor]:
    torch.manual_seed(4)
    layer, _ = L.convert(module, load_chip("neurosim-rram-22nm", sets))
    x = torch.randn(*shape).relu()
    L.calibrate(layer, [x])
    layer.eval()
    return layer, x


@pytest.mark.parametrize("module, shape", MODULES)
@pytest.mark.parametrize("sets", CHIPS)
def test_packed_reads_equal_unpacked_reads(module: nn.Module, shape: tuple, sets: list,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    layer, x = _run(module, shape, sets)
    calls = []
    plan = bitlevel.pack_plan
    monkeypatch.setattr(bitlevel, "pack_plan", lambda *a: calls.append(plan(*a)) or calls[-1])
    with torch.no_grad():
        packed = layer(x)
    assert calls and calls[0][0] > 1  # the layer's ideal cells were packed
    monkeypatch.setattr(bitlevel, "pack_plan", lambda *a: (1, 0))
    with torch.no_grad():
        unpacked = layer(x)
    assert torch.allclose(packed, unpacked, rtol=1e-5, atol=1e-5 * float(unpacked.abs().max()))
    # and a lossy ADC really changes the output: the comparison can fail
    object.__setattr__(layer, "cfg", replace(layer.cfg, adc_bits=16))
    with torch.no_grad():
        assert not torch.allclose(layer(x), unpacked, rtol=1e-3)


def test_the_compiled_kernel_equals_the_eager_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """IMCNAS_COMPILE=1 sends every read through torch.compile's kernel (threshold lowered to 0)."""
    results = []
    for module, shape in MODULES[:2]:
        for sets in CHIPS[:3]:
            layer, x = _run(module, shape, sets + ["crossbar.parallel_rows=32"])
            with torch.no_grad():
                eager = layer(x)
            monkeypatch.setenv("IMCNAS_COMPILE", "1")
            monkeypatch.setattr(adcsum, "COMPILE_MIN_ELEMENTS", 0)
            with torch.no_grad():
                compiled = layer(x)
            monkeypatch.delenv("IMCNAS_COMPILE")
            if adcsum._compiled.get("failed"):
                pytest.skip(f"torch.compile unavailable here: {adcsum._compiled['failed']}")
            results.append(float((compiled - eager).abs().max() / eager.abs().max()))
    assert max(results) < 1e-5, results
