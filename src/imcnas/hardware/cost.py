"""The cost model: energy, latency and area of a workload on one chip or on many chips at once.

The event counts (conversions, cell reads, row drives, accumulations, buffer and network bits, digital ops)
come from the mapping; each is priced by a law in components.py. Everything is numpy over (chips, layers).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from imcnas.hardware import components as K
from imcnas.hardware.mapping import Mapping, map_layers
from imcnas.hardware.params import ADC_LAWS, ChipArrays, chip_arrays
from imcnas.hardware.spec import Chip
from imcnas.workload.ops import Workload

ENERGY_COMPONENTS = ("array", "adc", "dac", "accumulation", "buffer", "interconnect", "digital", "leakage")
AREA_COMPONENTS = ("array", "adc", "dac", "accumulation", "periphery", "buffer", "interconnect", "digital")


def _by_law(c: ChipArrays, fn, *args) -> np.ndarray:
    """Evaluate an ADC law function per chip according to each chip's law index."""
    out = np.zeros_like(c.adc_bits)
    for i, law in enumerate(ADC_LAWS):
        mask = c.adc_law == i
        if mask.any():
            out = np.where(mask, fn(law, *args), out)
    return out


def layer_view(c: ChipArrays, wa: dict[str, np.ndarray]) -> ChipArrays:
    """The chip as each layer sees it: per-layer weight/input bits (``Workload.with_layer_bits``) replace the
    chip's precision fields with (n, L) arrays. Chip-level hardware (area, ADC count) keeps the chip's own."""
    w_bits, in_bits = wa.get("w_bits"), wa.get("in_bits")
    if w_bits is None or (np.isnan(w_bits).all() and np.isnan(in_bits).all()):
        return c
    wb = np.where(np.isnan(w_bits)[None, :], c.weight_bits, w_bits[None, :])
    cells = np.where(np.isnan(w_bits)[None, :], c.cells_per_weight, np.ceil(wb / c.cell_bits))
    ib = np.where(np.isnan(in_bits)[None, :], c.in_bits, in_bits[None, :])
    cycles = np.where(c.is_dac, np.ceil(ib / c.dac_bits), ib)
    return replace(c, weight_bits=wb, cells_per_weight=cells, cols_per_weight=cells * np.where(c.differential, 2, 1),
                   in_bits=ib, in_cycles=cycles)


def price(work: Workload, chip: ChipArrays) -> dict[str, Any]:
    """Price ``work`` on every chip of ``chip``. Returns arrays: per-layer (n, L) and per-chip (n,) figures."""
    wa = work.matrix_arrays
    dt = work.digital_totals
    c = chip
    cl = layer_view(chip, wa)  # per-layer precision for the layer-wise counts; ``c`` for chip-level hardware
    m: Mapping = map_layers(wa["rows"], wa["cols"], wa["groups"], wa["vectors"], cl)
    R, G, V = wa["rows"][None, :], wa["groups"][None, :], wa["vectors"][None, :]
    phys_cols = wa["cols"][None, :] * cl.cols_per_weight
    node, vdd = c.node, c.vdd
    cyc_ns = 1.0 / c.clock_ghz
    # ---- mapping-level counts (per inference)
    weight_cols_total = G * phys_cols * m.row_tiles  # columns read per analog step, all crossbars of a copy
    conversions = V * cl.in_cycles * m.row_groups * weight_cols_total
    cell_steps = V * cl.in_cycles * R * G * phys_cols  # cell x analog step pairs
    drives = V * cl.in_cycles * R * G * m.col_tiles * np.where(c.is_dac, 1.0, c.input_ones)
    # shift-add accumulator: ADC result shifted over input bits and cell slices, plus carries of the partial
    # sums it adds up (row groups and row tiles); the area counts the width a crossbar's own row groups need
    acc_base = c.adc_bits + cl.in_bits + (cl.cells_per_weight - 1) * c.cell_bits
    acc_bits = acc_base + np.ceil(np.log2(np.maximum(m.row_groups * m.row_tiles, 1.0)))
    outputs = V * G * wa["cols"][None, :]
    # ---- per-layer energies (pJ)
    c_cell = K.cell_capacitance_ff(c.cell_f2, node) * 1e-3  # pF
    g_avg = c.weight_on / c.r_on + (1 - c.weight_on) / (c.r_on * c.on_off)  # S
    # energy per cell and step: a cell conducts (or discharges its bit line) only when its input bit is 1;
    # in the charge domain every cell's capacitor and wiring is switched on every step, whatever the input
    e_cell = c.input_ones * np.where(c.is_sram, 2 * c_cell * vdd**2,
                                     c.v_read**2 * g_avg * c.t_read_ns * 1e3 + 2 * c_cell * c.v_read**2)
    e_cell = np.where(c.charge, (c.cell_cap_ff * 1e-3 + 2 * c_cell) * vdd**2, e_cell)
    e_adc = _by_law(c, K.adc_energy_pj, c.adc_bits, node, vdd, c.adc_rate_hz)
    e_adc = np.where(c.adc_energy_pj > 0, c.adc_energy_pj, e_adc)
    e_acc = K.add_energy_pj(acc_bits, node, vdd)
    in_bits = cl.in_bits
    io_bits = (wa["in_elems"] + wa["out_elems"])[None, :] * in_bits
    layer_e = {
        "array": cell_steps * e_cell,
        "adc": conversions * e_adc,
        "dac": drives * K.dac_energy_pj(c.dac_bits, vdd),
        "accumulation": (conversions + outputs * (c.offset | c.differential)) * e_acc,
        "buffer": io_bits * K.sram_bit_energy_pj(node, vdd),
    }
    # ---- area (um^2): chip-level hardware, sized for the chip's own precision
    acc_base_hw = c.adc_bits + c.in_bits + (c.cells_per_weight - 1) * c.cell_bits
    f2 = K.f2_um2(node)
    per_tile = c.xbars_per_pe * c.pes_per_tile
    tiles = m.total_tiles[:, None]
    tiles = np.where(c.layer_per_tile, tiles, np.ceil(tiles))
    tiles_needed = tiles.copy()
    tiles = np.where(c.fixed_tiles > 0, c.fixed_tiles, tiles)
    xbars_alloc = tiles * per_tile
    adcs = xbars_alloc * np.ceil(c.xbar_cols / c.cols_per_adc)
    embed_bits = dt["embed_weights"] * c.weight_bits
    area = {
        "array": xbars_alloc * c.xbar_rows * c.xbar_cols * c.cell_f2 * f2,
        "adc": adcs * np.where(c.adc_area_um2 > 0, c.adc_area_um2,
                               _by_law(c, K.adc_area_um2, c.adc_bits, node, c.adc_rate_hz)),
        "dac": xbars_alloc * c.xbar_rows * K.dac_area_um2(c.dac_bits, node),
        "accumulation": adcs * (acc_base_hw + np.log2(np.maximum(c.xbar_rows / c.active_rows, 1.0)))
                        * K.ACCUMULATOR_F2_PER_BIT * f2,
        "periphery": xbars_alloc * (c.xbar_rows + c.xbar_cols) * K.PERIPHERY_F2_PER_LINE * f2,
        "buffer": K.sram_buffer_area_um2(tiles * c.buffer_kb * 8192 + embed_bits, node),
        "interconnect": tiles * K.ROUTER_UM2_PER_TILE_32NM * K.area_scale(node, 32.0),
        "digital": c.lanes * K.DIGITAL_LANE_F2 * f2,
    }
    area_um2 = sum(area.values())
    wire_mm = np.sqrt(area_um2 * 1e-6) * c.noc_distance
    # network: every layer's inputs and outputs travel once over the network's mean wire length
    layer_e["interconnect"] = io_bits * K.wire_energy_pj_per_bit_mm(vdd) * wire_mm
    # ---- latency (ns)
    t_step = c.t_read_ns + c.cols_per_adc / c.adc_rate_hz * 1e9
    t_vec = cl.in_cycles * m.row_groups * t_step
    # every vector's inputs (im2col: rows x groups x bits) leave the layer's input buffer through one port of
    # width_bits per clock; copies add compute parallelism, not buffer bandwidth. Reading and computing are
    # not overlapped (NeuroSim's layer timing; a double-buffered design would take the max instead).
    t_io = V * np.ceil(R * G * in_bits / c.buffer_width) * cyc_ns
    # the layer's feature map crosses the global network once, width_bits per clock, while it streams
    t_noc = wa["in_elems"][None, :] * in_bits / c.noc_width * cyc_ns
    layer_t = np.ceil(V / m.duplication) * t_vec + np.maximum(t_io, t_noc)
    # ---- digital work (activations, pooling, norms, attention matmuls, embeddings)
    dig_e = (dt["flops"] * K.add_energy_pj(c.digital_bits, node, vdd)
             + dt["dyn_macs"] * K.mac_energy_pj(c.digital_bits, node, vdd))
    dig_io = (dt["io_elems"] * c.digital_bits + dt["embed_reads"] * c.weight_bits)
    dig_t = (dt["flops"] + dt["dyn_macs"]) / c.lanes * cyc_ns + dig_io / c.buffer_width * cyc_ns
    latency = layer_t.sum(axis=1, keepdims=True) + dig_t
    stage = np.maximum(layer_t.max(axis=1, keepdims=True, initial=0.0), dig_t)
    period = np.where(c.pipeline, stage, latency)
    energy = {k: v.sum(axis=1, keepdims=True) for k, v in layer_e.items()}
    energy["buffer"] = energy["buffer"] + dig_io * K.sram_bit_energy_pj(node, vdd)
    energy["interconnect"] = energy["interconnect"] + dig_io * K.wire_energy_pj_per_bit_mm(vdd) * wire_mm
    energy["digital"] = dig_e
    energy = {k: v * c.energy_overhead for k, v in energy.items()}
    energy["leakage"] = K.LEAKAGE_UW_PER_MM2_22NM * (vdd / K.REF_VDD_V) * area_um2 * 1e-6 * period * 1e-3
    total_e = sum(energy.values())
    ops = 2.0 * work.macs
    return {
        "mapping": m, "layer_energy": {k: v * c.energy_overhead for k, v in layer_e.items()},
        "layer_latency": layer_t, "energy": energy, "area": area,
        "energy_pj": total_e[:, 0], "latency_ns": latency[:, 0], "period_ns": period[:, 0],
        "area_mm2": area_um2[:, 0] * 1e-6, "ops": ops, "tiles": tiles[:, 0], "tiles_needed": tiles_needed[:, 0],
        "digital_latency_ns": dig_t[:, 0],
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
        "tiles": p["tiles"], "feasible": p["tiles_needed"] <= np.where(p["tiles"] > 0, p["tiles"], np.inf),
    }


def price_chips(work: Workload, chips: Sequence[Chip]) -> dict[str, Any]:
    """Convenience: price ``work`` on a list of Chip records."""
    return price(work, chip_arrays(chips))
