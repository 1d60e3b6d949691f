"""The cost model: energy, latency and area of a workload on one chip or on many chips at once.

Structure follows NeuroSim V1.4 (chip -> tiles -> PEs -> subarrays, floorplan.py): each subarray has its
cell array, a sense amplifier / ADC bank shared by ``cols_per_adc`` columns, shift-adders, word-line switch
matrix, column mux and (non-volatile cells) level shifters; PEs and tiles add adder trees and register-file
buffers, tiles an H-tree, the chip a global buffer and bus. Components are priced by the laws of
components.py / sense_amp.py / adc.py on the node's technology table. Event counts follow NeuroSim: one
subarray read per (output position, input bit) for each distinct weight subarray (copies add speed, not
energy). Everything is numpy over (chips, layers).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from imcnas.hardware import components as K
from imcnas.hardware import technology as tech
from imcnas.hardware.dynamic import DIGITAL_PARTS, XBAR_PARTS, price_extra
from imcnas.hardware.floorplan import Floorplan, plan_cached
from imcnas.hardware.layout import cells_array
from imcnas.hardware.params import ChipArrays, chip_arrays
from imcnas.hardware.periphery import subarray
from imcnas.hardware.reads import clock_ns, read_energy, step_ns
from imcnas.hardware.spec import Chip
from imcnas.workload.ops import Workload

ENERGY_COMPONENTS = ("array", "adc", "dac", "accumulation", "buffer", "interconnect", "digital", "leakage", "write")
SRAM_ARRAY_EFFICIENCY = 0.7  # fraction of an SRAM buffer macro that is bit cells (decoders, sense amps: the rest)
AREA_COMPONENTS = ("array", "adc", "dac", "accumulation", "periphery", "buffer", "interconnect", "digital",
                   "whitespace")


def layer_view(c: ChipArrays, wa: dict[str, np.ndarray]) -> ChipArrays:
    """The chip as each layer sees it: per-layer weight/input bits (``Workload.with_layer_bits``) replace the
    chip's precision fields with (n, L) arrays; the cell layout comes from ``layout.cells_array``."""
    w_bits, in_bits = wa.get("w_bits"), wa.get("in_bits")
    if w_bits is None or (np.isnan(w_bits).all() and np.isnan(in_bits).all()):
        return c
    wb = np.where(np.isnan(w_bits)[None, :], c.weight_bits, w_bits[None, :])
    cells = cells_array(wb, c.cell_bits, c.cells_explicit)
    ib = np.where(np.isnan(in_bits)[None, :], c.in_bits, in_bits[None, :])
    cycles = np.where(c.is_pwm, 1.0, np.where(c.is_dac, np.ceil(ib / c.dac_bits), ib))
    return replace(c, weight_bits=wb, cells_per_weight=cells, cols_per_weight=cells * np.where(c.differential, 2, 1),
                   in_bits=ib, in_cycles=cycles)


def price(work: Workload, chip: ChipArrays) -> dict[str, Any]:
    """Price ``work`` on every chip of ``chip``. Returns arrays: per-layer (n, L) and per-chip (n,) figures."""
    wa, c = work.matrix_arrays, chip
    cl = layer_view(c, wa)
    fp: Floorplan = plan_cached(wa, work.__dict__.setdefault("_floorplans", {}), c, cl.cols_per_weight)
    sa = subarray(c)
    node, vdd = c.node, c.vdd
    gl = K.gate_load_pj(node, vdd)
    t_clk = clock_ns(c, sa)
    V = wa["vectors"][None, :]
    cyc = cl.in_cycles
    calls = V * cyc * fp.mapped_subarrays  # subarray reads
    evals = V * cyc * fp.blocks * fp.row_blocks * fp.C * sa.n_add  # column x row-group sensings (conversions)
    block_rows = np.minimum(c.xbar_rows, fp.R / fp.blocks)  # rows of a subarray holding weights
    cells_read = V * cyc * fp.blocks * fp.row_blocks * fp.C * block_rows
    drives = V * cyc * fp.blocks * fp.row_blocks * block_rows * np.ceil(fp.C / c.xbar_cols)
    outputs = V * fp.blocks * fp.C / cl.cols_per_weight
    tree_adds = outputs * np.maximum(fp.row_blocks - 1, 0.0)
    # ---- read energy per layer (pJ): cells, converters, drivers, shift-add and partial-sum accumulation
    layer_e, acc_bits = read_energy(c, cl, sa, calls, evals, cells_read, drives, tree_adds)
    # ---- area (um^2), chip-level hardware sized for the chip's own precision
    ag = K.gate_area(node)
    n_sub = fp.subarrays_allocated(c)
    tree = fp.tree_bits(c, sa.out_bits) * K.AREA_GATES["adder_bit"] * ag
    regs = fp.register_bits(c, sa.out_bits, wa["in_elems"]) * K.AREA_GATES["dff_bit"] * ag
    sram_buf = c.tile_sram * fp.chip_tiles(c)[:, None] * c.buffer_kb * 8192 * tech.sram_cell_f2(node) \
        * (node * 1e-3) ** 2 / SRAM_ARRAY_EFFICIENCY
    # work beyond the static layers: digital units by kind, dynamic matmuls / aggregation (maybe on crossbars)
    t_step = step_ns(c, sa, t_clk)
    ex = price_extra(work, c, sa, t_clk, t_step)
    n_sub = n_sub + ex.pool_subarrays  # subarrays rewritten per inference, beside the static layers' tiles
    area = {
        "array": n_sub * sa.area_array_um2,
        "adc": n_sub * sa.area["adc"],
        "dac": n_sub * sa.area["dac"],
        "accumulation": n_sub * sa.area["accumulation"] + tree,
        "periphery": n_sub * sa.area["periphery"],
        "buffer": regs + sram_buf,
        "digital": c.lanes * K.mac_lane_area_um2(c.digital_bits, node),
        "whitespace": n_sub * sa.area_slack_um2 + fp.empty_grid_slots(c) * sa.area_box_um2,
    }
    core = sum(area.values())
    tiles_alloc = np.maximum(fp.chip_tiles(c)[:, None], 1.0)
    tile_side = np.sqrt(core / tiles_alloc)
    bus_cm, bus_nm = fp.tile_bus_bits(c)
    t_cm, t_nm = fp.tiles_cm[:, None], fp.tiles_nm[:, None]
    wire_gates = K.AREA_GATES["interconnect"] * node * 1e-3  # um^2 per bit per um of wire
    area["interconnect"] = wire_gates * tile_side * (t_cm * bus_cm + t_nm * bus_nm) \
        + wire_gates * fp.bus_width(c) * np.sqrt(core) * c.noc_distance
    area_um2 = core + area["interconnect"]
    side_um = np.sqrt(area_um2)
    logic = n_sub * sa.area_logic_um2 + tree + regs
    in_bits = V * fp.R * cl.in_bits * np.ceil(fp.C / np.maximum(fp.tile_span, 1.0))
    out_bits = outputs * acc_bits
    # buffers: every layer's input bits enter its tiles and PEs, outputs leave them (register files)
    moved = 2 * (in_bits + out_bits) + (wa["in_elems"] + wa["out_elems"])[None, :] * cl.in_bits
    layer_e["buffer"] = moved * K.ENERGY_LOADS["buffer_bit"] * K.DFF_ACTIVITY * gl
    # interconnect: the layer's feature map crosses its tile's H-tree and the chip's bus
    layer_e["interconnect"] = (in_bits * K.INTERCONNECT_TOGGLE + out_bits * K.OUTPUT_TOGGLE) * tile_side * \
        K.wire_energy_pj_per_bit_um(vdd) + (wa["in_elems"] + wa["out_elems"])[None, :] * cl.in_bits * \
        K.INTERCONNECT_TOGGLE * side_um * c.noc_distance * K.wire_energy_pj_per_bit_um(vdd)
    # ---- latency (ns)
    steps = cyc * sa.n_add * c.cols_per_adc  # clock cycles per vector on one copy
    t_read = np.where(sa.sense_amp, 0.0, c.t_read_ns) * cyc * sa.n_add
    t_array = np.ceil(V / fp.copies) * (steps * t_step + t_read)
    sub_bits = acc_bits + 1  # a subarray's partial-sum word (Tile.cpp numBitSubarrayOutput)
    b_in, b_out = fp.tile_traffic(c, cl, V, sub_bits)
    t_buffer = fp.buffer_cycles(c, cl, V, sub_bits, wa["out_elems"][None, :], (b_in, b_out)) * t_clk
    # interconnect: each transfer of the tile's H-tree (root to leaf ~ one tile side) and of the chip bus takes
    # whole clock cycles (HTree.cpp, XYBus.cpp)
    wire = K.wire_delay_ns_per_mm(node, vdd)
    t_drive = K.TIME["bus_driver_gate_delays"] * K.gate_delay_ns(node, vdd)  # bus drivers and receivers
    hops_tile = np.maximum(np.ceil((t_drive + wire * tile_side * 1e-3) / t_clk), 1.0)
    hops_chip = np.maximum(np.ceil((t_drive + wire * side_um * 1e-3 * c.noc_distance) / t_clk), 1.0)
    t_noc = ((b_in + b_out) / fp.tile_bus(c) * hops_tile
             + (wa["in_elems"] + wa["out_elems"])[None, :] * cl.in_bits / fp.bus_width(c) * hops_chip) * t_clk
    layer_t = t_array + t_buffer + t_noc
    # ---- digital work (activations, pooling, norms, attention matmuls, embeddings) and rewritten crossbars
    dig_t = ex.digital_ns
    latency = layer_t.sum(axis=1, keepdims=True) + dig_t + ex.xbar_ns
    # the digital units and the rewritten crossbars are one pipeline stage each
    stage = np.maximum(np.maximum(layer_t.max(axis=1, keepdims=True, initial=0.0), dig_t), ex.xbar_ns)
    period = np.where(c.pipeline, stage, latency)
    energy = {k: v.sum(axis=1, keepdims=True) for k, v in layer_e.items()}
    for k in XBAR_PARTS:
        energy[k] = energy[k] + ex.xbar_energy[k] if k in energy else ex.xbar_energy[k]
    energy["buffer"] = energy["buffer"] + ex.io_bits * K.ENERGY_LOADS["buffer_bit"] * K.DFF_ACTIVITY * gl
    # the digital units sit by the global buffer that every layer's feature map crosses anyway (NeuroSim's
    # chip-level activation and pooling): their operands cost buffer accesses, not another chip crossing
    energy["digital"] = sum(ex.digital_energy[k] for k in DIGITAL_PARTS)
    energy = {k: v * c.energy_overhead for k, v in energy.items()}
    # leakage: logic leaks while idle, SRAM cells not being read leak always (NeuroSim main.cpp:415)
    busy = np.clip(layer_t / np.maximum(period, 1e-12), 0.0, 1.0)
    idle_share = (fp.tiles * (1 - busy)).sum(axis=1, keepdims=True) / np.maximum(fp.total_tiles[:, None], 1.0)
    leak_w = (K.LEAKAGE_GATES * logic / ag * idle_share
              + np.where(c.is_sram, area["array"] / sa.area_cell_um2 * K.CELL_LEAK_INVERTERS, 0.0)) \
        * tech.ioff_na(node) * 1e-9 * vdd
    energy["leakage"] = leak_w * period * 1e-9 * 1e12
    total_e = sum(energy.values())
    ops = 2.0 * work.macs
    return {
        "mapping": fp, "layer_energy": {k: v * c.energy_overhead for k, v in layer_e.items()},
        "layer_latency": layer_t, "energy": energy, "area": area, "clock_ns": t_clk[:, 0],
        "energy_pj": total_e[:, 0], "latency_ns": latency[:, 0], "period_ns": period[:, 0],
        "area_mm2": area_um2[:, 0] * 1e-6, "ops": ops, "tiles": fp.chip_tiles(c), "tiles_needed": fp.total_tiles,
        "digital_latency_ns": dig_t[:, 0],
        "digital_energy": {k: v * c.energy_overhead for k, v in ex.digital_energy.items()},
        "extra_ops": ex.ops, "xbar_latency_ns": ex.xbar_ns[:, 0],
        "writes_per_cell": ex.writes_per_cell[:, 0] * c.lifetime[:, 0], "endurance": c.endurance[:, 0],
    }


def totals(p: dict[str, Any]) -> dict[str, np.ndarray]:
    """Headline figures per chip from a ``price`` result."""
    e_j = p["energy_pj"] * 1e-12
    t_s = p["period_ns"] * 1e-9
    ops = p["ops"]
    tops = ops / t_s / 1e12
    return {
        "energy_pj": p["energy_pj"], "latency_ns": p["latency_ns"], "period_ns": p["period_ns"],
        "area_mm2": p["area_mm2"], "throughput_ips": 1.0 / t_s, "tops": tops,
        "tops_per_w": ops / e_j / 1e12, "tops_per_mm2": tops / p["area_mm2"],
        "edp_pj_ns": p["energy_pj"] * p["latency_ns"],
        "edap_pj_ns_mm2": p["energy_pj"] * p["latency_ns"] * p["area_mm2"],
        "clock_ns": p["clock_ns"], "tiles": p["tiles"],
        "feasible": (p["tiles_needed"] <= np.where(p["tiles"] > 0, p["tiles"], np.inf))
        & (p["writes_per_cell"] <= p["endurance"]),
    }


def price_chips(work: Workload, chips: Sequence[Chip]) -> dict[str, Any]:
    """Convenience: price ``work`` on a list of Chip records."""
    return price(work, chip_arrays(chips))
