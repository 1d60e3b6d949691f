"""Chips -> column arrays of their numeric parameters, so the cost model prices many chips in one pass."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

from imcnas import plugins
from imcnas.hardware import technology as tech
from imcnas.hardware.spec import Chip

# Mean wire length of one transfer in units of the chip side: an H-tree's root-to-leaf path is
# side/2 + side/4 + ... ~ one side; a bus spans the chip; a mesh's mean Manhattan distance between uniformly
# placed tiles is 2/3 of a side.
NOC_DISTANCE = {"htree": 1.0, "bus": 1.0, "mesh": 2.0 / 3.0}
# Aspect ratio (width / height) of a cell when only its area is given: 1T1R 12F x 4F (NeuroSim Param.cpp:339)
CELL_ASPECT = 3.0
BOOL_FIELDS = ("is_sram", "differential", "offset", "is_dac", "is_pwm", "layer_per_tile", "dup_balance",
               "pipeline", "novel_mapping", "tile_sram", "adc_sar",
               "neurosim_compat", "is_fefet", "dyn_xbar", "agg_xbar")
# per-element digital functions priced from the chip's ``Digital.*_ops`` tables (Workload.digital_totals keys)
ELEMENT_FUNCTIONS = ("softmax", "norm", "gelu", "sigmoid", "embedding")


@dataclass
class ChipArrays:
    """Numeric chip parameters, each of shape (n_chips, 1)."""

    node: np.ndarray
    vdd: np.ndarray
    clock_cap_ghz: np.ndarray  # 0 = no cap: the cycle comes from the circuits
    is_sram: np.ndarray
    r_on: np.ndarray
    on_off: np.ndarray
    v_read: np.ndarray
    t_read_ns: np.ndarray
    cell_h_f: np.ndarray
    cell_w_f: np.ndarray
    cell_bits: np.ndarray
    compute: np.ndarray  # index into plugins.names("compute")
    cell_cap_ff: np.ndarray
    xbar_rows: np.ndarray
    xbar_cols: np.ndarray
    active_rows: np.ndarray
    weight_bits: np.ndarray
    cells_explicit: np.ndarray  # 0 = derived from the bits
    cells_per_weight: np.ndarray
    cols_per_weight: np.ndarray
    differential: np.ndarray
    offset: np.ndarray
    in_bits: np.ndarray
    in_cycles: np.ndarray
    is_dac: np.ndarray
    is_pwm: np.ndarray
    dac_bits: np.ndarray
    adc_bits: np.ndarray
    cols_per_adc: np.ndarray
    adc_law: np.ndarray  # index into plugins.names("converter")
    adc_sar: np.ndarray  # a SAR converter: bits + 1 clock cycles per conversion
    adc_rate_hz: np.ndarray  # 0 = one conversion per cycle
    adc_energy_pj: np.ndarray  # 0 = from the law
    adc_area_um2: np.ndarray  # 0 = from the law
    xbars_per_pe: np.ndarray  # 0 = floorplan by utilisation
    pes_per_tile: np.ndarray  # 0 = floorplan by utilisation
    fixed_tiles: np.ndarray  # 0 = as many as needed
    layer_per_tile: np.ndarray
    tile_sram: np.ndarray  # the tile buffer is a fixed SRAM of buffer_kb (else register files sized by need)
    buffer_kb: np.ndarray
    buffer_width: np.ndarray
    noc_width: np.ndarray
    noc_distance: np.ndarray  # mean wire length of a transfer, in chip sides
    lanes: np.ndarray
    digital_bits: np.ndarray
    dup_balance: np.ndarray
    dup_fixed: np.ndarray
    max_dup: np.ndarray
    pipeline: np.ndarray
    novel_mapping: np.ndarray
    input_ones: np.ndarray
    weight_on: np.ndarray
    energy_overhead: np.ndarray
    neurosim_compat: np.ndarray
    # writes of crossbars rewritten per inference (hardware/dynamic.py); 0 = derived / unlimited
    is_fefet: np.ndarray
    write_v: np.ndarray  # 0 = the supply
    write_ns: np.ndarray  # 0 = one clock cycle
    write_pj: np.ndarray  # 0 = derived from voltage and pulse
    endurance: np.ndarray  # inf = unlimited
    lifetime: np.ndarray  # inferences the chip must survive
    dyn_xbar: np.ndarray  # dynamic matmuls on rewritten crossbars
    agg_xbar: np.ndarray  # graph aggregation on rewritten crossbars
    # digital ops per element of each of ELEMENT_FUNCTIONS
    softmax_adds: np.ndarray
    softmax_mults: np.ndarray
    norm_adds: np.ndarray
    norm_mults: np.ndarray
    gelu_adds: np.ndarray
    gelu_mults: np.ndarray
    sigmoid_adds: np.ndarray
    sigmoid_mults: np.ndarray
    embedding_adds: np.ndarray
    embedding_mults: np.ndarray

    # plug-in parameters of each chip's components (``adc.params``, ``device.params``): one dict per chip
    plugin_params: tuple[dict[str, dict[str, float]], ...] = ()

    @property
    def n(self) -> int:
        """Number of chips."""
        return int(self.node.shape[0])

    def param(self, part: str, key: str, default: float) -> np.ndarray:
        """A plug-in parameter of every chip, ``part`` = ``"adc"`` or ``"device"``: ``<part>.params.<key>``
        of the YAML, else ``default``. (n, 1)"""
        rows = self.plugin_params or ({},) * self.n
        return np.array([[float(r.get(part, {}).get(key, default))] for r in rows])


def _cell_dims(chip: Chip) -> tuple[float, float]:
    """Cell height and width in F from the area and aspect; (0, 0) = the node's SRAM bit cell (filled in by
    ``chip_arrays`` from the technology table)."""
    d = chip.device
    if d.type == "sram" and d.cell_area_f2 is None:
        return 0.0, 0.0
    area = d.cell_area_f2 if d.cell_area_f2 is not None else 280.0
    aspect = 2.8 if d.type == "sram" else CELL_ASPECT
    return float(np.sqrt(area / aspect)), float(np.sqrt(area * aspect))


def _row(chip: Chip) -> dict[str, float]:
    t, d, x, w, i, a, h = (chip.technology, chip.device, chip.crossbar, chip.weights, chip.inputs, chip.adc,
                           chip.hierarchy)
    sram = d.type == "sram"
    cell_h, cell_w = _cell_dims(chip)
    cpw = chip.cells_per_weight
    dg = chip.digital
    sm, nm, ge, sg, em = dg.softmax_ops, dg.norm_ops, dg.gelu_ops, dg.sigmoid_ops, dg.embedding_ops
    return {
        "node": t.node_nm, "vdd": t.vdd_v or 0.0, "clock_cap_ghz": t.clock_ghz or 0.0, "is_sram": float(sram),
        "r_on": d.r_on_ohm or 1.0, "on_off": d.on_off or 1.0, "v_read": d.read_voltage_v or 0.0,
        "t_read_ns": 0.0 if sram or d.read_pulse_ns is None else d.read_pulse_ns,
        "cell_h_f": cell_h, "cell_w_f": cell_w, "cell_bits": d.bits_per_cell,
        "compute": plugins.names("compute").index(d.compute), "cell_cap_ff": d.cell_cap_ff or 0.0,
        "xbar_rows": x.rows, "xbar_cols": x.cols, "active_rows": x.active_rows,
        "weight_bits": w.bits, "cells_explicit": w.cells_per_weight or 0, "cells_per_weight": cpw,
        "cols_per_weight": cpw * (2 if w.signed == "differential" else 1),
        "differential": float(w.signed == "differential"), "offset": float(w.signed == "offset"),
        "in_bits": i.bits, "in_cycles": chip.input_cycles, "is_dac": float(i.scheme == "dac"),
        "is_pwm": float(i.scheme == "pulse_width"), "dac_bits": i.dac_bits if i.scheme == "dac" else 1,
        "adc_bits": a.bits, "cols_per_adc": a.cols_per_adc, "adc_law": plugins.names("converter").index(a.law),
        "adc_sar": float(a.type == "sar"),
        "adc_rate_hz": (a.sample_rate_ghz or 0.0) * 1e9, "adc_energy_pj": a.energy_pj or 0.0,
        "adc_area_um2": a.area_um2 or 0.0,
        "xbars_per_pe": h.crossbars_per_pe or 0, "pes_per_tile": h.pes_per_tile or 0,
        "fixed_tiles": 0 if h.tiles == "auto" else h.tiles, "layer_per_tile": float(h.layer_per_tile),
        "tile_sram": float(chip.buffers.tile_kb is not None), "buffer_kb": chip.buffers.tile_kb or 0.0,
        "buffer_width": chip.buffers.width_bits, "noc_width": chip.interconnect.width_bits,
        "noc_distance": NOC_DISTANCE[chip.interconnect.type],
        "lanes": chip.digital.lanes, "digital_bits": chip.digital.bits,
        "dup_balance": float(chip.mapping.duplication == "balance"),
        "dup_fixed": 1 if chip.mapping.duplication == "balance" else chip.mapping.duplication,
        "max_dup": chip.mapping.max_duplication, "pipeline": float(chip.mapping.pipeline),
        "novel_mapping": float(chip.mapping.novel_mapping and not (h.crossbars_per_pe or h.pes_per_tile)),
        "input_ones": chip.activity.input_ones, "weight_on": chip.activity.weight_on,
        "energy_overhead": chip.calibration.energy_overhead,
        "neurosim_compat": float(chip.calibration.neurosim_compat),
        "is_fefet": float(d.type == "fefet"), "write_v": d.write_voltage_v or 0.0, "write_ns": d.write_pulse_ns or 0.0,
        "write_pj": d.write_energy_pj or 0.0,
        "endurance": d.endurance_cycles if d.endurance_cycles is not None else np.inf,
        "lifetime": chip.lifetime_inferences, "dyn_xbar": float(chip.dynamic_ops_on == "crossbar"),
        "agg_xbar": float(chip.aggregation_on == "crossbar"),
        "softmax_adds": sm.adds, "softmax_mults": sm.mults, "norm_adds": nm.adds, "norm_mults": nm.mults,
        "gelu_adds": ge.adds, "gelu_mults": ge.mults, "sigmoid_adds": sg.adds, "sigmoid_mults": sg.mults,
        "embedding_adds": em.adds, "embedding_mults": em.mults,
    }


_NAMES = tuple(_row(Chip()))
assert set(_NAMES) == {f.name for f in fields(ChipArrays)} - {"plugin_params"}, "_row and ChipArrays disagree"


def chip_arrays(chips: Sequence[Chip]) -> ChipArrays:
    """Stack the numeric parameters of ``chips`` into (n, 1) columns."""
    names = _NAMES  # every row has these keys in one order (_row's), so rows stack by their values
    mat = np.array([tuple(r.values()) for r in map(_row, chips)], dtype=float).reshape(len(chips), len(names))
    cols = {n: mat[:, i:i + 1] for i, n in enumerate(names)}
    for flag in BOOL_FIELDS:
        cols[flag] = cols[flag].astype(bool)
    # defaults from the node's technology table, one lookup for all chips
    t = tech.at(cols["node"])
    cols["vdd"] = np.where(cols["vdd"] > 0, cols["vdd"], t["vdd"])
    cols["v_read"] = np.where(cols["v_read"] > 0, cols["v_read"], t["v_read"])
    table_cell = cols["cell_h_f"] == 0
    cols["cell_h_f"] = np.where(table_cell, t["sram_h_f"], cols["cell_h_f"])
    cols["cell_w_f"] = np.where(table_cell, t["sram_w_f"], cols["cell_w_f"])
    extra = tuple({"adc": dict(ch.adc.params), "device": dict(ch.device.params)} for ch in chips)
    return ChipArrays(**cols, plugin_params=extra)
