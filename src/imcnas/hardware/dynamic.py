"""Work outside the static crossbar layers: the digital units (per-kind split), and the dynamic matmuls
(attention's QK^T, AV) and graph aggregations that a chip may run on crossbars rewritten per inference.

* **Digital units.** ReLU-type activations, batch norm, pooling and element-wise work cost one adder op per
  traced flop (as always); softmax, layer-type norms, GELU, sigmoid-type activations and embedding lookups cost
  the ops per element of the chip's ``Digital.*_ops`` tables (I-BERT integer kernels), adds at the node's
  adder energy and multiplications at its MAC energy, one op per lane and cycle.
* **Dynamic matmuls on crossbars** (``dynamic_ops_on: crossbar``). Each instance (batch x head) of an
  m x k by k x n product writes its stationary k x n operand (K^T for QK^T, V for AV) into cells laid out as
  weights (``cols_per_weight`` cells per value), then reads it m times like a crossbar layer (the same read
  energy laws, ``reads.read_energy``). Every instance has its own subarrays, written in parallel.
* **Aggregation on crossbars** (``aggregation_on: crossbar``). The N x F node features are written into
  crossbars; each node's sum over its neighbours is one read with the neighbours' rows driven (1-bit inputs).
  With neighbours spread uniformly over T = ceil(N / rows) row tiles, a node of degree d = E / N touches
  T (1 - (1 - 1/T)^d) tiles (the expected number of distinct tiles), each read once.
* **Writes.** A resistive cell takes V_w^2 G t_w per pulse (G the mean of its on and off conductance), a FeFET
  switches its polarization 2 P_r x 2F^2 at V_w (NeuroSim V2.1 ProcessingUnit.cpp GetWriteUpdateEstimation,
  P_r = 20 uC/cm^2 Param.cpp), an SRAM cell flips both nodes (2 C_cell V_dd^2, SubArray.cpp); each written
  cell also swings its bit line (C_col V_w^2) and each row pulse its word line. Rows are written one after the
  other, a SET and a RESET pulse each (NeuroSim's row-by-row update), an SRAM row in one clock cycle.
* **Pool.** One pool of extra subarrays, sized for the largest rewritten op, serves all of them in turn, so a
  cell is written once per rewritten op and inference (``writes_per_cell``); its area is added to the chip.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from imcnas.hardware import components as K
from imcnas.hardware.params import ELEMENT_FUNCTIONS, ChipArrays
from imcnas.hardware.periphery import Subarray
from imcnas.hardware.reads import read_energy
from imcnas.workload.ops import OpKind, Workload

FEFET_POLARIZATION_UC_CM2 = 20.0  # NeuroSim V2.1 Param.cpp polarization
XBAR_PARTS = ("array", "adc", "dac", "accumulation", "write")  # energy components of rewritten crossbars
DIGITAL_PARTS = ("flops", *ELEMENT_FUNCTIONS, "dynamic_matmul", "aggregate")  # digital energy by kind


@dataclass
class Extra:
    """Prices of the non-static work, per chip (n, 1) unless said otherwise."""

    digital_energy: dict[str, np.ndarray]  # by DIGITAL_PARTS
    digital_ns: np.ndarray
    io_bits: np.ndarray  # bits moved through the buffers by the digital units
    xbar_energy: dict[str, np.ndarray]  # by XBAR_PARTS, ops on rewritten crossbars
    xbar_ns: np.ndarray  # latency of the ops on rewritten crossbars (one after the other)
    pool_subarrays: np.ndarray  # extra subarrays for rewritten crossbars
    writes_per_cell: np.ndarray  # cell writes per inference (rewritten ops)
    ops: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # rewritten ops: energy, latency (n, D)


def write_costs(c: ChipArrays, sa: Subarray, t_clk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy to write one cell (pJ), energy of one row's word-line pulses (pJ) and time to write one row (ns)."""
    vdd = c.vdd
    vw = np.where(c.write_v > 0, c.write_v, vdd)
    tw = np.where(c.write_ns > 0, c.write_ns, t_clk)
    g_avg = 0.5 * (1.0 / c.r_on + 1.0 / (c.r_on * c.on_off))
    e_res = vw**2 * g_avg * tw * 1e3  # V^2 S ns = nJ -> pJ
    e_fe = 2 * FEFET_POLARIZATION_UC_CM2 * 1e-2 * vw * 2 * (c.node * 1e-9) ** 2 * 1e12
    e_sram = 2 * sa.c_cell_ff * 1e-3 * vdd**2
    e_cell = np.where(c.is_sram, e_sram, np.where(c.is_fefet, e_fe, e_res)) + sa.c_col_ff * 1e-3 * vw**2
    e_cell = np.where(c.write_pj > 0, c.write_pj, e_cell)
    pulses = np.where(c.is_sram, 1.0, 2.0)
    return e_cell, pulses * sa.c_row_ff * 1e-3 * vdd**2, pulses * tw


def _digital(work: Workload, c: ChipArrays, t_clk: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                                             np.ndarray]:
    """Digital energy by kind, the digital units' latency and the bits they move. ReLU/BN/pool/add work keeps
    one adder op per flop, exactly as before the per-element tables."""
    dt = work.digital_totals
    e_add = K.adder_energy_pj(c.digital_bits, c.node, c.vdd)
    zero = np.zeros_like(e_add)
    energy = {"flops": dt["flops"] * e_add, **{k: zero for k in DIGITAL_PARTS[1:]}}
    cycles = dt["flops"]
    if dt["dyn_macs"] or any(dt[f"{fn}_elems"] for fn in ELEMENT_FUNCTIONS):  # none in a CNN: skipped
        e_mul = K.mac_energy_pj(c.digital_bits, c.node, c.vdd)
        dyn = dt["dyn_macs"] - np.where(c.dyn_xbar, dt["xbar_macs"], 0.0)
        cycles = cycles + dyn
        for fn in ELEMENT_FUNCTIONS:
            n = dt[f"{fn}_elems"]
            adds, mults = getattr(c, f"{fn}_adds"), getattr(c, f"{fn}_mults")
            energy[fn] = n * (adds * e_add + mults * e_mul)
            cycles = cycles + n * (adds + mults)
        energy["dynamic_matmul"] = dyn * e_mul
    if dt["agg_flops"]:
        agg = np.where(c.agg_xbar, 0.0, dt["agg_flops"])
        energy["aggregate"] = agg * e_add
        cycles = cycles + agg
    io = dt["io_elems"] * c.digital_bits + dt["embed_reads"] * c.weight_bits
    io_cycles = io / c.noc_width
    a = work.aggregate_arrays
    if a["edges"].size:
        # a gather reads each edge's feature row at its own address (irregular: whole bus transfers per row),
        # then writes each node's sum; on crossbars the features are read once to be written into cells
        words = np.ceil(a["features"] * c.digital_bits / c.noc_width)
        gather = np.where(c.agg_xbar, a["nodes"], a["edges"]) * a["features"] + a["nodes"] * a["features"]
        io = io + (gather * c.digital_bits).sum(axis=1, keepdims=True)
        io_cycles = io_cycles + (np.where(c.agg_xbar, a["nodes"], a["edges"]) * words
                                 + a["nodes"] * words).sum(axis=1, keepdims=True)
    return energy, cycles / c.lanes * t_clk + io_cycles * t_clk, io


def _crossbar(c: ChipArrays, sa: Subarray, t_clk, t_step, write, *, m, k, n, inst, deg=None):
    """Energy by component (n, D), latency (n, D) and pool subarrays (n, D) of D rewritten ops: each instance
    writes a k x n operand and reads it ``m`` times. Aggregation passes ``deg`` (neighbours per read): its
    inputs are 1-bit and only the rows of the touched tiles are read."""
    e_cell, e_row, t_row = write
    rows, cpw = c.xbar_rows, c.cols_per_weight
    C = n * cpw
    cb = np.ceil(C / c.xbar_cols)
    block_rows = np.minimum(rows, k)
    if deg is None:
        cl, rb, drive_rows = c, np.ceil(k / rows), block_rows
        cyc = c.in_cycles
    else:  # aggregation: 1-bit adjacency inputs, `deg` rows driven over the tiles it touches
        T = np.ceil(k / rows)
        rb = T * (1.0 - (1.0 - 1.0 / T) ** deg)
        one = np.ones_like(c.in_bits)
        cl = replace(c, in_bits=one, in_cycles=one, is_dac=np.zeros_like(c.is_dac), is_pwm=np.zeros_like(c.is_pwm),
                     input_ones=np.minimum(deg / np.maximum(rb, 1e-12) / block_rows, 1.0))
        drive_rows, cyc = deg / np.maximum(rb, 1e-12), one
    reads = m * cyc * inst
    calls = reads * rb * cb
    e, _ = read_energy(cl, cl, sa, calls, reads * rb * C * sa.n_add, reads * rb * C * block_rows,
                       reads * rb * drive_rows * cb, m * inst * n * np.maximum(rb - 1, 0.0))
    e["write"] = inst * k * C * e_cell + inst * k * cb * e_row
    t_read = np.where(sa.sense_amp, 0.0, c.t_read_ns) * cyc * sa.n_add
    t = np.minimum(k, rows) * t_row + m * (cyc * sa.n_add * c.cols_per_adc * t_step + t_read)
    pool = inst * np.ceil(k / rows) * cb
    return e, t, pool


def price_extra(work: Workload, c: ChipArrays, sa: Subarray, t_clk: np.ndarray, t_step: np.ndarray) -> Extra:
    """Price the digital units' work and the dynamic matmuls / aggregations of ``work`` on every chip."""
    dig_e, dig_t, io = _digital(work, c, t_clk)
    zero = np.zeros_like(t_clk)
    out = Extra(dig_e, dig_t, io, {k: zero for k in XBAR_PARTS}, zero, zero, zero)
    d, a = work.dynamic_arrays, work.aggregate_arrays
    run_dyn = bool(d["m"].size) and bool(c.dyn_xbar.any())
    run_agg = bool(a["edges"].size) and bool(c.agg_xbar.any())
    if not (run_dyn or run_agg):
        return out
    write = write_costs(c, sa, t_clk)
    parts = []
    if run_dyn:
        e, t, pool = _crossbar(c, sa, t_clk, t_step, write, m=d["m"][None, :], k=d["k"][None, :],
                               n=d["n"][None, :], inst=d["inst"][None, :])
        parts.append(("dynamic", c.dyn_xbar, e, t, pool))
    if run_agg:
        N, F = a["nodes"][None, :], a["features"][None, :]
        e, t, pool = _crossbar(c, sa, t_clk, t_step, write, m=N, k=N, n=F, inst=np.ones_like(N),
                               deg=a["edges"][None, :] / N)
        parts.append(("aggregate", c.agg_xbar, e, t, pool))
    xe = {k: zero for k in XBAR_PARTS}
    xt, pools, writes = zero, zero, zero
    for name, on, e, t, pool in parts:
        for k in XBAR_PARTS:
            xe[k] = xe[k] + np.where(on, e[k].sum(axis=1, keepdims=True), 0.0)
        xt = xt + np.where(on, t.sum(axis=1, keepdims=True), 0.0)
        pools = np.maximum(pools, np.where(on, pool.max(axis=1, keepdims=True), 0.0))
        writes = writes + np.where(on, float(t.shape[1]), 0.0)
        out.ops[name] = {"xbar_energy": e, "xbar_ns": t, "on_xbar": on}
    out.xbar_energy, out.xbar_ns, out.pool_subarrays, out.writes_per_cell = xe, xt, pools, writes
    return out


def op_rows(work: Workload, c: ChipArrays, p: dict, i: int = 0) -> list[dict]:
    """One row per dynamic matmul and aggregation of ``work`` on chip ``i`` of a ``cost.price`` result: where
    it ran (``unit``: crossbar / digital), its energy (pJ, the write share apart) and latency (ns; a digital
    op's compute cycles, its operand traffic is in the buffer totals)."""
    ops = work.rewritable_ops
    if not ops:
        return []
    b = float(max(work.batch, 1))
    lanes, t_clk, scale = float(c.lanes[i, 0]), float(p["clock_ns"][i]), float(c.energy_overhead[i, 0])
    e_mul = float(K.mac_energy_pj(c.digital_bits, c.node, c.vdd)[i, 0])
    e_add = float(K.adder_energy_pj(c.digital_bits, c.node, c.vdd)[i, 0])
    xbar = {}  # per kind: (energy, write energy, latency) lists of the ops on rewritten crossbars
    for name, pr in p.get("extra_ops", {}).items():
        if bool(pr["on_xbar"][i, 0]):
            xbar[name] = ((sum(pr["xbar_energy"].values())[i] * scale).tolist(),
                          (pr["xbar_energy"]["write"][i] * scale).tolist(), pr["xbar_ns"][i].tolist())
    rows, idx = [], {"dynamic": 0, "aggregate": 0}
    for o, shaped in ops:
        dyn = o.kind is OpKind.DYNAMIC_MATMUL
        name = "dynamic" if dyn else "aggregate"
        row = {"name": o.name, "op": o.kind.value, "module": o.module, "macs": o.macs / b, "flops": o.flops / b}
        if shaped and name in xbar:
            e, w, t = (v[idx[name]] for v in xbar[name])
            row.update(unit="crossbar", energy_pj=e, write_energy_pj=w, latency_ns=t)
        else:
            n = (o.macs if dyn else o.flops) / b
            row.update(unit="digital", energy_pj=n * (e_mul if dyn else e_add) * scale, write_energy_pj=0.0,
                       latency_ns=n / lanes * t_clk)
        idx[name] += shaped
        rows.append(row)
    return rows
