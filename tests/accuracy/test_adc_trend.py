"""Accuracy against ADC bits on a bit-serial, bit-sliced chip (neurosim-sram-22nm, 32 rows per read): a network
trained in float and evaluated with the bit-level datapath gains accuracy with every ADC bit, is far below the
one-read model's estimate with a 3-bit ADC, and reaches its float accuracy at 8 bits.

Measured when written (seeds 0-4, 5 epochs): bit-level accuracy at ADC 3..8 bits 32-46, 88-97, then equal to the
float accuracy (97.5-98.9 %) from 5 bits on; one-read at 3 bits 79-91 %. The margins below are a fraction of
that. docs/accuracy.md, "Accuracy against ADC bits and parallel rows", has the full table
(benchmarks/adc_accuracy.py)."""
from __future__ import annotations

import pytest
import torch

from imcnas.accuracy import layers as L
from imcnas.accuracy.data import load_dataset
from imcnas.accuracy.train import TrainConfig, accuracy, train
from imcnas.hardware import load_chip
from imcnas.space.families import build_model

BITS = (3, 4, 5, 6, 7, 8)
ROWS = 32
MONOTONE_TOL = 1.0  # points: one more ADC bit never costs more than this
GAP_3BIT = 20.0  # points: bit-level below one-read at 3 bits by at least this (measured 37 to 50)
LOSSLESS_TOL = 1.0  # points: bit-level at 8 bits within this of the float accuracy (measured 0 to 0.3)


@pytest.fixture(scope="module")
def measured() -> dict:
    """Float, one-read and bit-level test accuracy of a small CNN trained 5 epochs on digits (seed 0)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the bit-level datapath is elementwise-heavy: one thread is faster on 2 shared cores
    try:
        data = load_dataset("digits")
        torch.manual_seed(0)
        model = build_model("cnn", {"arch.width": 8, "arch.fc": 32}, data.input_shape, data.num_classes)
        net = train(model, data, TrainConfig(epochs=5, seed=0, device="cpu")).model
        out = {"digital": accuracy(net, data)}
        calib = [data.train[:256][0]]
        for datapath in ("bit_level", "one_read"):
            for bits in BITS if datapath == "bit_level" else (3,):
                chip = load_chip("neurosim-sram-22nm", [f"adc.bits={bits}", f"crossbar.parallel_rows={ROWS}"])
                sim, _ = L.convert(net, chip, datapath=datapath)
                L.calibrate(sim, calib)
                out[datapath, bits] = accuracy(sim, data)
        return out
    finally:
        torch.set_num_threads(threads)


def test_bit_level_accuracy_does_not_fall_with_more_adc_bits(measured: dict) -> None:
    acc = [measured["bit_level", b] for b in BITS]
    for lo, hi, a, b in zip(BITS, BITS[1:], acc, acc[1:]):
        assert b >= a - MONOTONE_TOL, f"{lo} -> {hi} ADC bits: {a:.1f} -> {b:.1f} %"
    assert acc[-1] - acc[0] > GAP_3BIT, acc  # the ADC matters at all


def test_one_read_understates_a_3_bit_adcs_error(measured: dict) -> None:
    bl, one = measured["bit_level", 3], measured["one_read", 3]
    assert bl < one - GAP_3BIT, f"3-bit ADC: bit-level {bl:.1f} %, one-read {one:.1f} %"


def test_an_8_bit_adc_keeps_the_float_accuracy(measured: dict) -> None:
    bl, dig = measured["bit_level", 8], measured["digital"]
    assert abs(bl - dig) <= LOSSLESS_TOL, f"8-bit ADC bit-level {bl:.1f} %, float {dig:.1f} %"
