"""Hybrid chips: the layers of one network mapped to different macro types, e.g. the first and last layers on
a digital SRAM CIM macro (exact, no ADC) and the rest on RRAM crossbars.

A chip with a ``hybrid:`` section is the *main* macro ("self"); ``hybrid.macros`` names the others. Every
crossbar layer goes to the macro that ``hybrid.first`` / ``hybrid.last`` / ``hybrid.layers`` (name globs,
first match) give it, else to the main one. Each macro prices its own layers with the full cost model (its own
tiles, periphery, buffers, clock); digital work (activations, pooling, attention, ...) stays on the main chip.
The totals combine them as one chip that runs the layers in order:

- energy and area add up; latency adds up (the macros take turns on each inference);
- the pipelined period is the slowest macro's period (each macro is a pipeline stage of its own layers) when
  every macro pipelines, else the latency;
- TOPS and TOPS/W follow from the network's ops over that period and energy.

Because the assignment is a chip field, ``hw.hybrid.first: [self, digital]`` in a search space searches it.
"""
from __future__ import annotations

import fnmatch
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING, Any

from imcnas.workload.ops import OpKind, Workload

if TYPE_CHECKING:
    from imcnas.hardware.report import CostReport
    from imcnas.hardware.spec import Chip

__all__ = ["assignment", "estimate_hybrid", "layer_macros", "macro_chips"]


def macro_chips(chip: "Chip") -> dict[str, "Chip"]:
    """``{"self": the chip without its hybrid section, name: each other macro}``."""
    from imcnas.hardware.spec import load_chip

    assert chip.hybrid is not None
    out = {"self": chip.model_copy(update={"hybrid": None})}
    for name, ref in chip.hybrid.macros.items():
        out[name] = load_chip(ref)
    return out


def layer_macros(names: list[str], chip: "Chip") -> list[str]:
    """The macro of each crossbar layer, given the layers' names in order: the first glob of
    ``hybrid.layers`` that matches, else ``hybrid.first`` / ``hybrid.last`` for the first / last layer, else
    "self". The cost model and the accuracy simulation both use this, so they agree."""
    h = chip.hybrid
    out = []
    for i, name in enumerate(names):
        hit = next((m for pat, m in (h.layers.items() if h else []) if fnmatch.fnmatchcase(name, pat)), None)
        if hit is None and h is not None:
            hit = h.first if i == 0 else h.last if i == len(names) - 1 else None
        out.append(hit or "self")
    return out


def assignment(work: Workload, chip: "Chip") -> list[str]:
    """The macro of every crossbar layer of ``work``, in order."""
    return layer_macros([op.name for op in work.matrix_ops], chip)


def _part(work: Workload, keep: set[int], main: bool) -> Workload:
    """The ops of ``work`` one macro runs: its crossbar layers (by position), and the digital work if main."""
    ops, j = [], 0
    for op in work.ops:
        if op.kind is OpKind.MATRIX:
            if j in keep:
                ops.append(op)
            j += 1
        elif main:
            ops.append(op)
    return dc_replace(work, ops=tuple(ops))


def estimate_hybrid(work: Workload, chip: "Chip") -> "CostReport":
    """Price ``work`` on a hybrid chip: each macro its own layers, combined as the module docstring says."""
    from imcnas.hardware.report import CostReport, estimate

    macros = macro_chips(chip)
    where = assignment(work, chip)
    reports: dict[str, CostReport] = {}
    for name, sub in macros.items():
        keep = {i for i, m in enumerate(where) if m == name}
        if not keep and name != "self":
            continue
        reports[name] = estimate(_part(work, keep, name == "self"), sub)
    tot: dict[str, Any] = {}
    add = ("energy_pj", "latency_ns", "area_mm2")
    for k in add:
        tot[k] = sum(r.totals[k] for r in reports.values())
    pipelined = all(m.mapping.pipeline for n, m in macros.items() if n in reports)
    tot["period_ns"] = max(r.totals["period_ns"] for r in reports.values()) if pipelined else tot["latency_ns"]
    ops = 2.0 * float(work.macs)
    tot["throughput_ips"] = 1e9 / tot["period_ns"]
    tot["tops"] = ops / (tot["period_ns"] * 1e-9) / 1e12
    tot["tops_per_w"] = ops / (tot["energy_pj"] * 1e-12) / 1e12
    tot["tops_per_mm2"] = tot["tops"] / tot["area_mm2"]
    tot["edp_pj_ns"] = tot["energy_pj"] * tot["latency_ns"]
    tot["edap_pj_ns_mm2"] = tot["edp_pj_ns"] * tot["area_mm2"]
    tot["clock_ns"] = reports["self"].totals["clock_ns"]
    tot["tiles"] = sum(r.totals["tiles"] for r in reports.values())
    tot["feasible"] = float(all(r.totals.get("feasible", 1.0) for r in reports.values()))
    tot["macs"] = float(work.macs)
    tot["weights"] = float(work.weights)
    energy = {k: sum(r.energy_breakdown_pj.get(k, 0.0) for r in reports.values())
              for k in reports["self"].energy_breakdown_pj}
    area = {k: sum(r.area_breakdown_mm2.get(k, 0.0) for r in reports.values()) for k in reports["self"].area_breakdown_mm2}
    layers, seen = [], {n: 0 for n in reports}
    for name in where:
        row = dict(reports[name].layers[seen[name]])
        seen[name] += 1
        row["macro"] = name if name != "self" else chip.name
        layers.append(row)
    main = reports["self"]
    return CostReport(chip=chip.display_name, workload=work.name, totals=tot, energy_breakdown_pj=energy,
                      area_breakdown_mm2=area, layers=layers, ops=work.op_table(), unsupported=list(work.unsupported),
                      digital_breakdown_pj=main.digital_breakdown_pj, dynamic_ops=main.dynamic_ops)
