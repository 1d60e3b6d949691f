"""The validation table: every comparison of the cost model with a reference, labelled by role, plus trends.

Sources (tests/data/): ``neurosim_runs.yaml`` (the shared NeuroSim V1.4 runs: all calibration),
``neurosim_generated.yaml`` (our own NeuroSim builds, each run labelled calibration or validation),
``costmodel.yaml`` (published component figures: ISAAC, the ADC survey). Every estimate comes from the public
API (``estimate`` / ``estimate_batch``); nothing is hand-computed here.
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from imcnas.hardware import adc as A
from imcnas.hardware.report import estimate
from imcnas.hardware.spec import load_chip
from imcnas.hardware.validation import Row, load_references, ours_vs_neurosim, run_label
from imcnas.workload.ops import Op, OpKind, Workload

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"
HEADLINE = ("chip_area_mm2", "tops", "tops_per_w")
ENERGY_PARTS = ("energy_adc_pj", "energy_accumulation_pj", "energy_other_pj", "energy_buffer_pj",
                "energy_interconnect_pj")
KNOBS = ("network", "memcelltype", "technode_nm", "subarray", "numRowParallel", "levelOutput", "cellBit")


def load_all(data_dir: str | Path = DATA) -> dict[str, Any]:
    """The three reference files and the network tables."""
    d = Path(data_dir)
    shared = load_references(d / "neurosim_runs.yaml")
    gen = load_references(d / "neurosim_generated.yaml")
    return {"shared": shared, "generated": gen, "networks": gen["networks"],
            "components": load_references(d / "costmodel.yaml")}


def _config(run: dict[str, Any]) -> dict[str, Any]:
    return run.get("config", run)


def neurosim_rows(data: dict[str, Any]) -> list[Row]:
    """One row per (NeuroSim run, metric): headline figures, area and energy components, clock."""
    rows: list[Row] = []
    nets = data["networks"]
    groups = [("shared", data["shared"]["runs"], False, lambda r: "calibration"),
              ("shared", data["shared"]["area_only_runs"], True, lambda r: "calibration"),
              ("generated", data["generated"]["runs"], False, lambda r: r["role"]),
              ("generated", data["generated"]["area_only_runs"], True, lambda r: r["role"])]
    for source, runs, area_only, role in groups:
        # the model is NeuroSim's validated (calibrated) mode; a run with the calibration off is another
        # simulator setting and is left out
        runs = [r for r in runs if _config(r).get("validated", True)]
        for run, m in zip(runs, ours_vs_neurosim(runs, nets, area_only=area_only)):
            ref = f"NeuroSim {'area-only ' if area_only else ''}{run_label(run)} ({source})"
            r_role = role(run)
            rows += [Row(ref, q, float(v[1]), float(v[0]), r_role) for q, v in m.items() if v[1] > 0]
    return rows


def trend_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Pairs of NeuroSim runs that differ in exactly one knob: does our ratio point the same way?

    Agreement: the same sign of change, or a flat pair (NeuroSim and ours both within 2 % and 5 %)."""
    out: list[dict[str, Any]] = []
    nets = data["networks"]
    for source, runs, area_only in (("shared", data["shared"]["runs"], False),
                                    ("generated", data["generated"]["runs"], False),
                                    ("shared", data["shared"]["area_only_runs"], True),
                                    ("generated", data["generated"]["area_only_runs"], True)):
        runs = [r for r in runs if _config(r).get("validated", True)]
        metrics = ours_vs_neurosim(runs, nets, area_only=area_only)
        keyed = [(tuple(str(_config(r).get(k, "VGG8" if k == "network" else "")) for k in KNOBS), r, m)
                 for r, m in zip(runs, metrics)]
        for (ka, ra, ma), (kb, rb, mb) in combinations(keyed, 2):
            diff = [KNOBS[i] for i in range(len(KNOBS)) if ka[i] != kb[i]]
            if len(diff) != 1:
                continue
            for q in (HEADLINE if not area_only else ("chip_area_mm2",)):
                ns = mb[q][1] / ma[q][1]
                ours = mb[q][0] / ma[q][0]
                flat = abs(np.log(ns)) < 0.02 and abs(np.log(ours)) < 0.05
                agree = flat or bool(np.sign(np.log(ns)) == np.sign(np.log(ours)))
                role = "validation" if "validation" in (ra.get("role"), rb.get("role")) else "calibration"
                out.append({"knob": diff[0], "from": run_label(ra), "to": run_label(rb), "metric": q,
                            "neurosim": float(ns), "ours": float(ours), "agree": bool(agree), "role": role,
                            "source": source})
    return out


def component_rows(data: dict[str, Any]) -> list[Row]:
    """ISAAC and ADC-survey figures against our laws, through the public API where a chip is involved."""
    ref = data["components"]
    isaac = ref["isaac_32nm"]
    rate = isaac["adc_8bit"]["sample_rate_gs"] * 1e9
    rows = [Row("ISAAC 8-bit ADC (Kull ISSCC'13)", "adc_energy_pj [survey law]",
                isaac["adc_8bit"]["energy_pj_per_conversion"], float(A.adc_energy_pj("survey", 8, 32.0, rate))),
            Row("ISAAC 8-bit ADC (Kull ISSCC'13)", "adc_energy_pj [saberi law]",
                isaac["adc_8bit"]["energy_pj_per_conversion"], float(A.adc_energy_pj("saberi", 8, 32.0, rate)),
                "self-check")]
    tab = isaac["adc_scaled_by_bits"]
    for b, e in zip(tab["bits"], tab["energy_pj"]):
        rows.append(Row("ISAAC/Saberi ADC table", f"adc_energy_pj {b}b [saberi law]", e,
                        float(A.adc_energy_pj("saberi", b, 32.0, rate)), "self-check"))
    for s in ref["adc_survey_fit"]["sample_values_inferred"]:
        rows.append(Row(f"ADC survey fit, {s['node_nm']} nm {s['bits']} b", "adc_energy_pj [survey law]",
                        s["energy_pj"], float(A.adc_energy_pj("survey", s["bits"], float(s["node_nm"]), s["rate_gs"] * 1e9)),
                        "self-check"))
    # one fully used ISAAC crossbar (64 weights x 2 cells = 128 columns), one 1-bit input vector
    work = Workload("isaac-crossbar", (Op(name="mvm", kind=OpKind.MATRIX, module="Linear", rows=128, cols=64,
                                          vectors=1, macs=128 * 64),))
    chip = load_chip("isaac-32nm", ["inputs.bits=1", "weights.bits=4", "mapping.duplication=1", "hierarchy.tiles=1",
                                    "hierarchy.crossbars_per_pe=1", "hierarchy.pes_per_tile=1"])
    r = estimate(work, chip)  # one tile of one PE of one crossbar
    xb = isaac["crossbar_128x128_2bit_cell"]
    rows.append(Row("ISAAC crossbar 128x128, 2-bit cells", "array_area_um2 per crossbar",
                    xb["area_mm2"] * 1e6, r.area_breakdown_mm2["array"] * 1e6, "calibration"))
    rows.append(Row("ISAAC crossbar 128x128, 2-bit cells", "array_energy_pj_per_read", xb["power_mw"] * 100.0,
                    r.energy_breakdown_pj["array"] / chip.calibration.energy_overhead))
    return rows


def summary(rows: list[Row], role: str = "validation") -> dict[str, dict[str, float]]:
    """Median and max |error| per quantity over rows of one role."""
    out: dict[str, dict[str, float]] = {}
    for q in sorted({r.quantity for r in rows if r.role == role}):
        errs = np.abs([r.error for r in rows if r.role == role and r.quantity == q])
        out[q] = {"n": int(errs.size), "median": float(np.median(errs)), "max": float(errs.max())}
    return out
