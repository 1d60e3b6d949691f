"""Transformer and GNN operations in the cost model (issue 11): per-element digital functions, dynamic matmuls
on digital units or on crossbars rewritten per inference (writes, endurance), graph aggregation both ways."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import imcnas
from imcnas.errors import ConfigError
from imcnas.hardware import components as K
from imcnas.hardware import estimate, estimate_batch, load_chip
from imcnas.workload.ops import Op, OpKind, Workload

BASE = "neurosim-sram-22nm"


def _elem_op(kind: OpKind, module: str, n: int, per_elem: float) -> Op:
    return Op(name=f"{module}0", kind=kind, module=module, elements=n, flops=int(per_elem * n), in_shape=(n,),
              out_shape=(n,))


# the floorplan needs one crossbar layer; it costs the same in every comparison below
_FC = Op(name="fc", kind=OpKind.MATRIX, module="Linear", rows=64, cols=16, vectors=1, macs=64 * 16)


def _work(*ops: Op) -> Workload:
    return Workload(name="hand", ops=(_FC, *ops))


def _unit_energies(chip) -> tuple[float, float]:
    """The chip's adder and multiplier (MAC) energy with its energy overhead, pJ."""
    b, node, vdd = chip.digital.bits, chip.technology.node_nm, chip.technology.vdd
    scale = chip.calibration.energy_overhead
    return (float(K.adder_energy_pj(b, node, vdd)) * scale, float(K.mac_energy_pj(b, node, vdd)) * scale)


# ------------------------------------------------------------------------------------- per-element functions
@pytest.mark.parametrize("kind, module, fn", [(OpKind.SOFTMAX, "Softmax", "softmax"),
                                              (OpKind.ACTIVATION, "GELU", "gelu"),
                                              (OpKind.ACTIVATION, "gelu", "gelu"),
                                              (OpKind.ACTIVATION, "SiLU", "sigmoid"),
                                              (OpKind.NORM, "LayerNorm", "norm"),
                                              (OpKind.NORM, "rms_norm", "norm")])
def test_element_functions_use_the_table_and_scale_linearly(kind, module, fn) -> None:
    chip = load_chip(BASE)
    e_add, e_mul = _unit_energies(chip)
    table = getattr(chip.digital, f"{fn}_ops")
    got = []
    for n in (1000, 2000, 8000):
        rep = estimate(_work(_elem_op(kind, module, n, 4.0)), chip)
        got.append(rep.digital_breakdown_pj[fn])
        assert rep.digital_breakdown_pj["flops"] == 0.0  # not priced per traced flop
        assert got[-1] == pytest.approx(n * (table.adds * e_add + table.mults * e_mul), rel=1e-12)
    assert got[1] == pytest.approx(2 * got[0], rel=1e-12) and got[2] == pytest.approx(8 * got[0], rel=1e-12)
    # the table is the chip's: more multiplications per element cost exactly that many more MAC energies
    more = load_chip(BASE, [f"digital.{fn}_ops.mults={table.mults + 2}"])
    rep2 = estimate(_work(_elem_op(kind, module, 1000, 4.0)), more)
    assert rep2.digital_breakdown_pj[fn] - got[0] == pytest.approx(1000 * 2 * e_mul, rel=1e-9)


@pytest.mark.parametrize("kind, module, per_elem", [(OpKind.ACTIVATION, "ReLU", 1.0), (OpKind.NORM, "BatchNorm2d", 2.0),
                                                    (OpKind.POOL, "MaxPool2d", 4.0), (OpKind.ELEMENTWISE, "add", 1.0)])
def test_cnn_functions_keep_one_adder_op_per_flop(kind, module, per_elem) -> None:
    chip = load_chip(BASE, ["digital.softmax_ops.adds=100", "digital.norm_ops.adds=100"])
    e_add, _ = _unit_energies(chip)
    rep = estimate(_work(_elem_op(kind, module, 4096, per_elem)), chip)
    assert rep.energy_breakdown_pj["digital"] == pytest.approx(4096 * per_elem * e_add, rel=1e-12)
    assert rep.digital_breakdown_pj["flops"] == rep.energy_breakdown_pj["digital"]


def test_embedding_lookups_cost_per_word() -> None:
    chip = load_chip(BASE)
    e_add, _ = _unit_energies(chip)
    op = Op(name="emb", kind=OpKind.EMBEDDING, module="Embedding", rows=1000, cols=64, vectors=128)
    rep = estimate(_work(op), chip)
    assert rep.digital_breakdown_pj["embedding"] == pytest.approx(128 * 64 * chip.digital.embedding_ops.adds * e_add)


# ------------------------------------------------------------------------------------- dynamic matmuls
def _encoder(seq: int, dim: int = 64, heads: int = 4) -> Workload:
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(dim, heads, 2 * dim, batch_first=True, activation="gelu").eval()
    return imcnas.trace(layer, torch.zeros(1, seq, dim), name=f"encoder-{seq}")


@pytest.fixture(scope="module")
def encoders() -> dict[int, Workload]:
    return {s: _encoder(s) for s in (16, 32, 64)}


@pytest.mark.parametrize("device", ["sram", "mram"])
def test_dynamic_matmuls_on_crossbars_write_k_times_n_cells(encoders, device) -> None:
    chip = load_chip(BASE, [f"device.type={device}", "dynamic_ops_on=crossbar"])
    writes = []
    for seq, work in encoders.items():
        rep = estimate(work, chip)
        rows = {r["name"]: r for r in rep.dynamic_ops}
        assert set(rows) == {"self_attn.qk", "self_attn.av"}
        assert all(r["unit"] == "crossbar" and r["write_energy_pj"] > 0 for r in rows.values())
        assert rep.digital_breakdown_pj["dynamic_matmul"] == 0.0
        assert rep.energy_breakdown_pj["write"] == pytest.approx(sum(r["write_energy_pj"] for r in rows.values()))
        writes.append(rep.energy_breakdown_pj["write"])
    # K^T (head_dim x seq) and V (seq x head_dim) per head: k x n cells grow as the sequence
    assert writes[1] == pytest.approx(2 * writes[0], rel=1e-9)
    assert writes[2] == pytest.approx(4 * writes[0], rel=1e-9)


def test_dynamic_matmuls_stay_digital_by_default(encoders) -> None:
    work = encoders[32]
    dig = estimate(work, load_chip(BASE))
    assert [r["unit"] for r in dig.dynamic_ops] == ["digital", "digital"]
    assert dig.energy_breakdown_pj["write"] == 0.0
    _, e_mul = _unit_energies(load_chip(BASE))
    assert dig.digital_breakdown_pj["dynamic_matmul"] == pytest.approx(work.digital_totals["dyn_macs"] * e_mul)
    xbar = estimate(work, load_chip(BASE, ["dynamic_ops_on=crossbar"]))
    assert xbar.area_mm2 > dig.area_mm2  # the rewritten subarrays are extra silicon
    assert xbar.energy_breakdown_pj["adc"] > dig.energy_breakdown_pj["adc"]


@pytest.mark.parametrize("device", ["rram", "pcm", "fefet"])
def test_endurance_limited_device_is_refused(encoders, device) -> None:
    chip = load_chip(BASE, [f"device.type={device}", "dynamic_ops_on=crossbar"])
    with pytest.raises(ConfigError) as err:
        estimate(encoders[16], chip)
    msg = str(err.value)
    assert "\n" not in msg
    endurance = chip.device.endurance_cycles
    assert f"device {device} endures {endurance:.3g}" in msg and "2 times per inference" in msg
    assert f"{2 * chip.lifetime_inferences:.3g} times" in msg
    # digitally it is fine, and so is a lifetime the endurance covers
    estimate(encoders[16], load_chip(BASE, [f"device.type={device}"]))
    estimate(encoders[16], chip.model_copy(update={"lifetime_inferences": endurance / 2}))


def test_batch_marks_worn_out_chips_infeasible(encoders) -> None:
    chips = [load_chip(BASE, [f"device.type={d}", "dynamic_ops_on=crossbar"]) for d in ("sram", "rram", "mram")]
    chips.append(load_chip(BASE, ["device.type=rram"]))
    t = estimate_batch(encoders[16], chips)
    assert t["feasible"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert t["lifetime_writes_per_cell"].tolist() == [2e9, 2e9, 2e9, 0.0]
    single = estimate(encoders[16], chips[0])
    assert t["energy_pj"][0] == pytest.approx(single.energy_pj, rel=1e-12)


def test_a_cnn_never_needs_endurance() -> None:
    rep = estimate(_work(), load_chip(BASE, ["device.type=rram", "dynamic_ops_on=crossbar",
                                                 "aggregation_on=crossbar"]))
    assert rep.energy_breakdown_pj["write"] == 0.0


# ------------------------------------------------------------------------------------- aggregation
def _graph(edges: int, feats: int, nodes: int = 512) -> Workload:
    op = Op(name="conv1.aggr", kind=OpKind.AGGREGATE, module="SumAggregation", elements=nodes * feats,
            flops=edges * feats, in_shape=(edges, feats), out_shape=(nodes, feats), meta={"edges": edges})
    return _work(op)


def _aggr(work: Workload, chip) -> dict:
    (row,) = estimate(work, chip).dynamic_ops
    return row


def test_digital_aggregation_is_linear_in_edges_and_features() -> None:
    chip = load_chip(BASE)
    e_add, _ = _unit_energies(chip)
    base = _aggr(_graph(4096, 32), chip)
    assert base["unit"] == "digital"
    assert base["energy_pj"] == pytest.approx(4096 * 32 * e_add)
    assert _aggr(_graph(8192, 32), chip)["energy_pj"] == pytest.approx(2 * base["energy_pj"])
    assert _aggr(_graph(4096, 64), chip)["energy_pj"] == pytest.approx(2 * base["energy_pj"])
    # the gather's irregular reads: one bus transfer per edge's feature row, plus the outputs
    a, b = estimate(_graph(4096, 32), chip), estimate(_graph(8192, 32), chip)
    assert b.energy_breakdown_pj["buffer"] > a.energy_breakdown_pj["buffer"]
    assert b.latency_ns > a.latency_ns


def test_crossbar_aggregation_grows_with_edges_and_features() -> None:
    chip = load_chip(BASE, ["aggregation_on=crossbar"])
    base = _aggr(_graph(4096, 32), chip)
    assert base["unit"] == "crossbar" and base["write_energy_pj"] > 0
    # features: F x cells-per-value columns, written and converted: proportional to F (whole column tiles)
    wide = _aggr(_graph(4096, 64), chip)
    assert wide["energy_pj"] == pytest.approx(2 * base["energy_pj"], rel=1e-9)
    assert wide["write_energy_pj"] == pytest.approx(2 * base["write_energy_pj"], rel=1e-9)
    # edges: more neighbours touch more of the T = ceil(N / rows) row tiles: reads grow, writes do not
    e = [_aggr(_graph(n, 32), chip) for n in (512, 1024, 2048, 4096)]
    assert all(b["energy_pj"] > a["energy_pj"] for a, b in zip(e, e[1:]))
    assert all(b["latency_ns"] >= a["latency_ns"] for a, b in zip(e, e[1:]))
    assert len({round(r["write_energy_pj"], 6) for r in e}) == 1


def test_crossbar_aggregation_reads_the_touched_tiles() -> None:
    """Converter energy counts one read per node and touched tile: T (1 - (1 - 1/T)^deg)."""
    chip = load_chip(BASE, ["aggregation_on=crossbar", "crossbar.rows=128"])
    nodes, feats = 512, 32
    T = math.ceil(nodes / 128)
    static = estimate(_work(), chip).energy_breakdown_pj["adc"]
    adc = {}
    for edges in (512, 2048):
        rep = estimate(_graph(edges, feats, nodes), chip)
        adc[edges] = rep.energy_breakdown_pj["adc"] - static
    touched = {e: T * (1 - (1 - 1 / T) ** (e / nodes)) for e in adc}
    assert adc[2048] / adc[512] == pytest.approx(touched[2048] / touched[512], rel=1e-9)


def test_crossbar_aggregation_refused_on_rram() -> None:
    with pytest.raises(ConfigError, match="aggregation_on=crossbar rewrites each cell 1 times per inference"):
        estimate(_graph(4096, 32), load_chip(BASE, ["device.type=rram", "aggregation_on=crossbar"]))


# ------------------------------------------------------------------------------------- configuration
def test_yaml_overrides_of_the_new_fields(tmp_path) -> None:
    f = tmp_path / "chip.yaml"
    f.write_text("base: neurosim-rram-22nm\ndynamic_ops_on: crossbar\nlifetime_inferences: 1000\n"
                 "device: {write_voltage_v: 1.5, write_pulse_ns: 20, endurance_cycles: 1.0e+7}\n"
                 "digital: {softmax_ops: {adds: 2, mults: 1}}\n")
    chip = load_chip(str(f))
    assert chip.dynamic_ops_on == "crossbar" and chip.lifetime_inferences == 1000
    assert (chip.device.write_voltage_v, chip.device.write_pulse_ns, chip.device.endurance_cycles) == (1.5, 20, 1e7)
    assert (chip.digital.softmax_ops.adds, chip.digital.softmax_ops.mults) == (2, 1)
    assert chip.digital.gelu_ops == load_chip(BASE).digital.gelu_ops  # the rest of the table stays
    # a write twice as long costs more write energy per cell (V^2 G t_w)
    work = _encoder(16)
    a = estimate(work, chip).energy_breakdown_pj["write"]
    b = estimate(work, load_chip(str(f), ["device.write_pulse_ns=40"])).energy_breakdown_pj["write"]
    assert b > 1.5 * a
    fixed = load_chip(str(f), ["device.write_energy_pj=2.0"])
    assert estimate(work, fixed).energy_breakdown_pj["write"] != a


@pytest.mark.parametrize("override, field", [
    ("dynamic_ops_on=analog", "dynamic_ops_on"),
    ("aggregation_on=gpu", "aggregation_on"),
    ("lifetime_inferences=0", "lifetime_inferences"),
    ("device.endurance_cycles=0", "device.endurance_cycles"),
    ("device.write_voltage_v=-1", "device.write_voltage_v"),
    ("device.write_pulse_ns=abc", "device.write_pulse_ns"),
    ("digital.softmax_ops.adds=-1", "digital.softmax_ops.adds"),
    ("digital.gelu_ops.flops=3", "digital.gelu_ops.flops"),
])
def test_bad_values_name_the_field(override, field) -> None:
    with pytest.raises(ConfigError) as err:
        load_chip(BASE, [override])
    assert f"field '{field}'" in str(err.value) and "\n" not in str(err.value)


def test_dynamic_ops_on_is_a_search_knob(encoders) -> None:
    """``hw.dynamic_ops_on`` as a Choice: each value is a valid hardware field and builds its chip; the
    refused design fails with the one-line message (a failed trial in a co-search)."""
    from imcnas.search.preflight import _leaf_error
    from imcnas.space.build import build_chip
    from imcnas.space.params import Choice

    knob = Choice(("digital", "crossbar"))
    assert _leaf_error("dynamic_ops_on", "crossbar") is None
    assert "dynamic_ops_on" in _leaf_error("dynamic_ops_on", "analog")
    rng = np.random.default_rng(0)
    seen = {knob.sample(rng) for _ in range(50)}
    assert seen == {"digital", "crossbar"}
    cfg = SimpleNamespace(hardware="neurosim-rram-22nm", hardware_set=[])
    for value in sorted(seen):
        chip = build_chip({"hw.dynamic_ops_on": value}, cfg)
        assert chip.dynamic_ops_on == value
        if value == "crossbar":
            with pytest.raises(ConfigError, match="device rram endures"):
                estimate(encoders[16], chip)
        else:
            estimate(encoders[16], chip)
