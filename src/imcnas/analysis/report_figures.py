"""The plotly figures of the study report (:mod:`imcnas.analysis.report`).

Every figure takes the study's results and the front (duplicate-sample records already left out) and returns
a plotly Figure, or None when the study holds nothing to draw. Axis titles carry units; traces that repeat
across subplots share a ``legendgroup`` and only the first shows in the legend.
"""
from __future__ import annotations

import html
import itertools
import math
from typing import Any, Sequence

from imcnas.analysis.indicators import study_hv_history
from imcnas.analysis.pareto import StudyResults
from imcnas.analysis.report_tables import fmt, fmt_time, metric_label, sample_keys, unit_of
from imcnas.search.trial import Trial

__all__ = ["FRONT", "GREY", "PALETTE", "accuracy_figure", "bars_figure", "front_figure", "hv_figure", "pairwise_figure",
           "parallel_figure"]

GREY, FRONT = "#b0b0b0", "#d62728"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#393b79", "#637939", "#843c39")
HOVER_SKIP = ("train.",)
DOMINATED, ON_FRONT = "dominated (complete)", "Pareto front"


def _hover(t: Trial, res: StudyResults) -> str:
    keys = [m.key for m in res.metrics]
    lines = [f"<b>trial {t.number}</b>"] + [f"{k}: {fmt(t.values[k])} {unit_of(k)}".rstrip() for k in keys
                                             if k in t.values]
    extra = [k for k in ("energy_pj", "latency_ns", "area_mm2", "accuracy") if k in t.values and k not in keys]
    lines += [f"{k}: {fmt(t.values[k])} {unit_of(k)}".rstrip() for k in extra]
    lines += [f"{html.escape(k)} = {fmt(v)}" for k, v in t.sample.items() if not k.startswith(HOVER_SKIP)]
    return "<br>".join(lines)


def _groups(res: StudyResults, front: Sequence[Trial]) -> list[tuple[list[Trial], str, dict[str, Any]]]:
    on = {t.number for t in front}
    rest = [t for t in res.complete if t.number not in on and t.info.get("duplicate_of") is None]
    return [(rest, DOMINATED, dict(color=GREY, size=6, opacity=0.6)),
            (list(front), ON_FRONT, dict(color=FRONT, size=9, line=dict(width=1, color="black")))]


def _title(res: StudyResults, front: Sequence[Trial]) -> str:
    c = res.counts()
    done = [t for t in res.complete if t.info.get("duplicate_of") is None]
    dups = sum(t.info.get("duplicate_of") is not None for t in res.trials)
    extra = f", {dups} duplicate samples" if dups else ""
    return (f"Pareto front: {len(front)} of {len(done)} complete trials "
            f"({c['infeasible']} infeasible, {c['failed']} failed, {c['pruned']} pruned{extra})")


def front_figure(res: StudyResults, front: Sequence[Trial]) -> Any:
    """The front: 1 objective: value per trial; 2: scatter with the front's staircase; 3: 3-D scatter;
    4 and more: the pairwise projections (:func:`pairwise_figure`)."""
    import plotly.graph_objects as go

    keys = [m.key for m in res.metrics]
    if len(keys) >= 4:
        fig = pairwise_figure(res, front)
        fig.update_layout(title=_title(res, front))
        return fig
    groups = _groups(res, front)
    fig = go.Figure()
    if len(keys) == 3:
        for ts, name, marker in groups:
            marker = {**marker, "size": 6 if name == ON_FRONT else 3}
            fig.add_trace(go.Scatter3d(x=[t.values[keys[0]] for t in ts], y=[t.values[keys[1]] for t in ts],
                                       z=[t.values[keys[2]] for t in ts], mode="markers", name=name, marker=marker,
                                       hovertext=[_hover(t, res) for t in ts], hoverinfo="text"))
        fig.update_layout(height=650, margin=dict(l=0, r=0, t=60, b=10),
                          scene=dict(xaxis_title=metric_label(res.metrics[0]),
                                                 yaxis_title=metric_label(res.metrics[1]),
                                                 zaxis_title=metric_label(res.metrics[2]),
                                                 camera=dict(eye=dict(x=1.7, y=1.7, z=1.1))))
    else:
        xs = (lambda ts: [t.values[keys[0]] for t in ts]) if len(keys) == 2 else (lambda ts: [t.number for t in ts])
        ykey = keys[1] if len(keys) == 2 else keys[0]
        step = "hv" if res.metrics[0].minimize else "vh"  # the staircase bounding the dominated region
        for ts, name, marker in groups:
            ts = sorted(ts, key=lambda t: (xs([t])[0], t.values[ykey]))
            line = name == ON_FRONT and len(keys) == 2
            fig.add_trace(go.Scatter(x=xs(ts), y=[t.values[ykey] for t in ts], name=name, marker=marker,
                                     mode="lines+markers" if line else "markers",
                                     line=dict(shape=step, color=FRONT, width=1) if line else None,
                                     hovertext=[_hover(t, res) for t in ts], hoverinfo="text"))
        fig.update_layout(height=520, xaxis_title=metric_label(res.metrics[0]) if len(keys) == 2 else "trial number",
                          yaxis_title=metric_label(res.metrics[-1]))
    fig.update_layout(title=_title(res, front), template="plotly_white", hoverlabel=dict(align="left"),
                      legend=dict(orientation="h", y=-0.12))
    return fig


def pairwise_figure(res: StudyResults, front: Sequence[Trial], cols: int = 3) -> Any | None:
    """One 2-D scatter per pair of objectives, ``cols`` panels a row, dominated trials grey and the front (of
    all objectives) red; one legend for all panels. None for fewer than 3 objectives."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ms = list(res.metrics)
    if len(ms) < 3:
        return None
    pairs = list(itertools.combinations(range(len(ms)), 2))
    cols = max(1, min(cols, len(pairs)))
    rows = math.ceil(len(pairs) / cols)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.09, vertical_spacing=min(0.3 / rows, 0.12))
    for p, (i, j) in enumerate(pairs):
        r, c = p // cols + 1, p % cols + 1
        for ts, name, marker in _groups(res, front):
            fig.add_trace(go.Scatter(x=[t.values[ms[i].key] for t in ts], y=[t.values[ms[j].key] for t in ts],
                                     mode="markers", name=name, legendgroup=name, showlegend=p == 0,
                                     marker={**marker, "size": 8 if name == ON_FRONT else 5},
                                     hovertext=[_hover(t, res) for t in ts], hoverinfo="text"), row=r, col=c)
        fig.update_xaxes(title_text=metric_label(ms[i]), row=r, col=c)
        fig.update_yaxes(title_text=metric_label(ms[j]), row=r, col=c)
    fig.update_layout(height=max(650, 230 * rows + 120) if cols == 1 else 330 * rows + 120, template="plotly_white",
                      hoverlabel=dict(align="left"), margin=dict(l=70, r=20, t=60, b=50),
                      title="Pairwise 2-D projections (red: the front)",
                      legend=dict(orientation="h", yanchor="top", y=-0.3 / rows))
    return fig


def hv_figure(res: StudyResults) -> tuple[Any, float]:
    """The study hypervolume (:func:`imcnas.analysis.indicators.study_hypervolume`) of the trials up to each
    trial number, and its final value."""
    import plotly.graph_objects as go

    hist = study_hv_history(res.trials, res.metrics)
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
                               hovertext=text, hoverinfo="text", name="hypervolume", showlegend=False))
    m = len(res.metrics)
    fig.update_layout(title=f"Hypervolume of the trials so far (normalised over the study, reference point 1.1; "
                            f"at most 1.1^{m} = {1.1 ** m:.3g})",
                      xaxis_title="trial number", yaxis_title="hypervolume (normalised, unitless)",
                      template="plotly_white", height=400)
    return fig, hist[-1][1] if hist else 0.0


def bars_figure(front: Sequence[Trial]) -> Any | None:
    """Stacked per-component energy and area of the front designs (None without stored breakdowns)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    with_b = [t for t in front if isinstance(t.info.get("breakdown"), dict)]
    if not with_b:
        return None
    names = [f"trial {t.number}" for t in with_b]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("energy per inference", "area"), horizontal_spacing=0.1)
    comps = [c for c in dict.fromkeys(c for t in with_b for kind in ("energy_pj", "area_mm2")
                                      for c in (t.info["breakdown"].get(kind) or {}))]
    color = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(comps)}
    shown: set[str] = set()
    for col, kind, unit in ((1, "energy_pj", "pJ"), (2, "area_mm2", "mm²")):
        for comp in comps:
            ys = [float((t.info["breakdown"].get(kind) or {}).get(comp, 0.0)) for t in with_b]
            if not any(ys):
                continue
            fig.add_trace(go.Bar(x=names, y=ys, name=comp, legendgroup=comp, marker_color=color[comp],
                                 showlegend=comp not in shown,
                                 hovertemplate=f"%{{x}}<br>{comp}: %{{y:.4g}} {unit}<extra></extra>"), row=1, col=col)
            shown.add(comp)
        fig.update_yaxes(title_text=f"{kind.split('_')[0]} [{unit}]", row=1, col=col)
        fig.update_xaxes(title_text="front design", row=1, col=col)
    fig.update_layout(barmode="stack", template="plotly_white", height=480, legend_title_text="component",
                      title="Per-component energy and area of the front designs")
    return fig


def _accuracy_record(t: Trial) -> dict[str, Any] | None:
    acc = t.info.get("accuracy")
    if not isinstance(acc, dict) or not acc.get("ok", True):
        return None
    times, mean = acc.get("times_s") or [], acc.get("mean") or []
    if not times or len(times) != len(mean):
        return None
    return acc


def accuracy_figure(front: Sequence[Trial]) -> Any | None:
    """Accuracy (mean ± std over the Monte-Carlo repeats) against drift time after programming for the
    front designs with a stored ``info["accuracy"]`` (an ``AccuracyResult.to_dict()``); the digital
    (floating-point) accuracy as a dotted line of the same colour. None when no front design has one."""
    import plotly.graph_objects as go

    recs = [(t, a) for t in front if (a := _accuracy_record(t)) is not None]
    if not recs:
        return None
    fig = go.Figure()
    all_times = sorted({float(x) for _, a in recs for x in a["times_s"]})
    log = all(x > 0 for x in all_times)
    for k, (t, a) in enumerate(recs):
        color = PALETTE[k % len(PALETTE)]
        xs = [float(x) for x in a["times_s"]]
        std = a.get("std") or [0.0] * len(xs)
        fig.add_trace(go.Scatter(x=xs, y=a["mean"], mode="lines+markers", name=f"trial {t.number}",
                                 legendgroup=str(t.number), line=dict(color=color),
                                 error_y=dict(type="data", array=std, visible=True, thickness=1),
                                 customdata=[fmt_time(x) for x in xs],
                                 hovertemplate=f"trial {t.number}<br>t = %{{customdata}}<br>accuracy %{{y:.3g}} % "
                                               f"± %{{error_y.array:.2g}}<extra></extra>"))
        digital = a.get("digital")
        if isinstance(digital, (int, float)) and math.isfinite(digital) and len(all_times) > 1:
            fig.add_trace(go.Scatter(x=[all_times[0], all_times[-1]], y=[digital, digital], mode="lines",
                                     name=f"trial {t.number} digital", legendgroup=str(t.number), showlegend=False,
                                     line=dict(color=color, dash="dot", width=1),
                                     hovertemplate=f"trial {t.number}: digital (floating-point) accuracy "
                                                   f"{digital:.3g} %<extra></extra>"))
    xaxis: dict[str, Any] = dict(title="time after programming (drift)", tickvals=all_times,
                                 ticktext=[fmt_time(x) for x in all_times])
    if log:
        xaxis["type"] = "log"
    fig.update_layout(title="Accuracy of the front designs over drift time (mean ± std over repeats; "
                            "dotted: floating-point accuracy)", xaxis=xaxis, yaxis_title="accuracy [%]",
                      template="plotly_white", height=460, legend_title_text="front design")
    return fig


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _dimension(key: str, values: list[Any]) -> dict[str, Any] | None:
    """A parcoords dimension for one sample key: numbers as they are (log10 when they span 3+ decades),
    anything else (or a missing value) as category indices with tick labels; None for a constant."""
    present = [v for v in values if v is not None]
    if len(set(map(repr, present))) <= 1 and len(present) == len(values):
        return None
    if present and all(_is_number(v) for v in present) and len(present) == len(values):
        xs = [float(v) for v in values]
        lo, hi = min(xs), max(xs)
        if lo > 0 and hi / lo >= 1e3:
            return dict(label=f"log10({key})", values=[math.log10(x) for x in xs])
        levels = sorted(set(xs))
        if len(levels) <= 12:  # a few levels (a choice, a small int range): tick each one
            return dict(label=key, values=xs, tickvals=levels, ticktext=[f"{x:g}" for x in levels])
        return dict(label=key, values=xs)
    first = {repr(v): v for v in reversed(present)}
    cats = sorted(first, key=lambda r: (0, float(first[r]), "") if _is_number(first[r]) else (1, 0.0, str(first[r])))
    if len(present) < len(values):
        cats.append(repr(None))
    names = {r: str(first[r]) if r in first else "n/a" for r in cats}
    if len(cats) > 40:
        return None  # too many distinct values to read as categories
    index = {r: i for i, r in enumerate(cats)}
    return dict(label=key, values=[index[repr(v)] for v in values], tickvals=list(range(len(cats))),
                ticktext=[names[r] for r in cats])


def parallel_figure(res: StudyResults, front: Sequence[Trial]) -> tuple[Any, list[str]] | tuple[None, list[str]]:
    """Parallel coordinates of the design parameters (sample keys; categories as indices with tick labels)
    and the objectives of every complete trial, coloured by an objective (a menu picks which). Also returns
    the sample keys left out (constant, or too many categories)."""
    import plotly.graph_objects as go

    ts = [t for t in res.complete if t.info.get("duplicate_of") is None]
    if len(ts) < 2:
        return None, []
    dims, skipped = [], []
    for key in sample_keys(ts):
        d = _dimension(key, [t.sample.get(key) for t in ts])
        if d is None:
            skipped.append(key)
        else:
            dims.append(d)
    for m in res.metrics:
        dims.append(dict(label=metric_label(m, short=True), values=[t.values[m.key] for t in ts]))
    colors = [[t.values[m.key] for t in ts] for m in res.metrics]

    def line(i: int) -> dict[str, Any]:
        m = res.metrics[i]
        return dict(color=colors[i], colorscale="Viridis", reversescale=m.minimize, showscale=True,
                    colorbar=dict(title=dict(text=metric_label(m, short=True), side="right")))

    fig = go.Figure(go.Parcoords(dimensions=dims, line=line(0), labelangle=-30, labelside="top"))
    buttons = [dict(label=f"colour: {m.key}", method="restyle",
                    args=[{"line.color": [colors[i]], "line.reversescale": m.minimize,
                           "line.colorbar.title.text": metric_label(m, short=True)}])
               for i, m in enumerate(res.metrics)]
    fig.update_layout(template="plotly_white", height=600, margin=dict(l=70, r=70, t=190, b=40),
                      title=dict(text=f"Design parameters and objectives of the {len(ts)} complete trials "
                                      f"(colour: better is brighter; drag along an axis to filter)", y=0.98),
                      updatemenus=[dict(buttons=buttons, x=1.0, xanchor="right", y=1.45, yanchor="top")]
                      if len(buttons) > 1 else [])
    return fig, skipped
