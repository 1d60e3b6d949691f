"""Comparison of the cost model with published figures (references/costmodel.yaml).

Used by tests/hardware/test_validation.py and benchmarks/validate_references.py. Each row names the reference,
the quantity, the published value, our estimate and the relative error. NeuroSim comparisons run the workload
NeuroSim actually simulates (valid convolutions, no padding) and divide by NeuroSim's own op count, so that
like is compared with like; macro comparisons price one fully used array and only the macro's components.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from imcnas.hardware import components as K
from imcnas.hardware.report import estimate
from imcnas.hardware.spec import load_chip
from imcnas.workload.ops import Op, OpKind, Workload
from imcnas.workload.table import from_layer_table

TOLERANCE = 0.25
MACRO_ENERGY = ("array", "adc", "dac", "accumulation", "leakage")
MACRO_AREA = ("array", "adc", "dac", "accumulation", "periphery")


@dataclass(frozen=True)
class Row:
    """One comparison."""

    reference: str
    quantity: str
    published: float
    estimate: float
    role: str = "validation"  # or "calibration": the constants were derived from this reference

    @property
    def error(self) -> float:
        """Relative error of the estimate."""
        return self.estimate / self.published - 1.0

    @property
    def ok(self) -> bool:
        """Within the tolerance."""
        return abs(self.error) <= TOLERANCE


def load_references(path: str | Path) -> dict[str, Any]:
    """Read the references YAML."""
    return yaml.safe_load(Path(path).read_text())


def neurosim_rows(ref: dict[str, Any]) -> list[Row]:
    """NeuroSim V1.4 VGG-8 rows (Table VII) and the two breakdown runs."""
    layers = ref["networks"]["vgg8_cifar"]["layers"]
    work = from_layer_table("vgg8-neurosim", layers, positions="valid")
    ops = 2 * 615.9e6  # NeuroSim's op count (input-size based, see neurosim_pitfalls)
    rows: list[Row] = []
    cases = [(f"NeuroSim V1.4 Table VII, parallel rows {r['parallel_rows']}", r["parallel_rows"], 5, None,
              {"area_mm2": r["area_mm2"], "tops": r["tops"], "tops_per_w": r["tops_per_w"]}, "validation")
             for r in ref["neurosim_v1_4"]["results"]]
    for b in ref["neurosim_v1_4_breakdowns"]:
        cfg = b["config"]
        cases.append((f"NeuroSim run {b['name']}", cfg["parallel_rows"], cfg["adc_bits"], b["clock_ns"],
                      {"area_mm2": b["area_mm2"]["chip"], "tops": b["tops"],
                       "tops_per_w": b["tops_per_w"]}, "calibration"))
    for name, par, bits, clock_ns, pub, role in cases:
        over = [f"crossbar.parallel_rows={par}", f"adc.bits={bits}"]
        if clock_ns:
            over.append(f"technology.clock_ghz={1.0 / clock_ns}")
        r = estimate(work, load_chip("neurosim-sram-22nm", over))
        est = {"area_mm2": r.area_mm2, "tops": ops / r.period_ns / 1e3, "tops_per_w": ops / (r.energy_pj * 1e-12) / 1e12}
        rows += [Row(name, q, float(pub[q]), float(est[q]), role) for q in ("area_mm2", "tops", "tops_per_w")]
    return rows


def isaac_rows(ref: dict[str, Any]) -> list[Row]:
    """ISAAC component figures against our ADC laws at 32 nm, 1.2 GS/s."""
    isaac = ref["isaac_32nm"]
    rows: list[Row] = []
    rate = isaac["adc_8bit"]["sample_rate_gs"] * 1e9
    for law in ("survey", "saberi"):
        e = float(K.adc_energy_pj(law, 8, 32.0, 1.0, rate))
        rows.append(Row("ISAAC 8-bit ADC (Kull ISSCC'13)", f"adc_energy_pj [{law}]",
                        isaac["adc_8bit"]["energy_pj_per_conversion"], e))
    rows.append(Row("ISAAC 8-bit ADC (Kull ISSCC'13)", "adc_area_um2 [saberi]", isaac["adc_8bit"]["area_um2"],
                    float(K.adc_area_um2("saberi", 8, 32.0, rate)), "calibration"))
    # one 128x128 read of ISAAC's crossbar: 0.3 mW over the 100 ns cycle = 30 pJ
    xb = isaac["crossbar_128x128_2bit_cell"]
    work = _macro_workload(128, 64, 1, vectors=1)  # 64 weights x 2 cells = 128 columns, 1 input bit
    r = estimate(work, load_chip("isaac-32nm", ["inputs.bits=1", "weights.bits=4", "mapping.duplication=1"]))
    rows.append(Row("ISAAC crossbar 128x128, 2-bit cells", "array_energy_pj_per_read", xb["power_mw"] * 100.0,
                    r.energy_breakdown_pj["array"]))
    rows.append(Row("ISAAC crossbar 128x128, 2-bit cells", "array_area_um2", xb["area_mm2"] * 1e6,
                    r.layers[0]["crossbars"] * 128 * 128 * 1.5 * (32e-3) ** 2, "calibration"))
    tab = isaac["adc_scaled_by_bits"]
    for b, e, a in zip(tab["bits"], tab["energy_pj"], tab["area_um2"]):
        rows.append(Row("ISAAC/Saberi ADC table", f"adc_energy_pj {b}b [saberi]", e,
                        float(K.adc_energy_pj("saberi", b, 32.0, 1.0, rate)), "calibration"))
    for s in ref["adc_survey_fit"]["sample_values_inferred"]:
        rows.append(Row(f"ADC survey fit, {s['node_nm']} nm {s['bits']} b", "adc_energy_pj [survey]", s["energy_pj"],
                        float(K.adc_energy_pj("survey", s["bits"], float(s["node_nm"]), 1.0, s["rate_gs"] * 1e9)),
                        "calibration" if s["bits"] == 4 else "validation"))
    return rows


def _macro_workload(rows: int, cols: int, copies: int, vectors: int = 1024) -> Workload:
    ops = tuple(Op(name=f"mvm{i}", kind=OpKind.MATRIX, module="Linear", rows=rows, cols=cols, vectors=vectors,
                   macs=rows * cols * vectors) for i in range(copies))
    return Workload("macro", ops)


def _macro(chip_name: str, over: list[str], work: Workload) -> dict[str, float]:
    r = estimate(work, load_chip(chip_name, over))
    ops = 2.0 * work.macs
    energy = sum(r.energy_breakdown_pj[k] for k in MACRO_ENERGY)
    area = sum(r.area_breakdown_mm2[k] for k in MACRO_AREA)
    tops = ops / r.period_ns / 1e3
    return {"tops": tops, "tops_per_w": ops / (energy * 1e-12) / 1e12, "tops_per_mm2": tops / area}


def macro_rows(ref: dict[str, Any]) -> list[Row]:
    """Jia et al. 2020 and NeuRRAM macro points, each configured as the chip was."""
    rows: list[Row] = []
    jia = ref["macros"]["jia_jssc2020"]
    for p in jia["points"]:
        est = _macro("jia-sram-65nm", [f"technology.vdd_v={p['supply_v']}", f"adc.energy_pj={p['adc_energy_pj']}"],
                     _macro_workload(768, 768, 1))
        rows += [Row(f"Jia JSSC'20 @ {p['supply_v']} V", q, float(p[q]), est[q]) for q in ("tops", "tops_per_w", "tops_per_mm2")]
    for p in ref["macros"]["neurram_nature2022"]["points"]:
        est = _macro("neurram-rram-130nm", [f"adc.bits={p['out_bits']}", f"inputs.bits={p['in_bits']}"],
                     _macro_workload(256, 128, 48))
        rows += [Row(f"NeuRRAM out {p['out_bits']} b / in {p['in_bits']} b", q, float(p[q]), est[q])
                 for q in ("tops", "tops_per_w")]
    return rows


def all_rows(path: str | Path) -> list[Row]:
    """Every comparison."""
    ref = load_references(path)
    return neurosim_rows(ref) + isaac_rows(ref) + macro_rows(ref)


def summary(rows: list[Row]) -> dict[str, float]:
    """Mean and max absolute error over validation rows, and how many are within tolerance."""
    val = [r for r in rows if r.role == "validation"]
    errs = np.abs([r.error for r in val])
    return {"rows": len(val), "within": int(sum(r.ok for r in val)), "mean_abs_error": float(errs.mean()),
            "max_abs_error": float(errs.max())}
