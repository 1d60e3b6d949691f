"""Technology table and component laws: exact at table nodes, interpolated only between them, and monotone
where physics says so (node, ADC bits, array size, parallel rows)."""
from __future__ import annotations

import numpy as np
import pytest

from imcnas.errors import ConfigError
from imcnas.hardware import estimate, load_chip
from imcnas.hardware import components as K
from imcnas.hardware import sense_amp as S
from imcnas.hardware import technology as T
from imcnas.workload.table import from_layer_table

VGG = from_layer_table("vgg-ish", [dict(in_hw=32, in_c=3, k=3, out_c=64), dict(in_hw=32, in_c=64, k=3, out_c=64),
                                   dict(in_hw=16, in_c=64, k=3, out_c=128), dict(in_hw=8, in_c=128, k=8, out_c=10)],
                       positions="valid")


def test_table_values_exact_at_table_nodes() -> None:
    for i, node in enumerate(T.NODES_NM):
        assert T.vdd(node) == pytest.approx(T.VDD_V[i])
        assert T.cgate_ff(node) == pytest.approx(T.CGATE_MIN_FF[i])
        assert T.sram_cell_f2(node) == pytest.approx(T.SRAM_CELL_H_F[i] * T.SRAM_CELL_W_F[i])
    # NeuroSim's published anchors: 0.85 V at 22 nm, 10F x 28F bit cell, 16F x 34.43F at 7 nm
    assert T.vdd(22) == 0.85 and T.sram_cell_f2(22) == 280 and T.sram_cell_f2(7) == pytest.approx(16 * 34.43)


def test_between_nodes_values_lie_between_their_neighbours() -> None:
    for lo, hi in zip(T.NODES_NM[1:], T.NODES_NM[:-1]):
        mid = np.sqrt(lo * hi)
        for fn in (T.vdd, T.cgate_ff, T.gate_area_um2, T.ion_ua):
            a, b, m = fn(lo), fn(hi), fn(mid)
            assert min(a, b) - 1e-12 <= m <= max(a, b) + 1e-12, (fn.__name__, lo, hi)


def test_gate_area_and_supply_fall_with_the_node() -> None:
    area = T.gate_area_um2(T.NODES_NM)
    assert (np.diff(area) < 0).all()  # 130 -> 1 nm: smaller every step, despite layout rules growing in F
    assert (np.diff(T.VDD_V) <= 0).all()


def test_sense_amp_slower_with_larger_reference_resistance_and_column_power_falls_with_r() -> None:
    # above NeuroSim's table threshold (few kOhm) sensing slows linearly with the reference resistance
    r = np.array([1e4, 3e4, 1e5, 3e5])
    for node in (130, 45, 22, 7, 1):
        t = S.sensing_time_ns(node, r, 10.0)
        assert (np.diff(t) > 0).all(), node
        p = S.column_power_uw(node, r, 0.5)
        assert (np.diff(p) <= 0).all(), node


@pytest.mark.parametrize("preset", ["neurosim-sram-22nm", "neurosim-rram-22nm"])
def test_chip_energy_and_area_fall_with_the_node(preset: str) -> None:
    nodes = [130, 90, 65, 45, 32, 22] + ([14, 10, 7, 5] if "sram" in preset else [])
    reps = [estimate(VGG, load_chip(preset, [f"technology.node_nm={n}"])) for n in nodes]
    assert all(b.area_mm2 < a.area_mm2 for a, b in zip(reps, reps[1:])), [r.area_mm2 for r in reps]
    assert all(b.energy_pj < a.energy_pj for a, b in zip(reps, reps[1:])), [r.energy_pj for r in reps]


@pytest.mark.parametrize("law", ["sense_amp", "survey", "saberi"])
def test_adc_energy_and_area_rise_with_bits(law: str) -> None:
    reps = [estimate(VGG, load_chip("neurosim-sram-22nm", [f"adc.law={law}", f"adc.bits={b}"])) for b in range(3, 9)]
    for key in ("adc",):
        e = [r.energy_breakdown_pj[key] for r in reps]
        a = [r.area_breakdown_mm2[key] for r in reps]
        assert (np.diff(e) > 0).all() and (np.diff(a) > 0).all(), (e, a)


def test_larger_subarrays_need_fewer_adcs_and_reads() -> None:
    reps = [estimate(VGG, load_chip("neurosim-sram-22nm", [f"crossbar.rows={n}", f"crossbar.parallel_rows={n}"]))
            for n in (64, 128, 256, 512)]
    adc_energy = [r.energy_breakdown_pj["adc"] for r in reps]
    assert (np.diff(adc_energy) < 0).all(), adc_energy


def test_fewer_parallel_rows_slow_the_clock_and_cost_conversions() -> None:
    reps = [estimate(VGG, load_chip("neurosim-sram-22nm", [f"crossbar.parallel_rows={p}"])) for p in (128, 64, 32, 16)]
    assert all(b.clock_ns >= a.clock_ns for a, b in zip(reps, reps[1:]))
    assert all(b.energy_breakdown_pj["adc"] > a.energy_breakdown_pj["adc"] for a, b in zip(reps, reps[1:]))
    assert all(b.tops < a.tops for a, b in zip(reps, reps[1:]))


def test_clock_comes_from_the_circuits_and_a_cap_only_slows_it() -> None:
    fast = estimate(VGG, load_chip("neurosim-sram-22nm", ["crossbar.parallel_rows=128", "adc.bits=3"]))
    slow = estimate(VGG, load_chip("neurosim-sram-22nm", ["crossbar.parallel_rows=16", "adc.bits=6"]))
    assert 0.5 < fast.clock_ns < slow.clock_ns < 20
    capped = estimate(VGG, load_chip("neurosim-sram-22nm", ["technology.clock_ghz=0.1"]))
    assert capped.clock_ns == pytest.approx(10.0)


def test_neurosim_mux_decoder_sizing_only_in_compat_mode() -> None:
    # NeuroSim sizes the mux decoder's driver by a per-node table that is minimum size from 32 nm up: a
    # multi-ns read cycle there (its own runs: 9.5 ns at 45 nm); sized to its load by default
    base = ["technology.node_nm=45", "crossbar.parallel_rows=128", "adc.bits=4"]
    compat = estimate(VGG, load_chip("neurosim-sram-22nm", base))
    sized = estimate(VGG, load_chip("neurosim-sram-22nm", [*base, "calibration.neurosim_compat=false"]))
    assert compat.clock_ns > 3 * sized.clock_ns


def test_pulse_width_inputs_need_no_dac() -> None:
    pwm = estimate(VGG, load_chip("pcm-14nm"))
    dac = estimate(VGG, load_chip("pcm-14nm", ["inputs.scheme=dac", "inputs.dac_bits=8"]))
    assert pwm.area_breakdown_mm2["dac"] < 0.25 * dac.area_breakdown_mm2["dac"]
    assert load_chip("pcm-14nm").input_cycles == 1


def test_gate_units_scale_energy_with_the_supply() -> None:
    assert K.gate_load_pj(22, 1.0) == pytest.approx(K.gate_load_pj(22, 0.5) * 4)


@pytest.mark.parametrize("node, device, ok", [(1, "sram", True), (130, "sram", True), (22, "rram", True),
                                              (14, "rram", False), (14, "pcm", True), (10, "pcm", False)])
def test_node_range_per_device(node: float, device: str, ok: bool) -> None:
    over = [f"device.type={device}", f"technology.node_nm={node}"]
    if ok:
        assert load_chip("neurosim-sram-22nm", over).technology.node_nm == node
    else:
        with pytest.raises(ConfigError) as info:
            load_chip("neurosim-sram-22nm", over)
        msg = str(info.value)
        assert "\n" not in msg and "node_nm" in msg and device in msg


def test_the_cost_model_imports_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, imcnas, imcnas.hardware.cost, imcnas.hardware.evidence; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
