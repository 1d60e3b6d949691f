"""Compare the cost model with NeuroSim V1.4 runs and published component figures; write docs/validation.md and
docs/figures/costmodel_vs_neurosim.png. Every estimate comes from imcnas.estimate / estimate_batch.

Usage: python benchmarks/validate_references.py [data_dir] [out.md]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from imcnas.hardware.evidence import (DATA, ENERGY_PARTS, HEADLINE, component_rows, load_all, neurosim_rows,
                                      summary, trend_rows)

ROOT = Path(__file__).resolve().parents[1]
FULL_COLS = HEADLINE + ("clock_ns",) + ENERGY_PARTS + ("energy_leakage_pj",)
AREA_COLS = ("chip_area_mm2", "area_adc_mm2", "area_accumulation_mm2", "area_other_mm2", "area_interconnect_mm2")
SHORT = {"chip_area_mm2": "area", "tops": "TOPS", "tops_per_w": "TOPS/W", "clock_ns": "clock",
         "energy_adc_pj": "E adc", "energy_accumulation_pj": "E accum", "energy_other_pj": "E other",
         "energy_buffer_pj": "E buffer", "energy_interconnect_pj": "E ic", "energy_leakage_pj": "E leak",
         "area_adc_mm2": "A adc", "area_accumulation_mm2": "A accum", "area_other_mm2": "A other",
         "area_interconnect_mm2": "A ic", "area_array_mm2": "A array"}


def _per_run_table(rows, refs: list[str], cols: tuple[str, ...]) -> list[str]:
    by = {(r.reference, r.quantity): r for r in rows}
    out = ["| run | role | " + " | ".join(SHORT[c] for c in cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for ref in refs:
        cells = [f"{by[(ref, c)].error:+.0%}" if (ref, c) in by else "" for c in cols]
        role = next(r.role for r in rows if r.reference == ref)
        out.append(f"| {ref.replace('NeuroSim ', '')} | {role} | " + " | ".join(cells) + " |")
    return out


def _summary_table(rows) -> list[str]:
    cal, val = summary(rows, "calibration"), summary(rows, "validation")
    out = ["| quantity | validation n | validation median abs error | validation max | calibration n | "
           "calibration median | calibration max |", "|---|---:|---:|---:|---:|---:|---:|"]
    for q in sorted(set(cal) | set(val), key=lambda q: (q not in HEADLINE, q)):
        v, c = val.get(q, {}), cal.get(q, {})
        fmt = lambda d, k: f"{d[k]:.1%}" if k in d else "-"
        out.append(f"| {SHORT.get(q, q)} | {v.get('n', 0)} | {fmt(v, 'median')} | {fmt(v, 'max')} | {c.get('n', 0)} | "
                   f"{fmt(c, 'median')} | {fmt(c, 'max')} |")
    return out


def _plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    for role, colour in (("calibration", "tab:blue"), ("validation", "tab:red")):
        pts = [(r.published, r.estimate) for r in rows if r.role == role and r.quantity != "area_array_mm2"]
        x, y = np.array(pts).T
        ax.scatter(x, y, s=9, alpha=0.6, c=colour, label=f"{role} ({len(pts)} points)")
    lo, hi = 1e-2, 1e10
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    for f in (0.75, 1.25):
        ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlim(lo, hi), ax.set_ylim(lo, hi)
    ax.set_xlabel("NeuroSim V1.4"), ax.set_ylabel("imcnas")
    ax.set_title("imcnas vs NeuroSim: one point per run and metric\n(areas mm2, energies pJ, TOPS, TOPS/W, clock ns; "
                 "dotted: +-25 %)", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "validation.md"
    data = load_all(data_dir)
    rows = neurosim_rows(data)
    comp = component_rows(data)
    trends = trend_rows(data)
    val = summary(rows, "validation")
    lines = [
        "# Cost-model validation",
        "",
        "Written by `benchmarks/validate_references.py`; every imcnas figure comes from `imcnas.estimate_batch` /",
        "`imcnas.estimate` on a NeuroSim preset with the run's settings (`hardware/validation.py`, `hardware/evidence.py`).",
        "Rows are labelled by what they are:",
        "",
        "- **calibration**: some constant was fitted on it (`benchmarks/fit_costmodel.py`: the 18 shared NeuroSim runs",
        "  in NeuroSim's calibrated mode (the one `_novalidated` run is another simulator setting and is left out), the",
        "  60 shared area runs and the runs of our own NeuroSim build marked calibration);",
        "- **self-check**: it reads back a table or formula the model contains;",
        "- **validation**: independent of every constant (runs of our own NeuroSim build, same commit and method as the",
        "  shared runs, never used for fitting; `tests/data/neurosim_generated.yaml`, field `role`).",
        "",
        "How the split was made: the roles of our own runs were fixed before the model's errors on them were seen. The",
        "first out-of-sample check showed 1T1R chips with 256 and 512 rows 2-3x too large (row drivers priced per row);",
        "those two area runs then moved to calibration, the row-driver model changed, and a second batch of 16 held-out",
        "area runs (other nodes, arrays, cell bits, DenseNet-40, ResNet-18) was made and is reported here. Two model",
        "changes were prompted by held-out runs, though not fitted on them: NeuroSim's per-node mux-decoder driver",
        "sizing (`neurosim_compat`), found in its code after its 45 and 32 nm runs showed read cycles 3x slower than",
        "ours, and the 1T1R row-driver block above; a later re-reading of the mux sizing that made the held-out clocks",
        "worse was reverted. No constant was ever fitted on a validation run.",
        "",
        "The headline is the validation rows only. NeuroSim compares its own workload (valid convolutions, its op",
        "count); component energies exclude its post-layout factor zeta = 1.22, TOPS/W includes it, as NeuroSim prints them.",
        "",
        f"**Validation (out of sample)**: median |error| chip area {val['chip_area_mm2']['median']:.1%} "
        f"(n={val['chip_area_mm2']['n']}), TOPS {val['tops']['median']:.1%}, TOPS/W {val['tops_per_w']['median']:.1%} "
        f"(n={val['tops']['n']} full runs); worst {max(val[q]['max'] for q in HEADLINE):.0%}.",
        "",
        "## Summary by quantity",
        "",
        *_summary_table(rows),
        "",
        "![ours vs NeuroSim](figures/costmodel_vs_neurosim.png)",
        "",
        "## Full NeuroSim runs (energy, latency, area)",
        "",
        "Errors are imcnas / NeuroSim - 1. `E other` is NeuroSim's 'other' (row drivers, mux, buffers, interconnect).",
        "",
    ]
    full_refs = list(dict.fromkeys(r.reference for r in rows if "area-only" not in r.reference))
    lines += _per_run_table(rows, full_refs, FULL_COLS)
    lines += ["", "## Area-only NeuroSim runs", "",
              "Array area is exact in every run (the floorplan reproduces NeuroSim's tile and subarray counts).", ""]
    area_refs = list(dict.fromkeys(r.reference for r in rows if "area-only" in r.reference))
    lines += _per_run_table(rows, area_refs, AREA_COLS)
    lines += ["", "## Published component figures", "",
              "| reference | quantity | published | imcnas | error | role |", "|---|---|---:|---:|---:|---|"]
    lines += [f"| {r.reference} | {r.quantity} | {r.published:.4g} | {r.estimate:.4g} | {r.error:+.1%} | {r.role} |"
              for r in comp]
    lines += ["", "## Trends (pairs of runs that differ in one knob)", "",
              "A trend agrees when our ratio moves the same way as NeuroSim's (or both are flat: within 2 % / 5 %).", "",
              "| knob | role | pairs | agree |", "|---|---|---:|---:|"]
    for knob in sorted({t["knob"] for t in trends}):
        for role in ("calibration", "validation"):
            ts = [t for t in trends if t["knob"] == knob and t["role"] == role]
            if ts:
                lines.append(f"| {knob} | {role} | {len(ts)} | {sum(t['agree'] for t in ts)} |")
    bad = [t for t in trends if not t["agree"]]
    lines += ["", f"Disagreeing trends: {len(bad)} of {len(trends)}.", ""]
    if bad:
        lines += ["| knob | from | to | metric | NeuroSim ratio | imcnas ratio | role |", "|---|---|---|---|---:|---:|---|"]
        lines += [f"| {t['knob']} | {t['from']} | {t['to']} | {t['metric']} | {t['neurosim']:.3f} | {t['ours']:.3f} | "
                  f"{t['role']} |" for t in bad]
    lines += ["", "## Known gaps", "", *KNOWN_GAPS, ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    _plot(rows, out.parent / "figures" / "costmodel_vs_neurosim.png")
    for q in HEADLINE:
        print(f"validation {q}: median {val[q]['median']:.1%} max {val[q]['max']:.1%} (n={val[q]['n']})")
    print(f"trends: {len(trends) - len(bad)} of {len(trends)} agree; written {out}")


KNOWN_GAPS = [
    "- **Nanosheet nodes (2 and 1 nm)**: NeuroSim's sense amplifiers and buses grow in area at 2 and 1 nm (their",
    "  layout rules); ours follow the gate-area table only, so ADC and interconnect area are 50-75 % low there and",
    "  chip area 25-45 % low; the 3 -> 2 nm area trend points the wrong way.",
    "- **5 -> 3 nm throughput**: NeuroSim's 3 nm chip is 2.5 % faster than its 5 nm one, ours 1 % slower (a",
    "  small read-cycle difference at the FinFET nodes).",
    "- **Interconnect area** (H-tree and bus repeaters) is the least accurate area part (median ~11 %): NeuroSim",
    "  sizes repeaters by an R/C loop per node that we replace by one fitted area per bit and length.",
    "- **RRAM vs SRAM throughput** at 22 nm: NeuroSim's RRAM chips are 1-4 % faster (no precharge, shorter",
    "  H-tree hops in cycles); ours are 3-7 % slower, because our H-tree transfer time grows with the larger RRAM",
    "  tiles. Small, but a trend the wrong way.",
    "- **Silicon macros** (Jia JSSC'20 charge-domain SRAM, NeuRRAM) are not compared here: their circuits",
    "  (charge-sharing readout, integrate-and-convert neurons) are the component plug-in issue's work.",
    "- **ISAAC crossbar read energy** is 3x ISAAC's 0.3 mW figure: ISAAC's read voltage and pulse are not in our",
    "  references; the preset uses PUMA/NeuroSim-class values.",
]


if __name__ == "__main__":
    main()
