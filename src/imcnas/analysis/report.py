"""The study report: ``write_report(DIR)`` reads ``DIR/study.db`` and writes

- ``front.csv``: one row per Pareto-optimal trial: number, objective values, the other values and every cost
  total present, fidelity, then the sample's keys;
- ``trials.csv``: every trial: number, state, stage, reason, duplicate_of, fidelity, elapsed_s, finished_at,
  on_front, values, sample;
- ``report.html``: one self-contained file (plotly.js and a few lines of plain JavaScript inlined, no
  network needed) with a summary, the Pareto front (2 objectives: scatter; 3: 3-D scatter beside its
  pairwise 2-D projections; more: the pairwise projections), the hypervolume over trials, accuracy against
  drift time of the front designs, parallel coordinates of the design parameters, per-component energy and
  area bars, the front table, the failure/rejection reasons, and every trial in a filterable table;
- ``designs/trial_<n>/``: the front designs, exported by :func:`imcnas.analysis.export.export_designs`.

The front leaves out duplicate-sample records (``info["duplicate_of"]`` set). The hypervolume is
:func:`imcnas.analysis.indicators.study_hypervolume`, the number the terminal shows during a search; the
page states its definition. Figures: :mod:`imcnas.analysis.report_figures`; tables:
:mod:`imcnas.analysis.report_tables`.
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from imcnas.analysis.export import export_designs
from imcnas.analysis.indicators import STUDY_HV_DEFINITION
from imcnas.analysis.pareto import StudyResults, as_matrix, load_results
from imcnas.analysis.report_figures import (accuracy_figure, bars_figure, front_figure, hv_figure, pairwise_figure,
                                            parallel_figure)
from imcnas.analysis.report_tables import (failures_html, front_rows, front_table, metric_label, trial_rows,
                                           trials_table, write_csv)
from imcnas.errors import ConfigError
from imcnas.search.trial import Trial

__all__ = ["write_report", "front_rows", "report_front", "trial_rows"]


# ------------------------------------------------------------------------------------------ page
CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1360px;color:#222;
padding:0 1em}h1{margin-bottom:.2em;font-size:1.6em;word-break:break-all}section{margin:2.5em 0}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;
vertical-align:top}th{background:#f4f4f4;position:sticky;top:0;cursor:default}#trials-table th{cursor:pointer}
td.design,td.text{text-align:left}td.design{font-family:monospace;font-size:12px}.empty{color:#888;font-style:italic}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}dd{margin:0}
nav a{margin-right:1em}.note{color:#555;font-size:14px;max-width:60em}
.beside{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1em}
.filters{display:flex;flex-wrap:wrap;gap:.4em 1.2em;align-items:center;margin:.5em 0}.filters label{cursor:pointer}
.scroll{max-height:700px;overflow:auto;border:1px solid #eee}
td.state.complete{color:#2a7d2a}td.state.failed{color:#c62828}td.state.infeasible{color:#b26a00}
td.state.pruned{color:#666}"""


def _summary(res: StudyResults, front: Sequence[Trial], hv: float) -> str:
    cfg = res.config
    c = res.counts()
    m = len(res.metrics)
    items = [("study", str(res.out_dir)), ("dataset", (cfg.get("data") or {}).get("dataset", "?")),
             ("model family", (cfg.get("model") or {}).get("family", "?")), ("base hardware", cfg.get("hardware", "?")),
             ("objectives", ", ".join(metric_label(x) for x in res.metrics)),
             ("trials", ", ".join(f"{v} {k}" for k, v in c.items() if v) or "0"),
             ("Pareto front", f"{len(front)} designs"),
             ("hypervolume", f"{hv:.4g} (of at most 1.1^{m} = {1.1 ** m:.4g}; normalised over the study's complete "
                             "trials, reference point 1.1: see 'Hypervolume over trials')")]
    body = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items)
    conf = html.escape(json.dumps(cfg, indent=2, default=str))
    return (f"<dl>{body}</dl><details><summary>experiment config</summary><pre>{conf}</pre></details>")


def _div(fig: Any) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _no_data(text: str) -> str:
    return f'<p class="empty">{html.escape(text)}</p>'


def _sections(res: StudyResults, front: Sequence[Trial],
              exported: set[int]) -> tuple[list[tuple[str, str, str]], float]:
    """(anchor, heading, html) of each section, and the study hypervolume."""
    out: list[tuple[str, str, str]] = []
    hv = 0.0
    if res.complete:
        main = front_figure(res, front)
        pair = pairwise_figure(res, front, cols=1) if len(res.metrics) == 3 else None
        if pair is not None:
            pair.update_layout(showlegend=False)  # the 3-D view beside it has the legend
            body = f'<div class="beside"><div>{_div(main)}</div><div>{_div(pair)}</div></div>'
        else:
            body = _div(main)
        out.append(("front", "Pareto front", body))
        hv_fig, hv = hv_figure(res)
        out.append(("hv", "Hypervolume over trials", f"<p class='note'>{html.escape(STUDY_HV_DEFINITION)} A trial "
                    "raises the curve only when it extends the front.</p>" + _div(hv_fig)))
        acc = accuracy_figure(front)
        out.append(("drift", "Accuracy over drift time", _div(acc) if acc is not None else
                    _no_data("no drift-time accuracy stored for the front designs (proxy fidelity, or a study "
                             "without accuracy evaluation)")))
        par, skipped = parallel_figure(res, front)
        note = (f"<p class='note'>Categorical parameters are drawn as indices with their values as tick labels; "
                f"not drawn (the same in every trial, or too many categories): "
                f"{html.escape(', '.join(skipped))}.</p>" if skipped else
                "<p class='note'>Categorical parameters are drawn as indices with their values as tick labels.</p>")
        out.append(("params", "Design parameters", note + _div(par) if par is not None else
                    _no_data("fewer than two complete trials")))
        bars = bars_figure(front)
        out.append(("breakdown", "Energy and area by component", _div(bars) if bars is not None else
                    _no_data("no per-component breakdown stored for the front designs")))
        out.append(("designs", f"Front designs ({len(front)})", front_table(res, front, exported)))
    else:
        out.append(("front", "Pareto front", _no_data("no complete trials yet: see the reasons below")))
    out.append(("failures", "Failed and rejected trials", failures_html(res.trials)))
    out.append(("all-trials", f"All trials ({len(res.trials)})", trials_table(res, front)))
    return out, hv


def _html(res: StudyResults, front: Sequence[Trial], exported: set[int]) -> str:
    from plotly.offline import get_plotlyjs

    sections, hv = _sections(res, front, exported)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "<nav>" + "".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h, _ in sections) + "</nav>"
    body = "".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>{s}</section>' for a, h, s in sections)
    title = f"imcnas report: {html.escape(str(res.out_dir))}"
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body><h1>{title}</h1>{nav}"
            f"{_summary(res, front, hv)}{body}<footer><p class='empty'>written {stamp}; data in front.csv, "
            f"trials.csv, designs/</p></footer></body></html>\n")


def report_front(res: StudyResults) -> list[Trial]:
    """The study's Pareto front without duplicate-sample records, best first in the first objective."""
    unsorted = [t for t in res.front if t.info.get("duplicate_of") is None]
    order = np.lexsort(as_matrix(unsorted, res.metrics).T[::-1]) if unsorted else np.zeros(0, dtype=int)
    return [unsorted[int(i)] for i in order]


def write_report(out_dir: str | Path, url: str | None = None, export: bool = True) -> dict[str, Path]:
    """Write ``front.csv``, ``trials.csv``, ``report.html`` and (``export``) ``designs/`` into ``out_dir`` from
    its study (``out_dir/study.db``, or ``url``). Returns ``{file name: path}``; ``"designs"`` maps to the
    designs folder. A missing or empty study is a one-line ConfigError."""
    res = load_results(out_dir, url)
    front = report_front(res)
    out = res.out_dir
    paths = {"front.csv": out / "front.csv", "trials.csv": out / "trials.csv", "report.html": out / "report.html"}
    try:
        write_csv(paths["front.csv"], *front_rows(res, front))
        write_csv(paths["trials.csv"], *trial_rows(res, front))
        exported: set[int] = set()
        if export and front:
            exported = {int(p.name.split("_")[-1]) for p in export_designs(res, [t.number for t in front])}
            paths["designs"] = out / "designs"
        paths["report.html"].write_text(_html(res, front, exported), encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{out}: cannot write the report: {err}") from None
    return paths
