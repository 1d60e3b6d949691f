"""The terminal view of a cost report (``imcnas estimate``): headline figures, breakdowns, crossbar layers,
operations, dynamic matmuls and aggregation, unsupported ops. Rich tables; narrow terminals get lines."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

__all__ = ["print_report", "warn_unsupported"]

out = Console()
err = Console(stderr=True)


def _fmt(x: float) -> str:
    return f"{x:,.4g}"


def warn_unsupported(d: dict[str, Any]) -> None:
    """One warning line on stderr when the workload holds ops the cost model cannot price."""
    names = d.get("unsupported") or []
    if names:
        shown = ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
        err.print(f"[yellow]warning:[/] {len(names)} unsupported op(s) priced as one digital op per output element "
                  f"(a lower bound): {shown}", markup=True, highlight=False, soft_wrap=True)


def _print_layers(layers: list[dict[str, Any]]) -> None:
    """The crossbar layers: a table on terminals of 120 columns or more, else one wrapped line per layer (so
    names and shapes are never cut)."""
    def cells(L: dict[str, Any]) -> list[str]:
        return [f"{L['rows']}x{L['cols']}x{L['groups']}", f"{L['vectors']:,.0f}", f"{L['crossbars']:,.0f}",
                f"{L['duplication']:.0f}", f"{L['utilization']:.0%}", _fmt(L["energy_pj"] * 1e-6),
                _fmt(L["latency_ns"] * 1e-3), _fmt(L["area_mm2"])]

    heads = ["rows x cols x groups", "vectors", "crossbars", "dup", "util", "energy (uJ)", "latency (us)",
             "area (mm^2)"]
    if out.width < 120:
        out.print("[bold]crossbar layers[/] (" + ", ".join(heads) + ")", highlight=False)
        for L in layers:
            out.print(Text(f"{L['name']}: " + "  ".join(cells(L)), overflow="fold"), highlight=False)
        return
    lay = Table(title="crossbar layers")
    lay.add_column("layer", overflow="fold")
    for col in heads:
        lay.add_column(col, justify="right", no_wrap=True)
    for L in layers:
        lay.add_row(escape(L["name"]), *cells(L))
    out.print(lay)


def _print_ops(ops: list[dict[str, Any]]) -> None:
    """Every operation: where it runs, its module and its MACs / output elements (one line each when narrow)."""
    if out.width < 100:
        out.print("[bold]operations[/] (unit, module, MACs, output elements)", highlight=False)
        for o in ops:
            out.print(Text(f"{o['name']}: {o['kind']}  {o['module']}  {o['macs']:,.0f}  {o['elements']:,.0f}",
                           overflow="fold"), highlight=False)
        return
    t = Table(title="operations")
    t.add_column("op", overflow="fold")
    for col in ("unit", "module", "MACs", "output elements"):
        t.add_column(col, justify="left" if col in ("unit", "module") else "right", no_wrap=True)
    for o in ops:
        t.add_row(escape(o["name"]), o["kind"], escape(o["module"]), f"{o['macs']:,.0f}", f"{o['elements']:,.0f}")
    out.print(t)


def _print_dynamic(d: dict[str, Any]) -> None:
    """The digital units' energy by kind, and each dynamic matmul / aggregation with where it ran."""
    parts = {k: v for k, v in (d.get("digital_breakdown_pj") or {}).items() if v > 0}
    if parts:
        t = Table(title="digital units by kind")
        t.add_column("kind")
        t.add_column("energy (uJ)", justify="right")
        for k, v in sorted(parts.items(), key=lambda kv: -kv[1]):
            t.add_row("ReLU/BN/pool/add (per flop)" if k == "flops" else k, _fmt(v * 1e-6))
        out.print(t)
    rows = d.get("dynamic_ops") or []
    if not rows:
        return
    t = Table(title="dynamic matmuls and aggregation")
    t.add_column("op", overflow="fold")
    for col in ("ran on", "MACs / adds", "energy (uJ)", "of it writes (uJ)", "latency (us)"):
        t.add_column(col, justify="left" if col == "ran on" else "right", no_wrap=True)
    for r in rows:
        t.add_row(escape(r["name"]), r["unit"], f"{max(r['macs'], r['flops']):,.0f}", _fmt(r["energy_pj"] * 1e-6),
                  _fmt(r["write_energy_pj"] * 1e-6), _fmt(r["latency_ns"] * 1e-3))
    out.print(t)


def print_report(d: dict[str, Any], every_op: bool = False) -> None:
    head = Table(title=escape(f"{d['workload']} on {d['chip']}"), show_header=False)
    rows = [("energy / inference", f"{d['energy_pj'] * 1e-6:,.4g} uJ"),
            ("latency (layer by layer)", f"{d['latency_ns'] * 1e-3:,.4g} us"),
            ("pipeline period", f"{d['period_ns'] * 1e-3:,.4g} us"),
            ("read cycle (clock)", f"{d['clock_ns']:,.4g} ns"),
            ("throughput", f"{d['throughput_ips']:,.4g} inferences/s"), ("area", f"{d['area_mm2']:,.4g} mm^2"),
            ("TOPS", _fmt(d["tops"])), ("TOPS/W", _fmt(d["tops_per_w"])), ("TOPS/mm^2", _fmt(d["tops_per_mm2"])),
            ("EDP", f"{_fmt(d['edp_pj_ns'])} pJ*ns"), ("MACs", f"{d['macs']:,.0f}"), ("tiles", f"{d['tiles']:,.0f}")]
    for k, v in rows:
        head.add_row(k, v)
    out.print(head)
    comp = Table(title="breakdown")
    comp.add_column("component")
    comp.add_column("energy (uJ)", justify="right")
    comp.add_column("area (mm^2)", justify="right")
    e, a = d["breakdown"]["energy_pj"], d["breakdown"]["area_mm2"]
    for k in sorted(set(e) | set(a), key=lambda k: -e.get(k, 0)):
        comp.add_row(k, _fmt(e[k] * 1e-6) if k in e else "-", _fmt(a[k]) if k in a else "-")
    out.print(comp)
    _print_layers(d["layers"])
    _print_dynamic(d)
    kinds: dict[str, list[float]] = {}
    for o in d.get("ops", []):
        k = kinds.setdefault(o["kind"], [0, 0.0, 0.0])
        k[0], k[1], k[2] = k[0] + 1, k[1] + o["macs"], k[2] + o["elements"]
    if every_op:
        _print_ops(d.get("ops", []))
    ops = Table(title="operations by kind (crossbar / dynamic / digital / unsupported)")
    for col in ("kind", "ops", "MACs", "output elements"):
        ops.add_column(col, justify="left" if col == "kind" else "right")
    for kind in ("crossbar", "dynamic", "digital", "unsupported"):
        if kind in kinds:
            n, macs, el = kinds[kind]
            ops.add_row(kind, f"{n:,.0f}", f"{macs:,.0f}", f"{el:,.0f}")
    out.print(ops)
    bad = [o for o in d.get("ops", []) if o["kind"] == "unsupported"]
    if bad:
        t = Table(title="unsupported ops (not priced faithfully)")
        for col in ("op", "module", "reason"):
            t.add_column(col)
        for o in bad:
            t.add_row(escape(o["name"]), escape(o["module"]), escape(o.get("reason", "")))
        out.print(t)
    warn_unsupported(d)
