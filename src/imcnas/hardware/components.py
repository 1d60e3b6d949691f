"""Per-component energy, area and latency laws. numpy only; every constant names its meaning and source.

Conventions: energies in pJ, areas in um^2, times in ns. Laws accept numpy arrays (one entry per chip) so the
cost model can price many chips at once. CMOS logic and wire energies scale as C*V^2 with C proportional to
the node; logic areas scale with the node squared (Dennard-style first-order scaling, as in NeuroSim/Accelergy).
"""
from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | float

# --- technology scaling -------------------------------------------------------------------------------------
REF_NODE_NM = 22.0  # reference node of the NeuroSim-derived constants below
REF_VDD_V = 0.8  # NeuroSim V1.4 Technology.cpp supply at 22 nm


def energy_scale(node_nm: ArrayLike, vdd_v: ArrayLike, ref_node: float = REF_NODE_NM,
                 ref_vdd: float = REF_VDD_V) -> ArrayLike:
    """C*V^2 scaling of a switching energy from (ref_node, ref_vdd) to (node, vdd)."""
    return (node_nm / ref_node) * (vdd_v / ref_vdd) ** 2


def area_scale(node_nm: ArrayLike, ref_node: float = REF_NODE_NM) -> ArrayLike:
    """F^2 scaling of a layout area from ref_node to node."""
    return (node_nm / ref_node) ** 2


def f2_um2(node_nm: ArrayLike) -> ArrayLike:
    """Area of one F^2 in um^2."""
    return (node_nm * 1e-3) ** 2


# --- digital arithmetic and memories (Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, 0.9 V) ------
ADD_PJ_PER_BIT_45NM = 0.1 / 32  # 32-bit integer add: 0.1 pJ
SRAM_READ_PJ_PER_BIT_45NM = 10.0 / 64  # 64-bit read of an 8 KB SRAM: 10 pJ
HOROWITZ_NODE, HOROWITZ_VDD = 45.0, 0.9


def add_energy_pj(bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy of one ripple add of ``bits`` width (Horowitz 45 nm, scaled)."""
    return bits * ADD_PJ_PER_BIT_45NM * energy_scale(node_nm, vdd_v, HOROWITZ_NODE, HOROWITZ_VDD)


def sram_bit_energy_pj(node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy to read or write one bit of a small on-chip SRAM buffer (Horowitz 8 KB SRAM, scaled)."""
    return SRAM_READ_PJ_PER_BIT_45NM * energy_scale(node_nm, vdd_v, HOROWITZ_NODE, HOROWITZ_VDD)


SRAM_BUFFER_CELL_F2 = 146.0  # 6T SRAM bit cell, ~146 F^2 (ITRS/IRDS logic SRAM)
SRAM_ARRAY_EFFICIENCY = 0.7  # fraction of a buffer macro that is bit cells (decoders, sense amps: the rest)


def sram_buffer_area_um2(bits: ArrayLike, node_nm: ArrayLike) -> ArrayLike:
    """Area of an SRAM buffer of ``bits`` bits."""
    return bits * SRAM_BUFFER_CELL_F2 * f2_um2(node_nm) / SRAM_ARRAY_EFFICIENCY


# --- wires --------------------------------------------------------------------------------------------------
WIRE_CAP_FF_PER_UM = 0.2  # on-chip wire capacitance, ~0.2 fF/um across nodes (ITRS interconnect tables)
JUNCTION_CAP_FF_PER_UM = 1.0  # drain junction + gate capacitance per um of device width (~1 fF/um, PTM)
DATA_TOGGLE = 0.5  # probability that a data wire toggles per transfer (random data)


def wire_energy_pj_per_bit_mm(vdd_v: ArrayLike) -> ArrayLike:
    """Energy to move one bit over 1 mm of global wire: C_wire * V^2 * toggle."""
    return WIRE_CAP_FF_PER_UM * 1e3 * 1e-3 * vdd_v**2 * DATA_TOGGLE  # fF/um*1000um = pF -> pJ


def cell_capacitance_ff(cell_area_f2: ArrayLike, node_nm: ArrayLike) -> ArrayLike:
    """Bit-line (or word-line) capacitance one cell adds: wire over the cell pitch plus one access device
    junction of width 2F."""
    pitch_um = np.sqrt(cell_area_f2) * node_nm * 1e-3
    return WIRE_CAP_FF_PER_UM * pitch_um + JUNCTION_CAP_FF_PER_UM * 2 * node_nm * 1e-3


# --- ADC laws -----------------------------------------------------------------------------------------------
# (1) "survey": Accelergy's fit to B. Murmann's ADC Performance Survey 1997-2023 (best reported ADCs).
#     Schreier FOM = 213.78 - 2.872*ln(fs), SNDR = 6.02N + 1.76; E = 1/(2*10^((FOM-SNDR)/10)) times the
#     node/resolution factor exp(26.05 + 1.880 ln(node) - 2.829 ln(N) - 1.470). That expression holds from
#     8 bits up (thermal-noise-limited ADCs, ~4x energy per bit). Below 8 bits the fit caps the FOM by a
#     per-ENOB maximum that our reference does not tabulate; we use the reference's inferred 4-bit value
#     (0.92 pJ at 32 nm, 1 GS/s, i.e. FOM capped at SURVEY_FOM_CAP_4B_DB) and interpolate log-linearly in N
#     between 4 and 8 bits; below 4 bits energy falls linearly with N (comparator count bound); the 8-bit
#     value is at least twice the 4-bit one (one comparison per bit), which matters at low sample rates.
SURVEY_FOM_CAP_4B_DB = 141.2
# (2) "saberi": ISAAC's ADC (Kull ISSCC'13, 8 b 1.2 GS/s, 32 nm) scaled in resolution by Saberi et al. 2011,
#     as tabulated in Accelergy's ISAAC library; node scaling uses the survey exponents.
SABERI_BITS = np.array([4, 5, 6, 7, 8, 9, 10], dtype=float)
SABERI_ENERGY_PJ = np.array([0.79, 0.99, 1.20, 1.42, 1.67, 1.97, 2.38])
SABERI_AREA_UM2 = np.array([361, 477, 627, 845, 1200, 1828, 3002], dtype=float)
SABERI_NODE = 32.0
SURVEY_NODE_EXP_ENERGY = 1.880  # d ln(E) / d ln(node) of the survey fit
SURVEY_NODE_EXP_AREA = 0.993 + 0.299 * 1.880  # area fit: ln A = 1.346 + 0.993 ln node + 0.299 ln E + ...
# (3) "sense_amp": NeuroSim's current-mode multi-level sense amplifier ("flash" with 2^N - 1 comparing
#     levels). Energy/area = fixed part (column mux, precharge, encoder) + a part per reference level.
#     Derived at 22 nm, 0.8 V from the two NeuroSim V1.4 breakdown runs in references/costmodel.yaml
#     (ADC energy / conversions NeuroSim simulated; ADC area / ADC count): 4 b -> 78.2 fJ, 76.7 um^2;
#     5 b -> 110.3 fJ, 101.5 um^2.
SENSE_AMP_FIXED_PJ = 0.0481
SENSE_AMP_PER_LEVEL_PJ = 0.00201
SENSE_AMP_FIXED_UM2 = 53.5
SENSE_AMP_PER_LEVEL_UM2 = 1.55


def _interp_log(bits: ArrayLike, xs: np.ndarray, ys: np.ndarray) -> ArrayLike:
    """Log-linear interpolation in resolution, extrapolated along the end slopes."""
    b = np.asarray(bits, dtype=float)
    ly = np.log(ys)
    slope_lo = ly[1] - ly[0]
    slope_hi = ly[-1] - ly[-2]
    out = np.interp(b, xs, ly)
    out = np.where(b < xs[0], ly[0] + (b - xs[0]) * slope_lo, out)
    out = np.where(b > xs[-1], ly[-1] + (b - xs[-1]) * slope_hi, out)
    return np.exp(out)


def _survey_formula_pj(bits: ArrayLike, node_nm: ArrayLike, rate_hz: ArrayLike, fom_cap: float) -> ArrayLike:
    fom = np.minimum(213.78 - 2.872 * np.log(rate_hz), fom_cap)
    sndr = 6.02 * bits + 1.76
    factor = np.exp(26.05 + 1.880 * np.log(node_nm) - 2.829 * np.log(bits) - 1.470)
    return factor / (2.0 * 10 ** ((fom - sndr) / 10.0))


def adc_survey_energy_pj(bits: ArrayLike, node_nm: ArrayLike, rate_hz: ArrayLike) -> ArrayLike:
    """Energy per conversion from the Murmann-survey fit (monotone in resolution)."""
    b = np.asarray(bits, dtype=float)
    e4 = _survey_formula_pj(4.0, node_nm, rate_hz, SURVEY_FOM_CAP_4B_DB)
    e8_fit = _survey_formula_pj(8.0, node_nm, rate_hz, np.inf)
    # at low sample rates the uncapped 8-bit fit can undercut the capped 4-bit value; energy never grows
    # slower than linearly in N (a SAR makes one comparison per bit), so 8 bits cost at least 2x 4 bits
    e8 = np.maximum(e8_fit, 2.0 * e4)
    high = _survey_formula_pj(np.maximum(b, 8.0), node_nm, rate_hz, np.inf) * (e8 / e8_fit)
    mid = e4 * (e8 / e4) ** ((np.clip(b, 4.0, 8.0) - 4.0) / 4.0)
    low = e4 * b / 4.0
    return np.where(b >= 8, high, np.where(b >= 4, mid, low))


def adc_survey_area_um2(bits: ArrayLike, node_nm: ArrayLike, rate_hz: ArrayLike) -> ArrayLike:
    """ADC area from the survey's area fit (uses the fitted energy)."""
    e = adc_survey_energy_pj(bits, node_nm, rate_hz)
    return np.exp(1.346 + 0.993 * np.log(node_nm) + 0.181 * np.log(rate_hz / 1e9) + 0.299 * np.log(e))


def adc_energy_pj(law: str, bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike, rate_hz: ArrayLike) -> ArrayLike:
    """Energy per conversion under the chosen law."""
    if law == "survey":
        return adc_survey_energy_pj(bits, node_nm, rate_hz)
    if law == "saberi":
        return _interp_log(bits, SABERI_BITS, SABERI_ENERGY_PJ) * (node_nm / SABERI_NODE) ** SURVEY_NODE_EXP_ENERGY
    if law == "sense_amp":
        levels = 2.0 ** np.asarray(bits, dtype=float) - 1
        return (SENSE_AMP_FIXED_PJ + SENSE_AMP_PER_LEVEL_PJ * levels) * energy_scale(node_nm, vdd_v)
    raise ValueError(f"unknown ADC law '{law}'")


def adc_area_um2(law: str, bits: ArrayLike, node_nm: ArrayLike, rate_hz: ArrayLike) -> ArrayLike:
    """Area of one ADC under the chosen law."""
    if law == "survey":
        return adc_survey_area_um2(bits, node_nm, rate_hz)
    if law == "saberi":
        return _interp_log(bits, SABERI_BITS, SABERI_AREA_UM2) * (node_nm / SABERI_NODE) ** SURVEY_NODE_EXP_AREA
    if law == "sense_amp":
        levels = 2.0 ** np.asarray(bits, dtype=float) - 1
        return (SENSE_AMP_FIXED_UM2 + SENSE_AMP_PER_LEVEL_UM2 * levels) * area_scale(node_nm)
    raise ValueError(f"unknown ADC law '{law}'")


# --- DAC ----------------------------------------------------------------------------------------------------
DAC_UNIT_CAP_FF = 1.0  # unit capacitor of a binary-weighted capacitive DAC (~1 fF MOM cap, Murmann lectures)
DAC_UNIT_AREA_UM2 = 1.0  # area of one ~1 fF MOM unit capacitor


def dac_energy_pj(bits: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy of one multi-bit DAC conversion: (2^b - 1) unit caps charged to V (1-bit: a driver)."""
    return (2.0 ** np.asarray(bits, dtype=float) - 1) * DAC_UNIT_CAP_FF * 1e-3 * vdd_v**2


def dac_area_um2(bits: ArrayLike, node_nm: ArrayLike) -> ArrayLike:
    """Area of one DAC: its unit caps plus a driver (~200 F^2 per bit)."""
    b = np.asarray(bits, dtype=float)
    return (2.0**b - 1) * DAC_UNIT_AREA_UM2 * (b > 1) + 200.0 * b * f2_um2(node_nm)


# --- layout constants of crossbar peripherals (NeuroSim V1.4 22 nm breakdown run "sram22_adc4") ----------------
# NeuroSim's 'accumulation' area / (number of ADCs x accumulator width): one bit of shift-add
# (adder, register, shifter) occupies ~17,000 F^2 in NeuroSim's standard-cell layout model.
ACCUMULATOR_F2_PER_BIT = 17_000.0
# NeuroSim's 'other' area per subarray (row decoder, word-line drivers, level shifters, column mux and
# switch matrices) per row-or-column of the subarray: 11.28 mm^2 / 9,473 subarrays / 256 lines.
PERIPHERY_F2_PER_LINE = 9_600.0
# ISAAC: one router of 150,000 um^2 at 32 nm shared by 4 tiles.
ROUTER_UM2_PER_TILE_32NM = 150_000.0 / 4
# Leakage power density of the chip's CMOS periphery at 22 nm, 0.8 V: NeuroSim breakdown runs give
# 0.252 uJ / 122.4 us / 73.84 mm^2 = 27.9 uW/mm^2 and 0.497 uJ / 203.2 us / 85.98 mm^2 = 28.4 uW/mm^2.
LEAKAGE_UW_PER_MM2_22NM = 28.0

# --- digital units for non-crossbar work ---------------------------------------------------------------------
MULT_8BIT_PJ_45NM = 0.2  # Horowitz ISSCC 2014: 8-bit integer multiply, 45 nm
DIGITAL_LANE_F2 = 400_000.0  # one 8-bit MAC lane with registers, ~190 um^2 at 22 nm (standard-cell estimate)


def mac_energy_pj(bits: ArrayLike, node_nm: ArrayLike, vdd_v: ArrayLike) -> ArrayLike:
    """Energy of one digital multiply-accumulate of ``bits`` operands (multiplier ~ bits^2)."""
    mult = MULT_8BIT_PJ_45NM * (np.asarray(bits, dtype=float) / 8.0) ** 2
    return mult * energy_scale(node_nm, vdd_v, HOROWITZ_NODE, HOROWITZ_VDD) + add_energy_pj(2 * bits, node_nm, vdd_v)
