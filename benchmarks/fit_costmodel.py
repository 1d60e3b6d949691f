"""Fit the cost model's gate-equivalent constants (components.AREA_GATES, ENERGY_LOADS, TIME, LEAKAGE_GATES)
on the NeuroSim V1.4 training runs, all at once: one value per constant for every node, array size, ADC and
device. Prints the fitted values and the training errors; the values are then written into components.py
by hand (so the model has no hidden state). Held-out runs are never read here.

Training set: the shared NeuroSim runs (tests/data/neurosim_runs.yaml) and the runs of our own NeuroSim build
labelled ``role: calibration`` in tests/data/neurosim_generated.yaml. Usage: python benchmarks/fit_costmodel.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from imcnas.hardware import components as K
from imcnas.hardware.validation import load_references, ours_vs_neurosim

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PARAMS = [("AREA_GATES", k) for k in K.AREA_GATES] + [("ENERGY_LOADS", k) for k in K.ENERGY_LOADS] + \
    [("TIME", k) for k in K.TIME] + [("LEAKAGE", "gates"), ("FINFET", "ratio")]
AREA_METRICS = ("chip_area_mm2", "area_adc_mm2", "area_accumulation_mm2", "area_other_mm2", "area_interconnect_mm2")
FULL_METRICS = AREA_METRICS + ("energy_adc_pj", "energy_accumulation_pj", "energy_other_pj", "energy_buffer_pj",
                               "energy_interconnect_pj", "energy_leakage_pj", "clock_ns", "tops", "tops_per_w")
# Physical ranges (gate areas, gate loads, gate delays): a fit that leaves them is not a circuit
BOUNDS = {"adder_bit": (6, 40), "dff_bit": (4, 40), "encoder_level": (0.5, 20), "precharge_col": (2, 40),
          "switch_row": (0.5, 60), "mux_col": (1e-3, 10), "level_shift_line": (5, 300), "nvm_switch_row": (2, 200),
          "interconnect": (1e-3, 100), "column": (0.5, 200), "nvm_column": (1, 1000), "driver_block": (10, 1e5), "nvm_driver_block": (10, 1e6), "adc_fixed": (1, 300), "reference_columns": (0.5, 32), "ratio": (0.1, 3), "buffer_bit": (4, 200), "wire_repeater": (0.1, 10),
          "periphery_gate_delays": (10, 1000), "wire_delay": (1, 1000), "bus_driver_gate_delays": (1, 5000), "gates": (0.1, 10)}
ENERGY_BOUNDS = {"column_read": (0.1, 1000), "adder_bit": (5, 400), "dff_bit": (4, 200), "switch_row": (0.5, 100), "mux_col": (1e-3, 10)}


def _set(values: np.ndarray) -> None:
    for (group, key), v in zip(PARAMS, values):
        if group == "LEAKAGE":
            K.LEAKAGE_GATES = float(v)
        elif group == "FINFET":
            K.FINFET_LOAD_RATIO = float(v)
        else:
            getattr(K, group)[key] = float(v)


def _get() -> np.ndarray:
    special = {"LEAKAGE": lambda: K.LEAKAGE_GATES, "FINFET": lambda: K.FINFET_LOAD_RATIO}
    return np.array([special[g]() if g in special else getattr(K, g)[k] for g, k in PARAMS])


def residuals(log_values: np.ndarray, runs, area_runs, ref) -> np.ndarray:
    """Log-ratio errors over every training metric."""
    _set(np.exp(log_values))
    res = []
    for m in ours_vs_neurosim(runs, ref):
        res += [np.log(m[k][0] / m[k][1]) for k in FULL_METRICS]
    for m in ours_vs_neurosim(area_runs, ref, area_only=True):
        res += [np.log(max(m[k][0], 1e-9) / m[k][1]) for k in AREA_METRICS]
    return np.array(res)


def main() -> None:
    data, ref = load_references(DATA / "neurosim_runs.yaml"), load_references(DATA / "costmodel.yaml")
    gen = load_references(DATA / "neurosim_generated.yaml")
    ref = gen["networks"]
    # NeuroSim's validated (calibrated) mode is what the model represents; a run with the calibration off
    # (beta, gamma, delta = 1) is a different simulator setting, shown in the validation table only
    runs = [r for r in data["runs"] + [g for g in gen["runs"] if g["role"] == "calibration"]
            if r["config"].get("validated", True)]
    area_runs = data["area_only_runs"] + [g for g in gen["area_only_runs"] if g["role"] == "calibration"]
    lo = np.log([(ENERGY_BOUNDS if g == "ENERGY_LOADS" and k in ENERGY_BOUNDS else BOUNDS)[k][0] for g, k in PARAMS])
    hi = np.log([(ENERGY_BOUNDS if g == "ENERGY_LOADS" and k in ENERGY_BOUNDS else BOUNDS)[k][1] for g, k in PARAMS])
    x0 = np.clip(np.log(_get()), lo + 1e-6, hi - 1e-6)
    fit = least_squares(residuals, x0, args=(runs, area_runs, ref), bounds=(lo, hi),
                        x_scale=1.0, diff_step=1e-3, max_nfev=400)
    _set(np.exp(fit.x))
    r = residuals(fit.x, runs, area_runs, ref)
    print(f"median |log error| {np.median(np.abs(r)):.3f}; max {np.max(np.abs(r)):.3f}")
    full = r[: len(runs) * len(FULL_METRICS)].reshape(len(runs), len(FULL_METRICS))
    for j, k in enumerate(FULL_METRICS):
        print(f"  {k:24s} median {np.median(np.abs(full[:, j])):.3f} max {np.max(np.abs(full[:, j])):.3f}")
    area = r[len(runs) * len(FULL_METRICS):].reshape(len(area_runs), len(AREA_METRICS))
    for j, k in enumerate(AREA_METRICS):
        print(f"  area-only {k:24s} median {np.median(np.abs(area[:, j])):.3f} max {np.max(np.abs(area[:, j])):.3f}")
    for (g, k), v in zip(PARAMS, np.exp(fit.x)):
        print(f"{g}[{k!r}] = {v:.4g}")


if __name__ == "__main__":
    main()
