"""The cost model on hand-built workloads: directions of the laws, proportionalities, batch == single, reports."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imcnas.errors import MappingError
from imcnas.hardware import CostReport, estimate, estimate_batch, list_presets, load_chip
from imcnas.workload.table import from_layer_table

CROSSBAR_PARTS = ("array", "adc", "dac", "accumulation")  # energies paid per input vector


@pytest.fixture()
def small_net():
    """Three layers: a conv, a strided conv and a classifier, 6.5 M MACs."""
    return from_layer_table("small", [dict(in_hw=16, in_c=32, k=3, out_c=64),
                                      dict(in_hw=16, in_c=64, k=3, out_c=64, stride=2),
                                      dict(in_hw=8, in_c=64, k=8, out_c=10)])


# ------------------------------------------------------------------------------------------------ ADC
@pytest.mark.parametrize("law, rate_ghz", [
    ("survey", 1.0),
    ("survey", 0.1),
    ("saberi", 1.0), ("saberi", 0.1),
    ("sense_amp", 1.0), ("sense_amp", 0.1),
])
def test_adc_energy_rises_with_bits(chip, workload, matrix_op, law, rate_ghz) -> None:
    w = workload(matrix_op("conv", rows=128, cols=16, vectors=64))
    adc = [estimate(w, chip("neurosim-sram-22nm", f"adc.law={law}", f"adc.sample_rate_ghz={rate_ghz}",
                            f"adc.bits={b}")).energy_breakdown_pj["adc"]
           for b in range(1, 17)]
    assert all(e > 0 for e in adc)
    steps = np.diff(adc)
    assert (steps > 0).all(), f"ADC energy not rising with bits under {law}: {np.round(adc, 1).tolist()}"


@pytest.mark.parametrize("law", ["saberi", "sense_amp", "survey"])
def test_adc_energy_rises_from_8_bits_up(chip, workload, matrix_op, law) -> None:
    w = workload(matrix_op("conv", rows=128, cols=16, vectors=64))
    adc = [estimate(w, chip("neurosim-sram-22nm", f"adc.law={law}", f"adc.bits={b}")).energy_breakdown_pj["adc"]
           for b in (8, 10, 12)]
    assert adc[0] < adc[1] < adc[2]


@pytest.mark.parametrize("k", [4, 8])
def test_fewer_parallel_rows_cost_more_adc_energy_and_time(chip, workload, matrix_op, k) -> None:
    w = workload(matrix_op("conv", rows=128, cols=16, vectors=256))
    full = estimate(w, chip("neurosim-sram-22nm", "crossbar.parallel_rows=128"))
    part = estimate(w, chip("neurosim-sram-22nm", f"crossbar.parallel_rows={128 // k}"))
    # k times the conversions; each costs about as much (the sense amp's references and column current change
    # with the rows it reads: NeuroSim's 32-row reads cost 5.6x the 128-row reads at 5 bits, VGG-8)
    assert 0.8 * k < part.energy_breakdown_pj["adc"] / full.energy_breakdown_pj["adc"] < 2 * k
    # k times the read steps, each at a cycle that is slower when fewer rows are sensed (smaller currents)
    ratio = part.latency_ns / full.latency_ns
    assert part.clock_ns >= full.clock_ns
    assert 1.0 < ratio <= k * part.clock_ns / full.clock_ns * (1 + 1e-9)
    # the array itself does the same work either way
    assert part.energy_breakdown_pj["array"] == pytest.approx(full.energy_breakdown_pj["array"], rel=1e-9)


def test_default_parallel_rows_is_all_rows(chip, workload, matrix_op) -> None:
    w = workload(matrix_op("conv", rows=128, cols=16, vectors=256))
    a = estimate(w, chip("neurosim-sram-22nm", "crossbar.parallel_rows=null"))
    b = estimate(w, chip("neurosim-sram-22nm", "crossbar.parallel_rows=128"))
    assert a.energy_pj == pytest.approx(b.energy_pj, rel=1e-12) and a.latency_ns == pytest.approx(b.latency_ns)


# ------------------------------------------------------------------------------------------------ workload scaling
@pytest.mark.parametrize("preset", ["neurosim-sram-22nm", "isaac-32nm", "pcm-14nm"])
def test_strided_layer_costs_proportionally_less(chip, preset) -> None:
    dense = from_layer_table("s1", [dict(in_hw=16, in_c=32, k=3, out_c=64, stride=1)])
    strided = from_layer_table("s2", [dict(in_hw=16, in_c=32, k=3, out_c=64, stride=2)])
    assert dense.matrix_ops[0].vectors == 4 * strided.matrix_ops[0].vectors
    c = chip(preset)
    d, s = estimate(dense, c), estimate(strided, c)
    for part in CROSSBAR_PARTS:
        if d.energy_breakdown_pj[part] > 0:
            assert d.energy_breakdown_pj[part] / s.energy_breakdown_pj[part] == pytest.approx(4, rel=1e-9), part
    assert d.layers[0]["energy_pj"] / s.layers[0]["energy_pj"] == pytest.approx(4, rel=0.15)
    assert s.energy_pj < d.energy_pj
    assert s.latency_ns < d.latency_ns
    assert s.area_mm2 == pytest.approx(d.area_mm2, rel=1e-12)  # same weights, same crossbars


def test_energy_is_additive_over_independent_layers(chip, workload, matrix_op) -> None:
    c = chip("neurosim-sram-22nm")
    a, b = matrix_op("a", rows=128, cols=16, vectors=64), matrix_op("b", rows=300, cols=64, vectors=16)
    one, two, both = estimate(workload(a), c), estimate(workload(b), c), estimate(workload(a, b), c)
    for part in CROSSBAR_PARTS:
        assert both.energy_breakdown_pj[part] == pytest.approx(
            one.energy_breakdown_pj[part] + two.energy_breakdown_pj[part], rel=1e-9), part


def test_batch_is_divided_out(chip, workload, matrix_op) -> None:
    c = chip("neurosim-sram-22nm")
    single = workload(matrix_op("a", rows=128, cols=16, vectors=64, in_shape=(1, 128, 8, 8),
                                out_shape=(1, 16, 8, 8)))
    double = workload(matrix_op("a", rows=128, cols=16, vectors=128, in_shape=(2, 128, 8, 8),
                                out_shape=(2, 16, 8, 8)), batch=2)
    s, d = estimate(single, c), estimate(double, c)
    for key in ("energy_pj", "latency_ns", "area_mm2", "tops", "macs"):
        assert d.totals[key] == pytest.approx(s.totals[key], rel=1e-9), key


# ------------------------------------------------------------------------------------------------ headline figures
@pytest.mark.parametrize("preset", ["neurosim-sram-22nm", "isaac-32nm", "pcm-14nm"])
def test_tops_counts_two_ops_per_mac(chip, small_net, preset) -> None:
    macs = sum(o.macs for o in small_net.matrix_ops)
    assert macs == 16 * 16 * 9 * 32 * 64 + 8 * 8 * 9 * 64 * 64 + 8 * 8 * 64 * 10
    r = estimate(small_net, chip(preset))
    assert r.macs == macs
    assert r.tops == pytest.approx(2 * macs / (r.period_ns * 1e-9) / 1e12, rel=1e-9)
    assert r.tops_per_w == pytest.approx(2 * macs / (r.energy_pj * 1e-12) / 1e12, rel=1e-9)
    assert r.tops_per_mm2 == pytest.approx(r.tops / r.area_mm2, rel=1e-9)
    assert r.period_ns <= r.latency_ns * (1 + 1e-12)


def test_report_dict(chip, small_net) -> None:
    r = estimate(small_net, chip("neurosim-sram-22nm"))
    assert isinstance(r, CostReport)
    d = r.to_dict()
    for key in ("energy_pj", "latency_ns", "area_mm2", "tops", "tops_per_w", "tops_per_mm2"):
        assert isinstance(d[key], float) and math.isfinite(d[key]) and d[key] > 0, key
    assert set(d["breakdown"]) >= {"energy_pj", "area_mm2"}
    energy, area = d["breakdown"]["energy_pj"], d["breakdown"]["area_mm2"]
    assert {"array", "adc"} <= set(energy) and {"array", "adc"} <= set(area)
    assert all(v >= 0 for v in (*energy.values(), *area.values()))
    assert sum(energy.values()) == pytest.approx(d["energy_pj"], rel=1e-9)
    assert sum(area.values()) == pytest.approx(d["area_mm2"], rel=1e-9)
    assert [L["name"] for L in d["layers"]] == ["layer1", "layer2", "layer3"]
    for L in d["layers"]:
        assert L["crossbars"] >= 1 and L["energy_pj"] > 0 and L["latency_ns"] > 0
    assert sum(L["energy_pj"] for L in d["layers"]) < d["energy_pj"]
    json.loads(json.dumps(d, allow_nan=False))
    assert r.energy_pj == d["energy_pj"]  # totals read as attributes


# ------------------------------------------------------------------------------------------------ batch == single
def _variety() -> list:
    chips = [load_chip(p, ["hierarchy.tiles=auto"]) for p in list_presets()]
    chips += [
        load_chip("neurosim-sram-22nm", ["adc.law=survey", "adc.bits=7"]),
        load_chip("neurosim-sram-22nm", ["adc.law=saberi", "crossbar.parallel_rows=8", "weights.signed=differential"]),
        load_chip("isaac-32nm", ["mapping.duplication=2", "mapping.pipeline=false", "technology.node_nm=22"]),
        load_chip("neurosim-sram-22nm", ["technology.node_nm=3", "inputs.scheme=pulse_width", "adc.law=survey"]),
        load_chip("pcm-14nm", ["inputs.scheme=bit_serial", "crossbar.rows=64", "hierarchy.layer_per_tile=true"]),
        load_chip("neurosim-rram-22nm", ["device.type=fefet", "device.bits_per_cell=3", "hierarchy.tiles=400"]),
    ]
    return chips


def test_estimate_batch_equals_estimate(small_net) -> None:
    chips = _variety()
    table = estimate_batch(small_net, chips)
    assert len(table) == len(chips)
    assert list(table.chips) == [c.display_name for c in chips]
    assert "jia-sram-65nm[hierarchy.tiles=auto]" in list(table.chips)  # variants are named by their overrides
    for i, c in enumerate(chips):
        r = estimate(small_net, c)
        for key in ("energy_pj", "latency_ns", "area_mm2", "tops", "tops_per_w"):
            assert table[key][i] == pytest.approx(r.totals[key], rel=1e-9), (c.name, key)
        for part, value in r.energy_breakdown_pj.items():
            assert table[f"energy_{part}_pj"][i] == pytest.approx(value, rel=1e-9, abs=1e-12), (c.name, part)
        assert table["feasible"][i] == 1
    # order does not matter
    back = estimate_batch(small_net, chips[::-1])
    np.testing.assert_allclose(back["energy_pj"][::-1], table["energy_pj"], rtol=1e-12)
    records = table.to_records()
    assert records[0]["chip"] == chips[0].name and records[0]["energy_pj"] == table["energy_pj"][0]


def test_estimate_batch_accepts_names(small_net) -> None:
    table = estimate_batch(small_net, ["neurosim-sram-22nm", load_chip("neurosim-sram-22nm")])
    assert table["energy_pj"][0] == table["energy_pj"][1]


# ------------------------------------------------------------------------------------------------ fixed tiles
def test_too_few_fixed_tiles(chip, workload, matrix_op) -> None:
    # the floorplan decides how many tiles the two layers need; one fewer does not fit
    w = workload(matrix_op("small", rows=128, cols=16, vectors=64), matrix_op("big", rows=1152, cols=256, vectors=16))
    auto = chip("neurosim-sram-22nm")
    need = int(estimate(w, auto).tiles)
    assert need >= 2
    tight = chip("neurosim-sram-22nm", f"hierarchy.tiles={need - 1}")
    with pytest.raises(MappingError) as info:
        estimate(w, tight)
    msg = str(info.value)
    assert "'big'" in msg and "\n" not in msg and info.value.exit_code == 2
    roomy = chip("neurosim-sram-22nm", f"hierarchy.tiles={need + 2}")
    assert estimate(w, roomy).tiles == need + 2
    table = estimate_batch(w, [auto, tight, roomy])
    assert table["feasible"].tolist() == [1, 0, 1]
    assert np.isfinite(table["energy_pj"]).all()


def test_fixed_tiles_pay_area_for_all_tiles(chip, workload, matrix_op) -> None:
    w = workload(matrix_op("small", rows=128, cols=16, vectors=64))
    one = estimate(w, chip("neurosim-sram-22nm", "hierarchy.tiles=1"))
    ten = estimate(w, chip("neurosim-sram-22nm", "hierarchy.tiles=10"))
    assert ten.area_breakdown_mm2["array"] == pytest.approx(10 * one.area_breakdown_mm2["array"], rel=1e-9)
    assert ten.energy_breakdown_pj["adc"] == pytest.approx(one.energy_breakdown_pj["adc"], rel=1e-9)


# ------------------------------------------------------------------------------------------------ technology
@pytest.mark.parametrize("preset", list_presets())
def test_larger_node_costs_more_energy_and_area(small_net, preset) -> None:
    base = load_chip(preset, ["hierarchy.tiles=auto"])
    node = base.technology.node_nm
    if node * 2 > 130:
        base, node = load_chip(base, [f"technology.node_nm={node / 2}"]), node / 2
    big = load_chip(base, [f"technology.node_nm={node * 2}"])
    a, b = estimate(small_net, base), estimate(small_net, big)
    assert b.energy_pj > a.energy_pj
    assert b.area_mm2 > a.area_mm2
    if node >= 22:  # cells keep their size in F from 22 nm up (NeuroSim Param.cpp), so arrays scale as F^2
        assert b.area_breakdown_mm2["array"] == pytest.approx(a.area_breakdown_mm2["array"] * (big.technology.node_nm
                                                                                               / node) ** 2, rel=1e-9)


def test_larger_crossbar_needs_fewer_crossbars_and_adcs_per_weight(chip, small_net) -> None:
    a = estimate(small_net, chip("neurosim-sram-22nm", "crossbar.parallel_rows=null"))
    b = estimate(small_net, chip("neurosim-sram-22nm", "crossbar.rows=256", "crossbar.parallel_rows=null"))
    assert sum(L["crossbars"] for L in b.layers) < sum(L["crossbars"] for L in a.layers)
    assert b.energy_breakdown_pj["adc"] < a.energy_breakdown_pj["adc"]


def test_layer_areas_sum_to_the_tiled_part_of_the_chip(chip, workload, matrix_op) -> None:
    w = workload(matrix_op("a", rows=600, cols=64, vectors=16), matrix_op("b", rows=64, cols=10, vectors=1))
    r = estimate(w, chip("neurosim-rram-22nm"))
    layer_sum = sum(L["area_mm2"] for L in r.layers)
    tiled = r.area_mm2 - r.area_breakdown_mm2["digital"]
    assert layer_sum == pytest.approx(tiled, rel=1e-9)
    assert r.layers[0]["area_mm2"] > r.layers[1]["area_mm2"] > 0


# ------------------------------------------------------------------------------------------ per-layer bits
def test_per_layer_bits_price_like_a_chip_wide_setting(chip) -> None:
    from imcnas.hardware import estimate
    from tests.conftest import make_matrix_op, make_workload

    work = make_workload(make_matrix_op("a", 300, 64, 100), make_matrix_op("b", 128, 200, 50))
    base = chip("neurosim-rram-22nm")
    low = chip("neurosim-rram-22nm", "weights.bits=4", "inputs.bits=4")
    per_layer = estimate(work.with_layer_bits({"a": {"weights": 4, "inputs": 4},
                                               "b": {"weights": 4, "inputs": 4}}), base)
    whole = estimate(work, low)
    dense = estimate(work, base)
    assert [l["crossbars"] for l in per_layer.layers] == [l["crossbars"] for l in whole.layers]
    assert per_layer.energy_pj == pytest.approx(whole.energy_pj, rel=0.01)
    assert per_layer.latency_ns == pytest.approx(whole.latency_ns, rel=1e-9)
    assert per_layer.energy_pj < dense.energy_pj
    # only one layer at low precision: only its crossbars shrink
    one = estimate(work.with_layer_bits({"a": {"weights": 4}}), base)
    assert one.layers[0]["crossbars"] < dense.layers[0]["crossbars"]
    assert one.layers[1]["crossbars"] == dense.layers[1]["crossbars"]


def test_per_layer_bits_unknown_layer_is_a_config_error() -> None:
    from imcnas.errors import ConfigError
    from tests.conftest import make_matrix_op, make_workload

    with pytest.raises(ConfigError, match="no crossbar layer named 'zz'"):
        make_workload(make_matrix_op("a", 8, 8, 1)).with_layer_bits({"zz": {"weights": 4}})
