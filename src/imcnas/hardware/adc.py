"""Stand-alone ADC laws (SAR / flash converters as published), numpy only. NeuroSim's current-mode multi-level
sense amplifier, the third law, is a circuit of the array and lives in sense_amp.py / cost.py."""
from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | float

# --- ADC laws ------------------------------------------------------------------------------------------
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


def adc_energy_pj(law: str, bits: ArrayLike, node_nm: ArrayLike, rate_hz: ArrayLike) -> ArrayLike:
    """Energy per conversion of a stand-alone ADC (law "survey" or "saberi")."""
    if law == "survey":
        return adc_survey_energy_pj(bits, node_nm, rate_hz)
    if law == "saberi":
        return _interp_log(bits, SABERI_BITS, SABERI_ENERGY_PJ) * (node_nm / SABERI_NODE) ** SURVEY_NODE_EXP_ENERGY
    raise ValueError(f"unknown ADC law '{law}'")


def adc_area_um2(law: str, bits: ArrayLike, node_nm: ArrayLike, rate_hz: ArrayLike) -> ArrayLike:
    """Area of one stand-alone ADC (law "survey" or "saberi")."""
    if law == "survey":
        return adc_survey_area_um2(bits, node_nm, rate_hz)
    if law == "saberi":
        return _interp_log(bits, SABERI_BITS, SABERI_AREA_UM2) * (node_nm / SABERI_NODE) ** SURVEY_NODE_EXP_AREA
    raise ValueError(f"unknown ADC law '{law}'")
