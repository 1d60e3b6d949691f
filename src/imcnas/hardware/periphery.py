"""One subarray and its periphery (NeuroSim V1.4 SubArray.cpp, conventional parallel read), per chip.

Geometry: the cell array is ``rows x h_cell`` by ``cols x w_cell``; circuits that serve columns (sense amps,
encoders, shift-adders, column mux, precharge, write drivers) are stacked in strips as wide as the array;
circuits that serve rows (word-line switch matrix, level shifters, DAC / pulse-width drivers) in strips as
tall as the array. The subarray is the bounding box, so ``slack = A_row x A_col / A_array`` is layout area
no component uses (NeuroSim's subarray ``area - usedArea``; large for a narrow 1T1R array with wide
high-voltage row drivers).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcnas.hardware import components as K
from imcnas.hardware import sense_amp as S
from imcnas.hardware import technology as tech
from imcnas.hardware import converters as CV
from imcnas.hardware.params import ChipArrays

# NeuroSim NewSwitchMatrix.cpp: 1T1R word-line gates are newswitchmatrixsizeratio x minimum (14 at 22 nm, 6
# elsewhere; we take the 22-nm value, the node of NeuroSim's RRAM data); access voltage 1.1 V (Param.cpp)
NVM_SWITCH_WIDTH = 14.0
NVM_ACCESS_V = 1.1


@dataclass
class Subarray:
    """Per-chip subarray figures, (n, 1) arrays."""

    sense_amp: np.ndarray
    levels: np.ndarray
    n_adc: np.ndarray
    n_add: np.ndarray  # row groups read one after the other (rows / parallel rows)
    adder_bits: np.ndarray
    out_bits: np.ndarray  # bits of a subarray's partial sum
    adc_rate_hz: np.ndarray  # 0: one conversion per clock
    t_sense_ns: np.ndarray
    t_mux_ns: np.ndarray  # column-mux decoder driving its transmission gates
    e_sense_pj: np.ndarray  # per column sensing (one row group)
    c_row_ff: np.ndarray  # word-line capacitance
    c_cell_ff: np.ndarray
    c_col_ff: np.ndarray  # bit-line capacitance (cells' drains and wire)
    e_row_drive_pj: np.ndarray
    e_mux_col_pj: np.ndarray
    area: dict[str, np.ndarray]  # adc, dac (row drivers), accumulation, periphery
    area_array_um2: np.ndarray
    area_cell_um2: np.ndarray
    area_slack_um2: np.ndarray

    @property
    def area_box_um2(self) -> np.ndarray:
        """Bounding box of one subarray: cells, periphery and slack."""
        return self.area_array_um2 + self.area_logic_um2 + self.area_slack_um2

    @property
    def area_logic_um2(self) -> np.ndarray:
        """Area of the subarray's circuits (not cells, not slack)."""
        return sum(self.area.values())


def shift_add_bits(adder_bits: np.ndarray, n_add: np.ndarray, cpw: np.ndarray, in_bits: np.ndarray,
                   in_cycles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adder and flip-flop bits behind one ADC (SubArray.cpp:286-295): a partial-sum adder when row groups
    are read one after the other, a shift-add over weight slices, a shift-add over input bits."""
    add = (n_add > 1) * (adder_bits - 1) + (cpw > 1) * adder_bits + (in_cycles > 1) * (adder_bits + cpw)
    dff = (n_add > 1) * adder_bits + (cpw > 1) * (adder_bits + cpw) + (in_cycles > 1) * (adder_bits + cpw + in_bits)
    return add, dff


def shift_add_ops(adder_bits: np.ndarray, n_add: np.ndarray, cpw: np.ndarray, in_cycles: np.ndarray,
                  mux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adder-bit and flip-flop-bit operations behind one ADC per subarray read (SubArray.cpp:1595): the
    partial-sum adder runs mux x (groups - 1) times, the weight shift-add (slices - 1) x mux / slices
    times, the input shift-add mux / slices times."""
    w_ops = (cpw - 1) * np.floor(mux / cpw)
    i_ops = (in_cycles > 1) * np.floor(mux / cpw)
    p_ops = mux * (n_add - 1)
    add = p_ops * (adder_bits - 1) + w_ops * adder_bits + i_ops * (adder_bits + cpw)
    dff = p_ops * adder_bits + w_ops * (adder_bits + cpw) + i_ops * (adder_bits + cpw)
    return add, dff


def _access_resistance(c: ChipArrays) -> np.ndarray:
    """On-resistance of a 1F SRAM access transistor (SubArray.cpp:215; 1 fin at FinFET nodes), ohm."""
    r_min = 1.77 * c.vdd / (tech.ion_ua(c.node) * 1e-6)  # effective-resistance multiplier x V / I_on
    return np.where(c.node >= 22, 2.0, 1.0) * r_min


def subarray(c: ChipArrays) -> Subarray:
    """Build the subarray figures of every chip."""
    node, vdd, f_um = c.node, c.vdd, c.node * 1e-3
    nr, nc, p = c.xbar_rows, c.xbar_cols, c.active_rows
    ag, gl, cg = K.gate_area(node), K.gate_load_pj(node, vdd), tech.cgate_ff(node)
    sense = CV.in_array(c)
    levels = 2.0**c.adc_bits
    n_adc = np.maximum(np.floor(nc / c.cols_per_adc), 1.0)
    n_add = np.maximum(np.floor(nr / p), 1.0)
    adder_bits = c.adc_bits + np.ceil(np.log2(n_add))
    cpw = c.cells_per_weight
    out_bits = adder_bits + c.in_bits + (cpw - 1) * c.cell_bits + 1
    # ---- geometry
    h_arr, w_arr = nr * c.cell_h_f * f_um, nc * c.cell_w_f * f_um
    a_cell = c.cell_h_f * c.cell_w_f * f_um**2
    a_arr = h_arr * w_arr
    nvm = ~c.is_sram
    # ---- sense amplifier (current mode) timing and energy
    r_acc = _access_resistance(c)
    r0 = np.where(c.is_sram, r_acc, c.r_on)
    c_col = nr * c.cell_h_f * f_um * tech.WIRE_CAP_FF_PER_UM + nr * cg / 2 + cg * np.maximum(levels - 3, 0)
    r_lo, r_hi = S.reference_resistances(r0, p, levels)
    both = S.sensing_time_ns(node, np.concatenate([r_lo, r_hi], axis=1), c_col)
    t_sense = np.maximum(both[:, :1], both[:, 1:])
    c_row = nc * (c.cell_w_f * f_um * tech.WIRE_CAP_FF_PER_UM + cg / 2)
    g_cell = c.weight_on / (1.25 * c.r_on) + (1 - c.weight_on) / (c.r_on * c.on_off + 0.25 * c.r_on)
    on_rows = np.maximum(nr * c.input_ones, 1.0)
    r_col = np.where(c.is_sram, r_acc / on_rows, n_add / (on_rows * g_cell))
    powers = S.column_power_uw(node, np.concatenate([r_col, 2 * r0 / p], axis=1), c.v_read)
    p_col = powers[:, :1] * (levels - 1)
    p_ref = np.maximum(levels - 3, 0) / levels * (levels - 1) * powers[:, 1:]
    e_ref = np.where(c.is_sram, (c.cell_w_f * f_um * tech.WIRE_CAP_FF_PER_UM + cg / 2) * vdd**2 * nr, 0.0) * 1e-3
    e_switch = (c_col * c.v_read**2 / levels + 2 * cg * c.v_read**2 + K.SENSE_AMP_SWITCH_LOADS * cg * vdd**2) * 1e-3 \
        + e_ref / levels
    e_sense = (levels - 1) * e_switch + (p_col + p_ref) * t_sense * 1e-3
    # ---- areas per subarray (um^2)
    adc_law_area = np.where(c.adc_area_um2 > 0, c.adc_area_um2, _law_area(c)) if not sense.all() else 0.0
    a_adc = np.where(sense, n_adc * ((levels - 1) * K.SENSE_AMP_LEVEL_GATES + levels * K.AREA_GATES["encoder_level"]
                                     + K.AREA_GATES["adc_fixed"]) * ag
                     + n_adc * K.AREA_GATES["reference_columns"] * nr * a_cell, n_adc * adc_law_area) \
        + np.where(c.is_sram, nc * K.AREA_GATES["precharge_col"] * ag, 0.0)
    add_bits, dff_bits = shift_add_bits(adder_bits, n_add, cpw, c.in_bits, c.in_cycles)
    a_acc = n_adc * (add_bits * K.AREA_GATES["adder_bit"] + dff_bits * K.AREA_GATES["dff_bit"]) * ag
    # row-driver block (word-line decoder, switch matrix; 1T1R: high-voltage level shifters and wide gates):
    # one block per subarray, sized for the word-line load of its columns (NeuroSim's "other" area per
    # subarray does not change with the row count, 32 ... 512 rows, SRAM and RRAM alike)
    a_drive = np.where(nvm, K.AREA_GATES["nvm_driver_block"], K.AREA_GATES["driver_block"]) * nc / 128 * ag \
        + np.where(c.is_dac, nr * K.dac_area_um2(c.dac_bits, node), 0.0) \
        + np.where(c.is_pwm, nr * K.pwm_area_um2(c.in_bits, node), 0.0)
    r_min = c.vdd / (tech.ion_ua(node) * 1e-6)
    r_mem = 2.0 / (1 / (1.25 * c.r_on) + 1 / (c.r_on * c.on_off + 0.25 * c.r_on))
    a_col_side = nvm * nc * K.AREA_GATES["nvm_column"] * ag
    a_per = nc * (K.AREA_GATES["column"] + (c.cols_per_adc > 1)) * ag \
        + np.where(c.is_sram, nc * K.WRITE_DRIVER_GATES * ag, 0.0) + a_col_side
    # a stand-alone converter (SAR, flash) is a block of its own, not pitch-matched to the columns
    row_strips = np.where(sense, a_adc, 0.0) + a_acc + a_per
    w_col = a_drive / h_arr  # the row-driver strip is as tall as the array
    e_row = gl * K.ENERGY_LOADS["switch_row"] * (1 + nvm * NVM_SWITCH_WIDTH * (NVM_ACCESS_V / vdd) ** 2)
    e_mux = gl * (1.0 + K.ENERGY_LOADS["mux_col"] * p * r_min / np.where(c.is_sram, r_acc, r_mem))
    # column-mux decoder: drives the gates of every mux transmission gate (n and p), each sized to pass the
    # current of the parallel rows (Mux.cpp: R_tg = 0.25 R_read / parallel rows)
    tg_units = p * r_min / (0.5 * np.where(c.is_sram, r_acc, r_mem))
    mux_load = (c.cols_per_adc > 1) * n_adc * 2 * np.maximum(tg_units, 1.0)
    sizing = np.where(c.neurosim_compat, tech.at(node)["mux_sizing"], np.sqrt(np.maximum(mux_load, 1.0)))
    t_mux = 0.69 * K.gate_delay_ns(node, vdd) * mux_load / sizing
    # SRAM bit-line precharge before each read (Precharger.cpp: a 6F PMOS charging the column)
    r_pmos6 = c.vdd / (tech.ion_ua(node) * 1e-6) / 3.0 * 1.3  # 3x a minimum device, PMOS ~1.3x weaker
    t_pre = np.where(c.is_sram, 0.693 * r_pmos6 * c_col * 1e-15 * 1e9, 0.0)
    rate = np.where(sense, 0.0, c.adc_rate_hz)  # 0: from the clock (cost.py)
    return Subarray(
        sense_amp=sense, levels=levels, n_adc=n_adc, n_add=n_add, adder_bits=adder_bits, out_bits=out_bits,
        adc_rate_hz=rate, t_sense_ns=t_sense + t_pre, t_mux_ns=t_mux, e_sense_pj=e_sense, c_row_ff=c_row,
        c_cell_ff=tech.WIRE_CAP_FF_PER_UM * np.sqrt(a_cell) + cg, c_col_ff=c_col, e_row_drive_pj=e_row, e_mux_col_pj=e_mux,
        area={"adc": a_adc, "dac": a_drive, "accumulation": a_acc, "periphery": a_per},
        area_array_um2=a_arr, area_cell_um2=a_cell,
        area_slack_um2=_corner(c, w_col * row_strips / w_arr, row_strips, a_drive),
    )


def _corner(c: ChipArrays, corner: np.ndarray, row_strips: np.ndarray, col_strips: np.ndarray) -> np.ndarray:
    """Layout area the periphery strips leave empty. NeuroSim keeps the whole corner between the row-driver
    strip and the column strips (70 % of its 1T1R chips); by default we let a designer fold the larger strip
    so the corner never exceeds the smaller strip's own area."""
    return np.where(c.neurosim_compat, corner, np.minimum(corner, np.minimum(row_strips, col_strips)))


def nominal_rate_hz(c: ChipArrays) -> np.ndarray:
    """Sample rate of a stand-alone ADC: the given one, else 1 GS/s (flash) or 1 GS/s / (bits + 1) (SAR)."""
    return np.where(c.adc_rate_hz > 0, c.adc_rate_hz, np.where(c.adc_sar, 1e9 / (c.adc_bits + 1), 1e9))


def _law_area(c: ChipArrays) -> np.ndarray:
    """Area of one stand-alone converter under each chip's converter (0 for in-array readouts, priced above)."""
    return CV.by_converter(c, "area_um2", nominal_rate_hz(c))
