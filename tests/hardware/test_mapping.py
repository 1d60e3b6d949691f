"""Mapping of hand-built layers onto crossbars: counts checked against hand arithmetic."""
from __future__ import annotations

import math

import pytest

from imcnas.hardware import estimate


def crossbars(report, layer: int = 0) -> float:
    return report.layers[layer]["crossbars"]


@pytest.mark.parametrize("rows, cols, xrows, xcols", [
    (300, 64, 128, 128),  # 3 x 4
    (128, 16, 128, 128),  # exactly one crossbar
    (129, 16, 128, 128),  # one row too many: two row tiles
    (27, 10, 64, 256),  # first conv of a CIFAR net on a wide crossbar
    (4608, 512, 256, 256),  # a big 3x3x512 conv
    (1000, 1000, 512, 64),
])
def test_crossbar_count_matches_hand_arithmetic(chip, workload, matrix_op, rows, cols, xrows, xcols) -> None:
    c = chip("neurosim-sram-22nm", f"crossbar.rows={xrows}", f"crossbar.cols={xcols}", "crossbar.parallel_rows=null")
    assert c.cols_per_weight == 8  # 8-bit weights on 1-bit cells, offset encoding
    r = estimate(workload(matrix_op("fc", rows, cols, vectors=4)), c)
    expected = math.ceil(rows / xrows) * math.ceil(cols * 8 / xcols)
    assert crossbars(r) == expected
    assert r.layers[0]["duplication"] == 1
    assert 0 < r.layers[0]["utilization"] <= 1


def test_differential_doubles_columns(chip, workload, matrix_op) -> None:
    w = workload(matrix_op("conv", rows=300, cols=64, vectors=16))
    offset = chip("neurosim-sram-22nm", "weights.signed=offset")
    diff = chip("neurosim-sram-22nm", "weights.signed=differential")
    assert diff.cols_per_weight == 2 * offset.cols_per_weight == 16
    assert crossbars(estimate(w, offset)) == 3 * math.ceil(64 * 8 / 128) == 12
    assert crossbars(estimate(w, diff)) == 3 * math.ceil(64 * 16 / 128) == 24


def test_two_bit_cells_halve_cells_for_8_bit_weights(chip, workload, matrix_op) -> None:
    w = workload(matrix_op("conv", rows=300, cols=64, vectors=16))
    one = chip("neurosim-rram-22nm", "device.bits_per_cell=1")
    two = chip("neurosim-rram-22nm", "device.bits_per_cell=2")
    assert one.weights.bits == 8
    assert (one.cells_per_weight, two.cells_per_weight) == (8, 4)
    assert crossbars(estimate(w, one)) == 3 * 4
    assert crossbars(estimate(w, two)) == 3 * 2
    # an explicit cells_per_weight wins over the derived value
    assert chip("neurosim-rram-22nm", "weights.cells_per_weight=3").cells_per_weight == 3


def test_cells_per_weight_rounds_up(chip) -> None:
    assert chip("neurosim-rram-22nm", "device.bits_per_cell=3").cells_per_weight == 3  # ceil(8 / 3)
    assert chip("neurosim-rram-22nm", "weights.bits=4", "device.bits_per_cell=4").cells_per_weight == 1


@pytest.mark.parametrize("signed, cols_per_weight", [("offset", 8), ("differential", 16)])
def test_depthwise_groups_pack_into_one_crossbar(chip, workload, matrix_op, signed, cols_per_weight) -> None:
    channels = 96
    c = chip("neurosim-sram-22nm", f"weights.signed={signed}")
    w = workload(matrix_op("dw", rows=9, cols=1, groups=channels, vectors=64))
    r = estimate(w, c)
    per_xbar = min(128 // 9, 128 // cols_per_weight)  # block-diagonal: limited by rows or by columns
    assert per_xbar > 1
    assert crossbars(r) == math.ceil(channels / per_xbar)
    assert crossbars(r) < channels  # not one crossbar per group
    # one unpacked group would use 9 x cols_per_weight cells of a 128 x 128 crossbar
    assert r.layers[0]["utilization"] > 9 * cols_per_weight / (128 * 128) * 1.5


def test_groups_too_big_to_pack_take_their_own_crossbars(chip, workload, matrix_op) -> None:
    c = chip("neurosim-sram-22nm")
    w = workload(matrix_op("grouped", rows=200, cols=4, groups=4, vectors=8))
    assert crossbars(estimate(w, c)) == 4 * math.ceil(200 / 128) * math.ceil(4 * 8 / 128)


def test_fixed_duplication_multiplies_crossbars(chip, workload, matrix_op) -> None:
    w = workload(matrix_op("conv", rows=300, cols=64, vectors=100))
    one = estimate(w, chip("neurosim-sram-22nm"))
    four = estimate(w, chip("neurosim-sram-22nm", "mapping.duplication=4", "mapping.max_duplication=4"))
    assert four.layers[0]["duplication"] == 4
    assert crossbars(four) == 4 * crossbars(one)
    # copies work in parallel: the layer is faster, with the same number of conversions (ADC energy)
    assert four.layers[0]["latency_ns"] < one.layers[0]["latency_ns"]
    assert four.energy_breakdown_pj["adc"] == pytest.approx(one.energy_breakdown_pj["adc"], rel=1e-9)


def test_tiles_hold_whole_layers_when_layer_per_tile(chip, workload, matrix_op) -> None:
    # two small layers: each fits one tile (at least 4 x 128 weights per side), one layer per tile
    w = workload(matrix_op("a", rows=128, cols=16, vectors=4), matrix_op("b", rows=300, cols=64, vectors=4))
    r = estimate(w, chip("neurosim-sram-22nm"))
    assert [L["crossbars"] for L in r.layers] == [1, 12]
    assert [L["tiles"] for L in r.layers] == [1, 1]
    assert r.tiles == 2
    shared = estimate(w, chip("neurosim-sram-22nm", "hierarchy.layer_per_tile=false"))
    assert shared.tiles == 1
