"""The digital SRAM CIM components (hardware/converters.py: adder_tree converter, digital compute scheme):
the adder tree's size, its pricing trends against the ADC chip it replaces, and exact accuracy."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import imcnas
from imcnas.accuracy import layers as L
from imcnas.hardware.converters import tree_adder_bits


@pytest.mark.parametrize("rows", [2, 3, 16, 100, 128, 256])
def test_tree_adder_bits_equals_a_level_by_level_count(rows: int) -> None:
    """Brute force: pair the partial sums level by level; an adder at level k is k bits wide."""
    n, k, bits = rows, 1, 0
    while n > 1:
        bits += (n // 2) * k
        n = n // 2 + n % 2
        k += 1
    closed = float(tree_adder_bits(np.array([[float(rows)]]))[0, 0])
    # the closed form counts a full tree of 2^L leaves scaled to the rows; both agree within a level's width
    assert abs(closed - bits) <= max(2.0, 0.05 * bits), (closed, bits)


def _totals(chip: imcnas.Chip) -> dict:
    r = imcnas.estimate("vgg8-cifar", chip)
    return {"tops_w": r.tops_per_w, "adc": r.energy_breakdown_pj["adc"], "area": r.area_mm2}


def test_digital_cim_prices_an_adder_tree_instead_of_an_adc() -> None:
    dig = _totals(imcnas.load_chip("digital-sram-22nm"))
    sa = _totals(imcnas.load_chip("neurosim-sram-22nm"))
    assert dig["tops_w"] > 1.5 * sa["tops_w"]  # the sense amps are 56-84 % of the SRAM chip's energy
    # the tree grows with the rows it sums: twice the rows, more energy per conversion event
    few = _totals(imcnas.load_chip("digital-sram-22nm", ["crossbar.parallel_rows=32"]))
    assert few["adc"] < dig["adc"]


def test_digital_cim_is_exact_in_the_accuracy_simulation() -> None:
    torch.manual_seed(0)
    base = nn.Linear(300, 5)
    x = torch.rand(16, 300)
    ref = base(x).detach()
    errs = {}
    for name, sets in (("digital-sram-22nm", []), ("neurosim-sram-22nm", ["adc.bits=3"])):
        layer, _ = L.convert(copy.deepcopy(base), imcnas.load_chip(name, sets))
        L.calibrate(layer, [x])
        layer.eval()
        with torch.no_grad():
            errs[name] = float((layer(x) - ref).abs().max())
        if name.startswith("digital"):
            assert layer.cfg.adc_bits >= L.FULL_PRECISION_BITS and layer.cfg.bit_level
    # 8-bit weights and inputs, exact sums: only the quantisation of weights and inputs remains
    assert errs["digital-sram-22nm"] < 0.05 * float(ref.abs().max()) < errs["neurosim-sram-22nm"]
