"""Tables of the study report (:mod:`imcnas.analysis.report`): the rows of ``front.csv`` and ``trials.csv``,
and the HTML tables of the page: the front designs, every trial (filterable by state and text with a few
lines of plain JavaScript, no external library) and the most common failure and rejection reasons.

Also the formatting shared with :mod:`imcnas.analysis.report_figures`: units of metrics, axis titles, times.
"""
from __future__ import annotations

import csv
import html
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from imcnas.analysis.pareto import StudyResults
from imcnas.search.objectives import Metric
from imcnas.search.trial import Trial, TrialState

__all__ = ["UNITS", "failure_summary", "failures_html", "fmt", "fmt_time", "front_rows", "front_table",
           "metric_label", "reason_pattern", "sample_keys", "trial_rows", "trials_table", "unit_of", "write_csv"]

PREFIX_ORDER = ("arch.", "hw.", "bits.", "prune.", "train.")
UNITS = {"energy_pj": "pJ", "latency_ns": "ns", "period_ns": "ns", "area_mm2": "mm²", "throughput_ips": "inferences/s",
         "tops": "TOPS", "tops_per_w": "TOPS/W", "tops_per_mm2": "TOPS/mm²", "edp_pj_ns": "pJ·ns",
         "edap_pj_ns_mm2": "pJ·ns·mm²", "accuracy": "%", "accuracy_lb": "%", "error": "%", "digital_accuracy": "%",
         "tiles": "count", "macs": "count", "weights": "count", "params": "count", "crossbars": "count"}
ACCURACY_NAMES = ("accuracy", "accuracy_lb", "error")
TIME_STEPS = ((365 * 86400.0, "y"), (86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))


def fmt(v: Any) -> str:
    """A value for a table cell or hover line (HTML-escaped; floats to 4 significant digits)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def fmt_time(seconds: float) -> str:
    """A duration in the largest unit it reaches, to 3 significant digits: ``86400`` -> ``1 d``,
    ``5400`` -> ``1.5 h``, ``0`` -> ``0 s``."""
    if seconds <= 0:
        return "0 s"
    for size, unit in TIME_STEPS:
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def unit_of(key: str) -> str:
    """The unit of a metric key ("" when unknown)."""
    return UNITS.get(key, "")


def metric_label(m: Metric, short: bool = False) -> str:
    """An axis title: ``energy_pj [pJ] (min)``; accuracy objectives name their drift time:
    ``accuracy at 1 d [%] (max)``. ``short`` leaves out the direction."""
    name = m.key
    if m.name in ACCURACY_NAMES:
        name += f" at {fmt_time(m.time_s)}"
        if m.k_sigma:
            name += f" − {m.k_sigma:g}σ"
    unit = unit_of(m.name)
    text = f"{name} [{unit}]" if unit and unit != "count" else name
    return text if short else f"{text} ({'min' if m.minimize else 'max'})"




# ------------------------------------------------------------------------------------------ csv
def _union(keys: Iterable[Iterable[str]]) -> list[str]:
    return list(dict.fromkeys(k for ks in keys for k in ks))


def sample_keys(trials: Sequence[Trial]) -> list[str]:
    """The sample keys of the trials: arch.*, hw.*, bits.*, prune.*, train.*, then the rest, each group in
    first-seen order."""
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
    skeys = sample_keys(front)
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
    vkeys, skeys = _value_keys(res, res.trials), sample_keys(res.trials)
    header = ["number", "state", "stage", "reason", "duplicate_of", "fidelity", "elapsed_s", "finished_at",
              "on_front", *vkeys, *skeys]
    rows = [[t.number, t.state.value, t.info.get("stage"), t.info.get("reason"), t.info.get("duplicate_of"),
             t.info.get("fidelity"), t.info.get("elapsed_s"), t.info.get("finished_at"), t.number in on,
             *(t.values.get(k) for k in vkeys), *(t.sample.get(k) for k in skeys)] for t in res.trials]
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """A CSV file (None -> empty cell, lists and dicts as JSON)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[_cell(v) for v in row] for row in rows])


# ------------------------------------------------------------------------------------------ failures
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?![\w.])", re.IGNORECASE)


def reason_pattern(reason: str) -> str:
    """A reason with its numbers replaced by ``#`` (names such as ``area_mm2`` kept), so that rejections by
    one constraint at different values count together."""
    return _NUMBER.sub("#", reason.strip())


def _reason(t: Trial) -> str:
    reason = t.info.get("reason")
    if reason:
        return str(reason)
    if t.info.get("interrupted"):
        return "interrupted"
    return "" if t.state is TrialState.COMPLETE else "(no reason stored)"


def failure_summary(trials: Sequence[Trial], top: int = 10) -> list[dict[str, Any]]:
    """The most common reasons of the trials that did not complete, most frequent first: dicts with
    ``state``, ``stage`` (``info["stage"]``, "" when not stored), ``pattern`` (:func:`reason_pattern`),
    ``count``, ``example`` (one full reason) and ``trials`` (their numbers)."""
    groups: dict[tuple[str, str, str], list[Trial]] = {}
    for t in trials:
        if t.state is TrialState.COMPLETE or t.state is TrialState.RUNNING:
            continue
        key = (t.state.value, str(t.info.get("stage") or ""), reason_pattern(_reason(t)))
        groups.setdefault(key, []).append(t)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [dict(state=s, stage=st, pattern=p, count=len(ts), example=_reason(ts[0]), trials=[t.number for t in ts])
            for (s, st, p), ts in ranked[:top]]


def failures_html(trials: Sequence[Trial], top: int = 10) -> str:
    """A sentence with the counts of failed, rejected (infeasible) and pruned trials and a table of the most
    common reasons (links jump to the trials in the table of all trials)."""
    c = Counter(t.state for t in trials)
    bad = c[TrialState.FAILED] + c[TrialState.INFEASIBLE] + c[TrialState.PRUNED]
    if not bad:
        return '<p class="empty">every trial completed: no failures or rejections</p>'
    intro = (f"<p>{bad} of {len(trials)} trials did not complete: {c[TrialState.FAILED]} failed (an error while "
             f"building, training or evaluating), {c[TrialState.INFEASIBLE]} infeasible (rejected by a search-space "
             f"or hardware constraint before training), {c[TrialState.PRUNED]} pruned (stopped early). "
             f"Numbers in the reasons are grouped as #; the stage is where the trial stopped.</p>")
    rows = []
    summary = failure_summary(trials, top)
    for g in summary:
        links = ", ".join(f'<a href="#trial-{n}">{n}</a>' for n in g["trials"][:8])
        if len(g["trials"]) > 8:
            links += f", … ({len(g['trials']) - 8} more)"
        example = (f'<br><span class="empty">e.g. trial {g["trials"][0]}: {html.escape(g["example"])}</span>'
                   if g["example"] != g["pattern"] else "")
        rows.append(f'<tr><td class="state {g["state"]}">{g["state"]}</td><td>{html.escape(g["stage"]) or "–"}</td>'
                    f'<td>{g["count"]}</td><td>{100 * g["count"] / bad:.0f} %</td>'
                    f'<td class="text">{html.escape(g["pattern"])}{example}</td><td class="text">{links}</td></tr>')
    more = len(failure_summary(trials, top=10 ** 9)) - len(summary)
    tail = f'<p class="empty">{more} rarer reasons: see the table of all trials</p>' if more > 0 else ""
    return (intro + '<table class="failures"><thead><tr><th>state</th><th>stage</th><th>trials</th><th>share</th>'
            '<th>reason</th><th>trial numbers</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>" + tail)


# ------------------------------------------------------------------------------------------ html tables
def _design(t: Trial) -> str:
    return ", ".join(f"{html.escape(k)}={fmt(v)}" for k, v in t.sample.items())


def front_table(res: StudyResults, front: Sequence[Trial], exported: set[int]) -> str:
    """The front designs: number (linking to the exported design), objectives, cost totals, fidelity, design."""
    keys = [m.key for m in res.metrics]
    extra = [k for k in ("energy_pj", "latency_ns", "area_mm2") if k not in keys and any(k in t.values for t in front)]
    heads = ["trial", *(metric_label(m) for m in res.metrics), *(f"{k} [{unit_of(k)}]" for k in extra), "fidelity",
             "design"]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    rows = []
    for t in front:
        n = str(t.number)
        link = f'<a href="designs/trial_{n}/design.json">{n}</a>' if t.number in exported else n
        cells = [link] + [fmt(t.values.get(k, "")) for k in keys + extra] + [fmt(t.info.get("fidelity", ""))]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + f'<td class="design">{_design(t)}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


FILTER_STATES = ("complete", "failed", "infeasible", "pruned")

# Plain JavaScript, no library: state checkboxes and a text box hide rows of #trials-table; a click on a header
# sorts by that column; the page's address may preset the filter: report.html#state=failed,infeasible&q=adc
TRIALS_JS = r"""
(function () {
  var table = document.getElementById('trials-table');
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input.state-filter'));
  var box = document.getElementById('trial-q');
  var count = document.getElementById('trial-count');
  function apply() {
    var on = {};
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    var terms = box.value.toLowerCase().split(/\s+/).filter(function (s) { return s.length > 0; });
    var shown = 0;
    rows.forEach(function (r) {
      var text = r.getAttribute('data-text');
      var ok = on[r.getAttribute('data-state')] !== false && terms.every(function (s) { return text.indexOf(s) >= 0; });
      r.style.display = ok ? '' : 'none';
      if (ok) { shown += 1; }
    });
    count.textContent = 'showing ' + shown + ' of ' + rows.length + ' trials';
  }
  rows.forEach(function (r) { r.setAttribute('data-text', r.textContent.toLowerCase()); });
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  box.addEventListener('input', apply);
  Array.prototype.slice.call(table.tHead.rows[0].cells).forEach(function (th, i) {
    th.addEventListener('click', function () {
      var dir = th.getAttribute('data-dir') === 'asc' ? -1 : 1;
      th.setAttribute('data-dir', dir > 0 ? 'asc' : 'desc');
      function key(r) { return r.cells[i].getAttribute('data-v') || r.cells[i].textContent; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) { return dir * (nx - ny); }
        if (!isNaN(nx) !== !isNaN(ny)) { return isNaN(nx) ? 1 : -1; }
        return dir * x.localeCompare(y);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  var hash = decodeURIComponent(window.location.hash.replace(/^#/, ''));
  hash.split('&').forEach(function (part) {
    var kv = part.split('=');
    if (kv[0] === 'state' && kv.length > 1) {
      var want = kv[1].split(',');
      boxes.forEach(function (b) { b.checked = want.indexOf(b.value) >= 0; });
    } else if (kv[0] === 'q' && kv.length > 1) {
      box.value = kv.slice(1).join('=');
    }
  });
  apply();
  window.addEventListener('hashchange', function () {  // a link to a hidden row: show every row again
    var row = document.getElementById(decodeURIComponent(window.location.hash.replace(/^#/, '')));
    if (row && row.parentNode === body && row.style.display === 'none') {
      boxes.forEach(function (b) { b.checked = true; });
      box.value = '';
      apply();
      row.scrollIntoView();
    }
  });
})();
"""


def _num_cell(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f'<td data-v="{float(v)!r}">{fmt(v)}</td>'
    return f"<td>{fmt(v) if v is not None else ''}</td>"


def trials_table(res: StudyResults, front: Sequence[Trial]) -> str:
    """Every trial in a table the reader filters by state (check boxes) and text (all words must occur in
    the row: trial number, reason, parameter=value, ...) and sorts by a click on a header. Rows have the
    anchor ``trial-<number>``. The script is :data:`TRIALS_JS`."""
    on = {t.number for t in front}
    counts = Counter(t.state.value for t in res.trials)
    states = list(FILTER_STATES) + sorted(s for s in counts if s not in FILTER_STATES)
    boxes = "".join(f'<label class="state {s}"><input type="checkbox" class="state-filter" value="{s}" checked> '
                    f"{s} ({counts.get(s, 0)})</label>" for s in states)
    controls = (f'<div class="filters">{boxes}<input type="search" id="trial-q" size="40" '
                f'placeholder="text filter: words in any column, e.g. adc diverged" aria-label="text filter">'
                f'<span id="trial-count"></span></div>')
    heads = ["trial", "state", "stage", "reason", *(metric_label(m) for m in res.metrics), "fidelity", "time [s]",
             "design"]
    head = "".join(f'<th title="click to sort">{html.escape(h)}</th>' for h in heads)
    rows = []
    for t in sorted(res.trials, key=lambda t: t.number):
        dup = t.info.get("duplicate_of")
        state = t.state.value
        reason = _reason(t) if dup is None else f"duplicate of trial {dup} (not evaluated again)"
        mark = " ★ front" if t.number in on else ""
        cells = [f'<td data-v="{t.number}">{t.number}{mark}</td>', f'<td class="state {state}">{state}</td>',
                 f"<td>{html.escape(str(t.info.get('stage') or ''))}</td>",
                 f'<td class="text">{html.escape(reason)}</td>',
                 *(_num_cell(t.values.get(m.key)) for m in res.metrics),
                 f"<td>{fmt(t.info.get('fidelity') or '')}</td>",
                 _num_cell(t.info.get("elapsed_s")), f'<td class="design">{_design(t)}</td>']
        rows.append(f'<tr id="trial-{t.number}" data-state="{state}">{"".join(cells)}</tr>')
    return (controls + f'<div class="scroll"><table id="trials-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div><script>{TRIALS_JS}</script>')
