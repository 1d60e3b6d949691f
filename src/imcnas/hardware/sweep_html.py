"""The sweep's self-contained HTML page: trade-off and per-field effect figures (plotly, imported when the page
is written), the Pareto-optimal chips and the chips not priced."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from imcnas.hardware.sweep import SweepResult

__all__ = ["PLOT", "sweep_html"]

PLOT = {"energy_pj": (1e-6, "energy (µJ)"), "latency_ns": (1e-3, "latency (µs)"), "area_mm2": (1.0, "area (mm²)"),
        "tops_per_w": (1.0, "TOPS/W")}  # figure scale and axis title of each drawn cost


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _hover(r: Mapping[str, Any], fields: Sequence[str]) -> str:
    lines = [f"<b>{html.escape(r['chip'])}</b>"] + [f"{html.escape(f)} = {html.escape(_fmt(r[f]))}" for f in fields]
    lines += [f"{PLOT[k][1]}: {r[k] * PLOT[k][0]:.4g}" for k in PLOT]
    return "<br>".join(lines + (["<b>Pareto-optimal</b>"] if r["pareto"] else []))


def _is_numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _tradeoff_figure(res: SweepResult) -> Any:
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    ok = [r for r in res.rows if r["status"] == "ok"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("energy vs area", "energy vs latency"))
    ys = ("area_mm2", "latency_ns")
    palette = qualitative.Plotly + qualitative.D3
    visible_sets: list[list[int]] = []
    count = 0
    for fi, f in enumerate(res.fields):
        mine: list[int] = []
        vals = res.values[f]
        numeric = _is_numeric(vals) and len(vals) > len(palette)
        groups = [(None, ok)] if numeric else [(v, [r for r in ok if r[f] == v]) for v in vals]
        for gi, (v, rs) in enumerate(groups):
            if not rs:
                continue
            for c, y in enumerate(ys):
                marker: dict[str, Any] = {"size": 8, "opacity": 0.8}
                if numeric:
                    marker.update(color=[r[f] for r in rs], colorscale="Viridis", showscale=c == 0,
                                  colorbar={"title": f, "x": 1.02})
                else:
                    marker["color"] = palette[gi % len(palette)]
                fig.add_trace(go.Scatter(
                    x=[r["energy_pj"] * 1e-6 for r in rs], y=[r[y] * PLOT[y][0] for r in rs], mode="markers",
                    marker=marker,
                    name=f if numeric else f"{f} = {_fmt(v)}", legendgroup=f"{f}={v}", showlegend=c == 0,
                    visible=fi == 0, hovertext=[_hover(r, res.fields) for r in rs], hoverinfo="text"),
                    row=1, col=c + 1)
                mine.append(count)
                count += 1
        visible_sets.append(mine)
    front = [r for r in ok if r["pareto"]]
    front_idx = []
    for c, y in enumerate(ys):
        order = sorted(front, key=lambda r: r["energy_pj"])
        fig.add_trace(go.Scatter(
            x=[r["energy_pj"] * 1e-6 for r in order], y=[r[y] * PLOT[y][0] for r in order], mode="markers",
            marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": "#d62728", "width": 2}},
            name="Pareto-optimal (energy, latency, area)", legendgroup="pareto", showlegend=c == 0,
            hovertext=[_hover(r, res.fields) for r in order], hoverinfo="text"), row=1, col=c + 1)
        front_idx.append(count)
        count += 1
    for c, y in enumerate(ys):
        fig.update_xaxes(title_text=PLOT["energy_pj"][1], type="log", row=1, col=c + 1)
        fig.update_yaxes(title_text=PLOT[y][1], type="log", row=1, col=c + 1)
    if len(res.fields) > 1:
        buttons = []
        for f, mine in zip(res.fields, visible_sets):
            vis = [i in mine or i in front_idx for i in range(count)]
            buttons.append({"label": f"colour: {f}", "method": "restyle", "args": [{"visible": vis}]})
        fig.update_layout(updatemenus=[{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.2, "yanchor": "top"}])
    fig.update_layout(template="plotly_white", height=520, hoverlabel={"align": "left"},
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 90})
    return fig


def _effects_figure(res: SweepResult) -> Any:
    """Per field: the median of each cost over the other fields' combinations (bars: their min to max)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    ok = [r for r in res.rows if r["status"] == "ok"]
    metrics = tuple(PLOT)
    fig = make_subplots(rows=len(res.fields), cols=len(metrics), vertical_spacing=min(0.12, 0.5 / len(res.fields)),
                        horizontal_spacing=0.07, subplot_titles=[PLOT[m][1] for m in metrics] +
                        [""] * (len(metrics) * (len(res.fields) - 1)))
    for fi, f in enumerate(res.fields):
        vals = res.values[f]
        xs, med, lo, hi = [], {m: [] for m in metrics}, {m: [] for m in metrics}, {m: [] for m in metrics}
        for v in vals:
            rs = [r for r in ok if r[f] == v]
            if not rs:
                continue
            xs.append(v if _is_numeric(vals) else str(v))
            for m in metrics:
                a = np.array([r[m] * PLOT[m][0] for r in rs])
                med[m].append(float(np.median(a)))
                lo[m].append(float(np.median(a) - a.min()))
                hi[m].append(float(a.max() - np.median(a)))
        for c, m in enumerate(metrics):
            colour = qualitative.Plotly[fi % len(qualitative.Plotly)]
            fig.add_trace(go.Scatter(x=xs, y=med[m], mode="lines+markers", name=f, showlegend=False,
                                     line={"color": colour}, marker={"color": colour},
                                     error_y={"type": "data", "symmetric": False, "array": hi[m], "arrayminus": lo[m],
                                              "thickness": 1},
                                     hovertemplate=f"{f} = %{{x}}<br>median {PLOT[m][1]}: %{{y:.4g}}<extra></extra>"),
                          row=fi + 1, col=c + 1)
            fig.update_xaxes(title_text=f, row=fi + 1, col=c + 1,
                             type="linear" if _is_numeric(vals) else "category")
            fig.update_yaxes(type="log", row=fi + 1, col=c + 1)
    fig.update_layout(template="plotly_white", height=max(320, 280 * len(res.fields)), margin={"t": 60})
    return fig


def _table_html(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def sweep_html(res: SweepResult) -> str:
    """The sweep as one self-contained HTML page (plotly.js inlined, as the study report does)."""
    from plotly.offline import get_plotlyjs

    from imcnas.analysis.report import CSS  # the study report's page style

    def div(fig: Any) -> str:
        return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})

    c = res.counts()
    title = f"imcnas sweep: {res.workload} on {res.base}"
    items = [("workload", res.workload), ("base chip", res.base),
             ("fixed overrides", ", ".join(res.overrides) or "none"),
             *((f"grid {f}", ", ".join(_fmt(v) for v in res.values[f])) for f in res.fields),
             ("chips", f"{len(res)}: {c['ok']} priced, {c['infeasible']} infeasible (fixed tile count too small or device "
                       f"endurance exceeded), "
                       f"{c['skipped']} skipped (refused by the spec)"),
             ("Pareto-optimal", f"{c['pareto']} in (energy, latency, area), all minimised")]
    summary = "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items) + "</dl>"
    sections = []
    if c["ok"]:
        sections.append(("Trade-offs", "<p class='note'>Each point is a chip; colours follow a grid field (the "
                         "menu switches it); red rings mark the Pareto-optimal chips. Log axes.</p>" +
                         div(_tradeoff_figure(res))))
        sections.append(("Effect of each field", "<p class='note'>Median over the other fields' combinations; "
                         "bars span their minimum to maximum.</p>" + div(_effects_figure(res))))
        head = [*res.fields, "energy (uJ)", "latency (us)", "area (mm²)", "TOPS/W", "chip"]
        rows = [[*(r[f] for f in res.fields), r["energy_pj"] * 1e-6, r["latency_ns"] * 1e-3, r["area_mm2"],
                 r["tops_per_w"], r["chip"]] for r in res.pareto_rows()]
        sections.append((f"Pareto-optimal chips ({len(rows)})", _table_html(head, rows)))
    else:
        sections.append(("Trade-offs", "<p class='empty'>no chip could be priced: see the reasons below</p>"))
    bad = [r for r in res.rows if r["status"] != "ok"]
    if bad:
        sections.append((f"Skipped and infeasible chips ({len(bad)})",
                         _table_html([*res.fields, "status", "reason"],
                                     [[*(r[f] for f in res.fields), r["status"], r["reason"]] for r in bad])))
    body = "".join(f"<section><h2>{html.escape(h)}</h2>{s}</section>" for h, s in sections)
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<h1>{html.escape(title)}</h1>{summary}{body}<footer><p class='empty'>data in sweep.csv</p></footer>"
            f"</body></html>\n")
