"""Subarray reads: the read cycle and the energy of crossbar reads (cells, converters, drivers, shift-adds),
shared by the static layers (cost.py) and the crossbars rewritten per inference (dynamic.py). Each function
takes event counts (subarray reads, conversions, ...) as arrays that broadcast over (chips, ops)."""
from __future__ import annotations

import numpy as np

from imcnas.hardware import components as K
from imcnas.hardware import converters as CV
from imcnas.hardware.params import ChipArrays
from imcnas.hardware.periphery import Subarray, nominal_rate_hz, shift_add_ops


def clock_ns(c: ChipArrays, sa: Subarray) -> np.ndarray:
    """Read cycle: beta x (sensing + drivers/mux/encoder in series) for a sense-amp chip; the periphery alone
    for a stand-alone ADC; never faster than a user's clock cap. (n, 1)"""
    periphery = K.TIME["periphery_gate_delays"] * K.gate_delay_ns(c.node, c.vdd)
    sensing = np.where(sa.sense_amp, sa.t_sense_ns, 0.0)
    t = K.SENSING_DELAY_FACTOR * (sensing + periphery + sa.t_mux_ns)
    cap = np.where(c.clock_cap_ghz > 0, 1.0 / np.where(c.clock_cap_ghz > 0, c.clock_cap_ghz, 1.0), 0.0)
    return np.maximum(t, cap)


def step_ns(c: ChipArrays, sa: Subarray, t_clk: np.ndarray) -> np.ndarray:
    """Time of one analog step: the clock, or a conversion when the converter is slower. (n, 1)"""
    conv_ns = np.where(sa.adc_rate_hz > 0, 1e9 / np.where(sa.adc_rate_hz > 0, sa.adc_rate_hz, 1.0),
                       np.where(c.adc_sar & ~sa.sense_amp, t_clk * (c.adc_bits + 1), t_clk))
    own = CV.conversion_ns(c, t_clk)  # a converter plug-in's own conversion time, where it defines one
    return np.maximum(t_clk, np.where(np.isnan(own) | (sa.adc_rate_hz > 0), conv_ns, own))


def read_energy(c: ChipArrays, cl: ChipArrays, sa: Subarray, calls, evals, cells_read, drives, tree_adds
                ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Read energy (pJ) of ``calls`` subarray reads with ``evals`` conversions, ``cells_read`` cells on active
    rows, ``drives`` row drives and ``tree_adds`` partial-sum adds between subarrays: the array, adc, dac and
    accumulation components, and the accumulated output bits. ``cl`` carries the per-layer precision."""
    node, vdd = c.node, c.vdd
    gl = K.gate_load_pj(node, vdd)
    cyc = cl.in_cycles
    act = np.where(c.is_dac | c.is_pwm, 1.0, c.input_ones)
    e_conv = np.where(sa.sense_amp, sa.e_sense_pj, 0.0) + CV.by_converter(c, "energy_pj", nominal_rate_hz(c))
    e_conv = np.where(c.adc_energy_pj > 0, c.adc_energy_pj, e_conv)
    # array: word-line charging for every read (NeuroSim); an integrating resistive read (stand-alone ADC)
    # also conducts V^2 G over its read pulse; a charge-domain cell switches its capacitor every step
    g_avg = c.weight_on / (1.25 * c.r_on) + (1 - c.weight_on) / (c.r_on * c.on_off + 0.25 * c.r_on)
    conduct = np.where(sa.sense_amp | c.is_sram, 0.0, c.v_read**2 * g_avg * c.t_read_ns * 1e3)
    e_cell = CV.cell_energy_pj(c, sa, conduct)  # the chip's compute scheme (converters.py)
    out = {
        "array": calls * c.cols_per_adc * sa.c_row_ff * 1e-3 * vdd**2 * c.xbar_rows * act + cells_read * e_cell,
        "adc": evals * e_conv,
    }
    # row drivers: switch matrix (+ level-shifted 1T1R gates), column mux; DAC or pulse-width drivers
    e_drive = np.where(c.is_dac, K.dac_energy_pj(c.dac_bits, vdd), 0.0) + np.where(
        c.is_pwm, K.pwm_energy_pj(cl.in_bits, node, vdd), 0.0)
    out["dac"] = (calls * c.cols_per_adc * c.xbar_rows * act * sa.e_row_drive_pj
                  + calls * c.xbar_cols * (sa.e_mux_col_pj + K.ENERGY_LOADS["column_read"] * gl) + drives * e_drive)
    # shift-add and partial-sum accumulation
    acc_bits = sa.adder_bits + cl.in_bits + (cl.cells_per_weight - 1) * c.cell_bits
    add_ops, dff_ops = shift_add_ops(sa.adder_bits, sa.n_add, cl.cells_per_weight, cyc, c.cols_per_adc)
    out["accumulation"] = (calls * sa.n_adc * (K.adder_energy_pj(add_ops, node, vdd) + K.dff_energy_pj(dff_ops, node, vdd))
                           + tree_adds * K.adder_energy_pj(acc_bits + 1, node, vdd))
    return out, acc_bits
