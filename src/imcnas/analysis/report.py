"""The study report: ``write_report(DIR)`` reads ``DIR/study.db`` and writes

- ``front.csv``: one row per Pareto-optimal trial: number, objective values, the other values and every cost
  total present, fidelity, then the sample's keys;
- ``trials.csv``: every trial: number, state, reason, fidelity, elapsed_s, finished_at, on_front, values,
  sample;
- ``report.html``: one self-contained file (plotly.js inlined, works offline) with (a) the interactive Pareto
  front (2 objectives: scatter; 3: 3-D scatter; more: scatter matrix; every complete trial in grey, the front
  highlighted, hover shows the trial's number, values and design), (b) the hypervolume over trials,
  (c) stacked per-component energy and area bars of the front designs and (d) a table of the front;
- ``designs/trial_<n>/``: the front designs, exported by :func:`imcnas.analysis.export.export_designs`.

Hypervolume here is of objectives normalised to the final front (ideal -> 0, nadir -> 1; maximised
objectives negated first) with the reference point 1.1 in every objective, so runs of one study compare.
"""
from __future__ import annotations

import csv
import html
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from imcnas.analysis.export import export_designs
from imcnas.analysis.indicators import front_bounds, hv_history
from imcnas.analysis.pareto import StudyResults, as_matrix, load_results
from imcnas.errors import ConfigError
from imcnas.search.trial import Trial

__all__ = ["write_report", "front_rows", "trial_rows"]

PREFIX_ORDER = ("arch.", "hw.", "bits.", "prune.", "train.")
HOVER_SKIP = ("train.",)
GREY, FRONT, PALETTE = "#b0b0b0", "#d62728", ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                                               "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39")


# ------------------------------------------------------------------------------------------ tables
def _union(keys: Iterable[Iterable[str]]) -> list[str]:
    return list(dict.fromkeys(k for ks in keys for k in ks))


def _sample_keys(trials: Sequence[Trial]) -> list[str]:
    keys = _union(t.sample for t in trials)
    rank = {p: i for i, p in enumerate(PREFIX_ORDER)}
    return sorted(keys, key=lambda k: (next((rank[p] for p in PREFIX_ORDER if k.startswith(p)), len(rank)),
                                       keys.index(k)))


def _value_keys(res: StudyResults, trials: Sequence[Trial]) -> list[str]:
    return _union([[m.key for m in res.metrics], *(t.values for t in trials)])


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)
    return v


def front_rows(res: StudyResults, front: Sequence[Trial]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``front.csv``."""
    vkeys = _value_keys(res, front)
    ckeys = [k for k in _union(dict(t.info.get("cost") or {}) for t in front) if k not in vkeys]
    skeys = _sample_keys(front)
    header = ["number", *vkeys, *ckeys, "fidelity", *skeys]
    rows = []
    for t in front:
        cost = dict(t.info.get("cost") or {})
        rows.append([t.number, *(t.values.get(k) for k in vkeys), *(cost.get(k) for k in ckeys),
                     t.info.get("fidelity"), *(t.sample.get(k) for k in skeys)])
    return header, rows


def trial_rows(res: StudyResults, front: Sequence[Trial]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``trials.csv`` (every trial, in number order)."""
    on = {t.number for t in front}
    vkeys, skeys = _value_keys(res, res.trials), _sample_keys(res.trials)
    header = ["number", "state", "reason", "fidelity", "elapsed_s", "finished_at", "on_front", *vkeys, *skeys]
    rows = [[t.number, t.state.value, t.info.get("reason"), t.info.get("fidelity"), t.info.get("elapsed_s"),
             t.info.get("finished_at"), t.number in on, *(t.values.get(k) for k in vkeys),
             *(t.sample.get(k) for k in skeys)] for t in res.trials]
    return header, rows


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[_cell(v) for v in row] for row in rows])


# ------------------------------------------------------------------------------------------ figures
def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _label(m: Any) -> str:
    return f"{m.key} ({'min' if m.minimize else 'max'})"


def _hover(t: Trial, res: StudyResults) -> str:
    keys = [m.key for m in res.metrics]
    lines = [f"<b>trial {t.number}</b>"] + [f"{k}: {_fmt(t.values[k])}" for k in keys if k in t.values]
    extra = [k for k in ("energy_pj", "latency_ns", "area_mm2", "accuracy") if k in t.values and k not in keys]
    lines += [f"{k}: {_fmt(t.values[k])}" for k in extra]
    lines += [f"{html.escape(k)} = {_fmt(v)}" for k, v in t.sample.items() if not k.startswith(HOVER_SKIP)]
    return "<br>".join(lines)


def _no_data(text: str) -> str:
    return f'<p class="empty">{html.escape(text)}</p>'


def _front_figure(res: StudyResults, front: Sequence[Trial]) -> Any:
    import plotly.graph_objects as go

    on = {t.number for t in front}
    done = res.complete
    rest = [t for t in done if t.number not in on]
    keys = [m.key for m in res.metrics]
    c = res.counts()
    title = (f"Pareto front: {len(front)} of {len(done)} complete trials "
             f"({c['infeasible']} infeasible, {c['failed']} failed, {c['pruned']} pruned)")
    groups = [(rest, "dominated", dict(color=GREY, size=6, opacity=0.6)),
              (list(front), "Pareto front", dict(color=FRONT, size=9, line=dict(width=1, color="black")))]
    fig = go.Figure()
    if len(keys) >= 4:
        dims = lambda ts: [dict(label=_label(m), values=[t.values[m.key] for t in ts]) for m in res.metrics]
        for ts, name, marker in groups:
            fig.add_trace(go.Splom(dimensions=dims(ts), name=name, marker=marker, diagonal_visible=False,
                                   hovertext=[_hover(t, res) for t in ts], hoverinfo="text"))
        fig.update_layout(height=220 * len(keys))
    elif len(keys) == 3:
        for ts, name, marker in groups:
            marker = {**marker, "size": 6 if name == "Pareto front" else 3}
            fig.add_trace(go.Scatter3d(x=[t.values[keys[0]] for t in ts], y=[t.values[keys[1]] for t in ts],
                                       z=[t.values[keys[2]] for t in ts], mode="markers", name=name, marker=marker,
                                       hovertext=[_hover(t, res) for t in ts], hoverinfo="text"))
        fig.update_layout(height=650, scene=dict(xaxis_title=_label(res.metrics[0]),
                                                 yaxis_title=_label(res.metrics[1]),
                                                 zaxis_title=_label(res.metrics[2])))
    else:
        xs = (lambda ts: [t.values[keys[0]] for t in ts]) if len(keys) == 2 else (lambda ts: [t.number for t in ts])
        ykey = keys[1] if len(keys) == 2 else keys[0]
        step = "hv" if res.metrics[0].minimize else "vh"  # the staircase bounding the dominated region
        for ts, name, marker in groups:
            ts = sorted(ts, key=lambda t: (xs([t])[0], t.values[ykey]))
            line = name == "Pareto front" and len(keys) == 2
            fig.add_trace(go.Scatter(x=xs(ts), y=[t.values[ykey] for t in ts], name=name, marker=marker,
                                     mode="lines+markers" if line else "markers",
                                     line=dict(shape=step, color=FRONT, width=1) if line else None,
                                     hovertext=[_hover(t, res) for t in ts], hoverinfo="text"))
        fig.update_layout(height=520, xaxis_title=_label(res.metrics[0]) if len(keys) == 2 else "trial",
                          yaxis_title=_label(res.metrics[-1]))
    fig.update_layout(title=title, template="plotly_white", hoverlabel=dict(align="left"))
    return fig


def _hv_figure(res: StudyResults, front: Sequence[Trial]) -> tuple[Any, float]:
    import plotly.graph_objects as go

    bounds = front_bounds(as_matrix(front, res.metrics))
    hist = hv_history(res.trials, res.metrics, bounds=bounds)
    start = min((float(t.info["finished_at"]) for t in res.trials if "finished_at" in t.info), default=None)
    by_number = {t.number: t for t in res.trials}
    text = []
    for n, hv in hist:
        t = by_number[n]
        s = f"trial {n} ({t.state.value})<br>hypervolume {hv:.4g}"
        if start is not None and "finished_at" in t.info:
            s += f"<br>{float(t.info['finished_at']) - start:,.0f} s after the first trial finished"
        text.append(s)
    fig = go.Figure(go.Scatter(x=[n for n, _ in hist], y=[hv for _, hv in hist], mode="lines+markers",
                               line=dict(shape="hv", color=PALETTE[0]), marker=dict(size=4),
                               hovertext=text, hoverinfo="text", name="hypervolume"))
    fig.update_layout(title="Hypervolume of the front so far (objectives normalised to the final front, "
                            "reference point 1.1)", xaxis_title="trial", yaxis_title="hypervolume",
                      template="plotly_white", height=400)
    return fig, hist[-1][1] if hist else 0.0


def _bars_figure(front: Sequence[Trial]) -> Any | None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    with_b = [t for t in front if isinstance(t.info.get("breakdown"), dict)]
    if not with_b:
        return None
    names = [f"trial {t.number}" for t in with_b]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("energy per inference (pJ)", "area (mm²)"),
                        horizontal_spacing=0.08)
    comps = _union(list((t.info["breakdown"].get(kind) or {})) for t in with_b for kind in ("energy_pj", "area_mm2"))
    color = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(comps)}
    shown: set[str] = set()
    for col, kind in ((1, "energy_pj"), (2, "area_mm2")):
        for comp in comps:
            ys = [float((t.info["breakdown"].get(kind) or {}).get(comp, 0.0)) for t in with_b]
            if not any(ys):
                continue
            fig.add_trace(go.Bar(x=names, y=ys, name=comp, legendgroup=comp, marker_color=color[comp],
                                 showlegend=comp not in shown, hovertemplate=f"%{{x}}<br>{comp}: %{{y:.4g}}<extra></extra>"), row=1, col=col)
    fig.update_layout(barmode="stack", template="plotly_white", height=480,
                      title="Per-component energy and area of the front designs")
    return fig


# ------------------------------------------------------------------------------------------ page
CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{margin-bottom:.2em}section{margin:2em 0}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}th{background:#f4f4f4}
td.design{text-align:left;font-family:monospace;font-size:12px}.empty{color:#888;font-style:italic}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}dd{margin:0}"""


def _summary(res: StudyResults, front: Sequence[Trial], hv: float) -> str:
    cfg = res.config
    c = res.counts()
    items = [("study", str(res.out_dir)), ("dataset", (cfg.get("data") or {}).get("dataset", "?")),
             ("model family", (cfg.get("model") or {}).get("family", "?")), ("base hardware", cfg.get("hardware", "?")),
             ("objectives", ", ".join(_label(m) for m in res.metrics)),
             ("trials", ", ".join(f"{v} {k}" for k, v in c.items() if v) or "0"),
             ("Pareto front", f"{len(front)} designs"), ("hypervolume (normalised)", f"{hv:.4g}")]
    body = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items)
    conf = html.escape(json.dumps(cfg, indent=2, default=str))
    return f"<dl>{body}</dl><details><summary>experiment config</summary><pre>{conf}</pre></details>"


def _table(res: StudyResults, front: Sequence[Trial], exported: set[int]) -> str:
    keys = [m.key for m in res.metrics]
    extra = [k for k in ("energy_pj", "latency_ns", "area_mm2") if k not in keys and any(k in t.values for t in front)]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["trial", *keys, *extra, "fidelity", "design"])
    rows = []
    for t in front:
        n = str(t.number)
        link = f'<a href="designs/trial_{n}/design.json">{n}</a>' if t.number in exported else n
        cells = [link] + [_fmt(t.values.get(k, "")) for k in keys + extra] + [_fmt(t.info.get("fidelity", ""))]
        design = ", ".join(f"{html.escape(k)}={_fmt(v)}" for k, v in t.sample.items())
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + f'<td class="design">{design}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html(res: StudyResults, front: Sequence[Trial], exported: set[int]) -> str:
    from plotly.offline import get_plotlyjs

    def div(fig: Any) -> str:
        return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})

    sections: list[tuple[str, str]] = []
    if res.complete:
        hv_fig, hv = _hv_figure(res, front)
        sections.append(("Pareto front", div(_front_figure(res, front))))
        sections.append(("Hypervolume over trials", div(hv_fig)))
        bars = _bars_figure(front)
        sections.append(("Energy and area by component", div(bars) if bars is not None else
                         _no_data("no per-component breakdown stored for the front designs")))
        sections.append((f"Front designs ({len(front)})", _table(res, front, exported)))
    else:
        hv = 0.0
        sections.append(("Pareto front", _no_data("no complete trials yet: see trials.csv for the reasons")))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(f"<section><h2>{html.escape(h)}</h2>{s}</section>" for h, s in sections)
    title = f"imcnas report: {html.escape(str(res.out_dir))}"
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body><h1>{title}</h1>"
            f"{_summary(res, front, hv)}{body}<footer><p class='empty'>written {stamp}; data in front.csv, "
            f"trials.csv, designs/</p></footer></body></html>\n")


def write_report(out_dir: str | Path, url: str | None = None, export: bool = True) -> dict[str, Path]:
    """Write ``front.csv``, ``trials.csv``, ``report.html`` and (``export``) ``designs/`` into ``out_dir`` from
    its study (``out_dir/study.db``, or ``url``). Returns ``{file name: path}``; ``"designs"`` maps to the
    designs folder. A missing or empty study is a one-line ConfigError."""
    res = load_results(out_dir, url)
    unsorted = res.front
    order = np.lexsort(as_matrix(unsorted, res.metrics).T[::-1]) if unsorted else np.zeros(0, dtype=int)
    front = [unsorted[int(i)] for i in order]  # best first in the first objective
    out = res.out_dir
    paths = {"front.csv": out / "front.csv", "trials.csv": out / "trials.csv", "report.html": out / "report.html"}
    try:
        _write_csv(paths["front.csv"], *front_rows(res, front))
        _write_csv(paths["trials.csv"], *trial_rows(res, front))
        exported: set[int] = set()
        if export and front:
            exported = {int(p.name.split("_")[-1]) for p in export_designs(res, [t.number for t in front])}
            paths["designs"] = out / "designs"
        paths["report.html"].write_text(_html(res, front, exported), encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{out}: cannot write the report: {err}") from None
    return paths
