"""Per-component unit laws of the crossbar periphery and the digital side, numpy only.

Conventions: energies in pJ, areas in um^2, times in ns; laws accept arrays (one entry per chip). Logic is
counted in **gate units** of the node's technology table (technology.py): an area unit is one minimum
inverter (2 poly pitches x one standard-cell height, NeuroSim formula.cpp CalculateGateArea), an energy unit
is one minimum gate load switched at the supply (C_gate x V^2). So node scaling comes from the tables
(supply, fin-quantised gate capacitance, layout rules that grow in F below 22 nm), not from power laws.

Each constant below is either a circuit count read from NeuroSim V1.4's C++ (file named) or a gate-equivalent
count **fitted across all NeuroSim training runs at once** by ``benchmarks/fit_costmodel.py`` (marked
"fitted"); a fitted constant is one number for every node, array size, ADC and device.
"""
from __future__ import annotations

import numpy as np

from imcnas.hardware import technology as tech

ArrayLike = np.ndarray | float

# ---- NeuroSim activity / calibration factors (Param.cpp:371-378, "validated" mode) -------------------------
DFF_ACTIVITY = 0.5  # gamma: DFFs of adders, shift-adds and register files switch on half the clocks
ADDER_ACTIVITY = 0.15  # delta: ripple-adder nodes that toggle per add
SENSING_DELAY_FACTOR = 1.4  # beta: post-layout sensing latency factor of the read cycle
INTERCONNECT_TOGGLE = 0.18  # NeuroSim inputtoggle for feature-map transfers (VGG-8)
OUTPUT_TOGGLE = 0.5  # NeuroSim outputtoggle

# ---- circuit counts from NeuroSim's C++ (gate loads or gate areas per unit) -------------------------------
# MultilevelSenseAmp.cpp:306-312: 6 CgP + 5 CgN + 4 CjP + 3 CjN with CgP = 1.3 CgN (NeuroSim's p/n width
# ratio at 22 nm) and drain junctions ~ half a gate load (a stated assumption): 7.8 + 5 + 2.6 + 1.5 ~ 17
SENSE_AMP_SWITCH_LOADS = 17.0
SENSE_AMP_LEVEL_GATES = 9.0  # MultilevelSenseAmp.cpp CalculateArea: 9 minimum NMOS per comparator level
WRITE_DRIVER_GATES = 3.0  # WriteDriver.cpp: 3 minimum inverters per column (SRAM)
CELL_LEAK_INVERTERS = 2.0  # an SRAM cell leaks as two cross-coupled inverters (SubArray.cpp:1472)

# ---- fitted gate-equivalent counts (benchmarks/fit_costmodel.py over the NeuroSim training set) -----------
AREA_GATES = {
    "adder_bit": 13.6,  # one ripple-adder bit with its wiring (NAND2-based full adder)
    "dff_bit": 12.2,  # one D flip-flop (register-file / pipeline bit)
    "encoder_level": 4.21,  # thermometer-to-binary encoder, per sense-amp level
    "adc_fixed": 39.7,  # per sense amp / ADC: enable, latch and output driver, whatever its levels
    "reference_columns": 2.46,  # cell columns of reference cells per sense amp (its level references)
    "precharge_col": 12.9,  # bit-line precharger + equaliser per column (SRAM)
    "column": 34.4,  # column-side periphery per column: mux transmission gate, its decoder share
    "nvm_column": 18,  # 1T1R column: source-line switch, its flip-flop and high-voltage level shifter
    "driver_block": 3433,  # row-driver block of a 128-column SRAM subarray (decoder + switch matrix)
    "nvm_driver_block": 3.733e+04,  # the same for 1T1R: level shifters (2 V write) and wide access gates
    "interconnect": 3.12,  # repeated global wire track + repeaters: area per bit per um of length, in F
}
ENERGY_LOADS = {
    "adder_bit": 128,  # switched loads per adder bit (Adder.cpp: 13 input + 7 output loads of sized cells)
    "dff_bit": 36.3,  # switched loads per flip-flop and clock (DFF.cpp: 16 loads of sized cells)
    "switch_row": 3.18,  # word-line switch-matrix drive per active row (gate loads)
    "column_read": 329,  # per column and subarray read: mux select, decoder and switch-matrix clocking share
    "mux_col": 2.3,  # column-mux switching per column and per parallel row it conducts
    "buffer_bit": 64.2,  # register-file buffer per bit moved (DFF + decoder share)
    "wire_repeater": 1.18,  # repeater load per wire segment, relative to the wire's own capacitance
}
TIME = {
    "periphery_gate_delays": 112,  # drivers + mux + encoder in series with the sense amp, in gate delays
    "bus_driver_gate_delays": 1.58,  # fixed delay of a bus transfer (drivers, receivers), in gate delays
    "wire_delay": 71.8,  # repeated wire delay per length in units of sqrt(r c R_gate C_gate) (2: optimal
    # repeaters; more when repeaters are relaxed to save power, as NeuroSim's delay tolerance does)
}
LEAKAGE_GATES = 1.16  # fitted: leaking minimum-transistor equivalents per gate area of logic
# fitted: switched gate width of a FinFET / nanosheet standard cell relative to a planar one, per minimum
# device (planar cells are widened to fill the cell height, NeuroSim formula.cpp EnlargeSize; fin-quantised
# cells keep few fins)
FINFET_LOAD_RATIO = 0.483


def gate_area(node_nm: ArrayLike) -> ArrayLike:
    """Area unit of logic, um^2 (one minimum inverter at the node)."""
    return tech.gate_area_um2(node_nm)


def gate_load_pj(node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy unit of logic, pJ: one gate load of a standard cell switched at ``vdd_v`` (minimum gate
    capacitance of the node x the cell-sizing ratio of FinFET / nanosheet nodes)."""
    sizing = np.where(np.asarray(node_nm) < tech.FINFET_BELOW_NM, FINFET_LOAD_RATIO, 1.0)
    return tech.cgate_ff(node_nm) * sizing * 1e-3 * np.asarray(vdd_v) ** 2


def gate_delay_ns(node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Intrinsic delay of a minimum gate driving a like gate, ns: R_on x C_gate = V / I_on x C_gate."""
    return np.asarray(vdd_v) / (tech.ion_ua(node_nm) * 1e-6) * tech.cgate_ff(node_nm) * 1e-15 * 1e9


def adder_energy_pj(bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """One ripple add of ``bits`` bits (Adder.cpp, activity delta)."""
    return bits * ENERGY_LOADS["adder_bit"] * ADDER_ACTIVITY * gate_load_pj(node_nm, vdd_v)


def dff_energy_pj(bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike, activity: float = DFF_ACTIVITY) -> ArrayLike:
    """Clocking ``bits`` flip-flops once (DFF.cpp)."""
    return bits * ENERGY_LOADS["dff_bit"] * activity * gate_load_pj(node_nm, vdd_v)


def wire_energy_pj_per_bit_um(vdd_v: ArrayLike) -> ArrayLike:
    """Moving one bit over 1 um of repeated global wire: (C_wire + repeaters) x V^2 / 2."""
    return tech.WIRE_CAP_FF_PER_UM * 1e-3 * (1 + ENERGY_LOADS["wire_repeater"]) * 0.5 * np.asarray(vdd_v) ** 2


def wire_delay_ns_per_mm(node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Delay of an optimally repeated global wire per mm, first order: 2 sqrt(r c R_g C_g), with c = 0.2 fF/um
    and r = 1 ohm/um at 22 nm growing as 1/node^2 (a stated assumption: NeuroSim tabulates r per node from
    its wire width and resistivity, Param.cpp:395-544)."""
    r_ohm_per_um = 1.0 * (22.0 / np.asarray(node_nm, dtype=float)) ** 2
    rg_cg_s = gate_delay_ns(node_nm, vdd_v) * 1e-9
    per_um_s = TIME["wire_delay"] * np.sqrt(r_ohm_per_um * tech.WIRE_CAP_FF_PER_UM * 1e-15 * rg_cg_s)
    return per_um_s * 1e3 * 1e9


# --- DAC and pulse-width input drivers ------------------------------------------------------------------------
DAC_UNIT_CAP_FF = 1.0  # unit capacitor of a binary-weighted capacitive DAC (~1 fF MOM cap, Murmann lectures)
DAC_UNIT_AREA_UM2 = 1.0  # area of one ~1 fF MOM unit capacitor
# pulse-width driver per row: a b-bit comparator against a counter shared by the rows, and a latch: priced as
# one adder bit and one flip-flop bit per input bit


def dac_energy_pj(bits: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy of one multi-bit DAC conversion: (2^b - 1) unit caps charged to V (1-bit: a driver)."""
    return (2.0 ** np.asarray(bits, dtype=float) - 1) * DAC_UNIT_CAP_FF * 1e-3 * np.asarray(vdd_v) ** 2


def dac_area_um2(bits: ArrayLike, node_nm: ArrayLike) -> ArrayLike:
    """Area of one multi-bit DAC: its unit caps (a 1-bit input needs none beyond the word-line driver)."""
    b = np.asarray(bits, dtype=float)
    return (2.0**b - 1) * DAC_UNIT_AREA_UM2 * (b > 1)


def pwm_energy_pj(bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy of one pulse-width-modulated row drive: a ``bits``-bit comparator against a shared counter
    (adder-like compare, activity delta) and the row's latch."""
    b = np.asarray(bits, dtype=float)
    return adder_energy_pj(b, node_nm, vdd_v) + dff_energy_pj(b, node_nm, vdd_v)


def pwm_area_um2(bits: ArrayLike, node_nm: ArrayLike) -> ArrayLike:
    """Area of one row's pulse-width driver: ``bits`` compare bits and ``bits`` latch bits."""
    b = np.asarray(bits, dtype=float)
    return b * (AREA_GATES["adder_bit"] + AREA_GATES["dff_bit"]) * gate_area(node_nm)


# --- digital units for non-crossbar work ---------------------------------------------------------------------
MAC_GATES_PER_BIT2 = 6.0  # array multiplier: ~6 gates per partial-product bit (8x8 -> ~400 gates + adder)


def mac_energy_pj(bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """One digital multiply-accumulate of ``bits`` operands: a bits^2 array multiplier and an accumulate."""
    b = np.asarray(bits, dtype=float)
    mult = b**2 * MAC_GATES_PER_BIT2 * ADDER_ACTIVITY * gate_load_pj(node_nm, vdd_v) * 2
    return mult + adder_energy_pj(2 * b, node_nm, vdd_v)


def mac_lane_area_um2(bits: ArrayLike, node_nm: ArrayLike) -> ArrayLike:
    """One MAC lane: multiplier, accumulator adder and register."""
    b = np.asarray(bits, dtype=float)
    return (b**2 * MAC_GATES_PER_BIT2 + 2 * b * (AREA_GATES["adder_bit"] + AREA_GATES["dff_bit"])) * gate_area(node_nm)
