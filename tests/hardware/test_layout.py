"""One cell layout for the cost model and the accuracy simulation (``hardware.layout``)."""
from __future__ import annotations

import pytest

from imcnas.errors import ConfigError
from imcnas.hardware import estimate, load_chip
from imcnas.hardware.layout import cells_per_weight, check_layout, is_sliced
from imcnas.workload.ops import Op, OpKind, Workload


def _work() -> Workload:
    return Workload("one", (Op(name="fc", kind=OpKind.MATRIX, module="Linear", rows=256, cols=64, vectors=8,
                               macs=256 * 64 * 8),))


def test_cells_follow_bits_unless_given() -> None:
    assert cells_per_weight(8, 1) == 8 and cells_per_weight(8, 3) == 3 and cells_per_weight(8, 2, 5) == 5
    assert is_sliced(8, 4, 2) and not is_sliced(8, 2, 2)


@pytest.mark.parametrize("device", ["sram", "mram"])
def test_binary_cells_cannot_hold_a_weight_in_analog(device: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_chip("neurosim-sram-22nm", [f"device.type={device}", "weights.cells_per_weight=2"])
    msg = str(info.value)
    assert "\n" not in msg and "weights.cells_per_weight" in msg and "weights.bits=8" in msg
    check_layout(8, 8, 1, device)  # sliced: fine


@pytest.mark.parametrize("device", ["pcm", "rram", "fefet"])
def test_analog_cells_may_hold_the_whole_weight(device: str) -> None:
    chip = load_chip("neurosim-sram-22nm", [f"device.type={device}", "technology.node_nm=22",
                                            "weights.cells_per_weight=2"])
    assert chip.cells_per_weight == 2


def test_cost_and_accuracy_use_the_same_cells_with_per_layer_bits() -> None:
    from imcnas.accuracy.layers import layer_config

    chip = load_chip("neurosim-rram-22nm", ["device.bits_per_cell=2", "weights.cells_per_weight=4"])
    work = _work()
    lowered = work.with_layer_bits({"fc": {"weights": 4}})
    # the explicit 4 cells hold the 4-bit layer too: same crossbars as at 8 bits, 4 slices on both sides
    assert estimate(lowered, chip).layers[0]["crossbars"] == estimate(work, chip).layers[0]["crossbars"]
    assert layer_config(chip, {"weights": 4}).layout.slices == 4
    derived = load_chip("neurosim-rram-22nm", ["device.bits_per_cell=2"])
    assert estimate(lowered, derived).layers[0]["crossbars"] < estimate(work, derived).layers[0]["crossbars"]
    assert layer_config(derived, {"weights": 4}).layout.slices == 2


def test_per_layer_bits_beyond_a_binary_layout_fail_on_both_sides() -> None:
    from imcnas.accuracy.layers import layer_config

    chip = load_chip("neurosim-sram-22nm", ["weights.bits=4", "weights.cells_per_weight=4"])
    lowered = _work().with_layer_bits({"fc": {"weights": 8}})
    with pytest.raises(ConfigError) as cost_err:
        estimate(lowered, chip)
    with pytest.raises(ConfigError) as acc_err:
        layer_config(chip, {"weights": 8})
    assert "layer 'fc'" in str(cost_err.value) and "layer bits" in str(acc_err.value)
