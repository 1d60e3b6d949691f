"""Cost-only hardware sweeps: one workload priced on the cartesian product of a few chip fields, in one
vectorised ``estimate_batch`` pass.

``sweep(work, base, grid)`` builds every combination as ``load_chip(base, overrides + grid values)`` would,
keeps the ones the spec refuses (a node the device does not support, a cell layout that cannot hold the
weights, ...) as *skipped* rows with the reason, prices the rest at once and marks the Pareto-optimal chips in
(energy, latency, area), all minimised; chips whose fixed tile count cannot hold the model are *infeasible*
rows (priced, never on the front). ``SweepResult.write(DIR)`` writes ``sweep.csv`` (one row per chip: the grid
fields, then the cost columns) and ``sweep.html`` (self-contained, plotly inlined).

A grid is ``FIELD=VALUES`` with VALUES ``a:b`` (integers a..b inclusive), ``a:b:step`` (inclusive where the
steps land on b; numbers), ``v1,v2,...`` (any YAML scalars, strings included: ``device.type=rram,pcm``) or one
value. numpy only at import; plotly is imported when the HTML is written.
"""
from __future__ import annotations

import copy
import csv
import html
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml
from pydantic import BaseModel

from imcnas.errors import ConfigError
from imcnas.hardware.report import CostTable, _as_workload, _check_layouts, estimate_batch
from imcnas.hardware.spec import Chip, apply_overrides, chip_data, chip_from_dict

__all__ = ["HEADLINE", "OBJECTIVES", "SweepResult", "parse_grid", "sweep"]

OBJECTIVES = ("energy_pj", "latency_ns", "area_mm2")  # the Pareto front is in these, all minimised
HEADLINE = ("energy_pj", "latency_ns", "area_mm2", "tops", "tops_per_w", "tops_per_mm2", "edp_pj_ns", "period_ns",
            "throughput_ips", "clock_ns", "tiles")
MAX_CHIPS = 100_000
PLOT = {"energy_pj": (1e-6, "energy (µJ)"), "latency_ns": (1e-3, "latency (µs)"), "area_mm2": (1.0, "area (mm²)"),
        "tops_per_w": (1.0, "TOPS/W")}  # figure scale and axis title of each drawn cost


# ------------------------------------------------------------------------------------------------ grids
def _field_exists(path: Sequence[str]) -> bool:
    model: type[BaseModel] = Chip
    for i, part in enumerate(path):
        info = model.model_fields.get(part)
        if info is None:
            return False
        ann = info.annotation
        section = isinstance(ann, type) and issubclass(ann, BaseModel)
        if section != (i < len(path) - 1):  # sections lead to a field; a field ends the path
            return False
        if section:
            model = ann
    return True


def _number(text: str, where: str) -> int | float:
    for kind in (int, float):
        try:
            value = kind(text.strip())
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    raise ConfigError(f"{where}: '{text}' is not a number")


def _range(spec: str, where: str) -> list[tuple[Any, str]]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"{where}: a range is a:b or a:b:step")
    lo, hi = _number(parts[0], where), _number(parts[1], where)
    if len(parts) == 2:
        if not (isinstance(lo, int) and isinstance(hi, int)):
            raise ConfigError(f"{where}: a:b takes integers (give a step for other numbers: a:b:step)")
        step: int | float = 1
    else:
        step = _number(parts[2], where)
    if step <= 0:
        raise ConfigError(f"{where}: the step must be positive")
    if hi < lo:
        raise ConfigError(f"{where}: the range {lo}:{hi} is empty (a must not exceed b)")
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if n > MAX_CHIPS:
        raise ConfigError(f"{where}: {n} values, more than {MAX_CHIPS}")
    if all(isinstance(v, int) for v in (lo, hi, step)):
        values: list[Any] = [lo + i * step for i in range(n)]
    else:
        values = [round(lo + i * step, 12) for i in range(n)]
    return [(v, json.dumps(v)) for v in values]


def _grid_text(text: str) -> tuple[str, list[tuple[Any, str]]]:
    where = f"grid '{text}'"
    if "=" not in text:
        raise ConfigError(f"{where}: expected FIELD=VALUES (a:b, a:b:step or v1,v2,...)")
    key, raw = (s.strip() for s in text.split("=", 1))
    if not key:
        raise ConfigError(f"{where}: empty field path")
    if not raw:
        raise ConfigError(f"{where}: no values")
    if ":" in raw and "," not in raw:
        return key, _range(raw, where)
    items = []
    for token in raw.split(","):
        token = token.strip()
        if not token:
            raise ConfigError(f"{where}: an empty value in the list")
        try:
            value = yaml.safe_load(token)
        except yaml.YAMLError:
            raise ConfigError(f"{where}: cannot parse the value '{token}'") from None
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: '{token}' is not a single value")
        items.append((value, token))
    return key, items


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``FIELD=VALUES`` -> (field, values); a one-line ConfigError on bad syntax or an unknown field."""
    ((key, items),) = _grids([text]).items()
    return key, [v for v, _ in items]


def _check_field(key: str, where: str) -> None:
    if key in ("name", "source") or not _field_exists(key.split(".")):
        raise ConfigError(f"{where}: '{key}' is not a hardware field (see 'imcnas hardware show PRESET')")


def _grids(grid: Mapping[str, Sequence[Any]] | Sequence[str]) -> dict[str, list[tuple[Any, str]]]:
    out: dict[str, list[tuple[Any, str]]] = {}
    if isinstance(grid, Mapping):
        pairs = []
        for key, values in grid.items():
            values = [values] if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") else values
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
            pairs.append((str(key), [(v, json.dumps(v)) for v in values], f"grid '{key}'"))
    else:
        pairs = [(*_grid_text(str(t)), f"grid '{t}'") for t in grid]
    for key, items, where in pairs:
        _check_field(key, where)
        if key in out:
            raise ConfigError(f"{where}: '{key}' is swept twice")
        if not items:
            raise ConfigError(f"{where}: no values")
        unique = list(dict.fromkeys((json.dumps(v, sort_keys=True), t) for v, t in items))
        out[key] = [(json.loads(j), t) for j, t in unique]
    if not out:
        raise ConfigError("give at least one grid: FIELD=VALUES, e.g. adc.bits=3:8")
    return out


# ------------------------------------------------------------------------------------------------ result
@dataclass
class SweepResult:
    """One row per grid combination (grid order, last field fastest): the grid values, ``status`` (ok,
    infeasible, skipped), ``reason``, ``chip`` (display name), ``pareto`` and, unless skipped, the cost
    columns of ``estimate_batch``. ``table`` holds the priced chips only."""

    workload: str
    base: str
    overrides: list[str]
    fields: list[str]
    values: dict[str, list[Any]]
    rows: list[dict[str, Any]]
    table: CostTable | None = None
    cost_columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        c = self.counts()
        return (f"SweepResult({self.workload} on {self.base}: {len(self)} chips over {', '.join(self.fields)}; "
                f"{c['ok']} ok, {c['infeasible']} infeasible, {c['skipped']} skipped, {c['pareto']} on the front)")

    def counts(self) -> dict[str, int]:
        n = Counter(r["status"] for r in self.rows)
        return {"ok": n["ok"], "infeasible": n["infeasible"], "skipped": n["skipped"],
                "pareto": sum(1 for r in self.rows if r["pareto"])}

    @property
    def header(self) -> list[str]:
        """CSV columns: the grid fields, the headline costs, pareto, status, reason, chip, the breakdowns."""
        head = [k for k in HEADLINE if k in self.cost_columns]
        rest = [k for k in self.cost_columns if k not in head and k != "feasible"]
        return [*self.fields, *head, "pareto", "status", "reason", "chip", *rest]

    def pareto_rows(self) -> list[dict[str, Any]]:
        """The Pareto-optimal rows, lowest energy first."""
        return sorted((r for r in self.rows if r["pareto"]), key=lambda r: r["energy_pj"])

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        head = self.header
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(head)
            for r in self.rows:
                w.writerow([_csv_cell(r.get(k, "")) for k in head])
        return path

    def to_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(sweep_html(self))
        return path

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """``sweep.csv`` and ``sweep.html`` in ``out_dir`` (created)."""
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            return {"sweep.csv": self.to_csv(out / "sweep.csv"), "sweep.html": self.to_html(out / "sweep.html")}
        except OSError as err:
            raise ConfigError(f"{out}: cannot write the sweep: {err.strerror or err}") from None


def _csv_cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return v


def _reason(err: Exception, origin: str) -> str:
    text = str(err)
    return text[len(origin) + 2:] if text.startswith(origin + ": ") else text


# ------------------------------------------------------------------------------------------------ sweep
def sweep(work: Any, base: str | Path | Chip, grid: Mapping[str, Sequence[Any]] | Sequence[str],
          overrides: Sequence[str] = (), max_chips: int = MAX_CHIPS) -> SweepResult:
    """Price ``work`` (a Workload, zoo name or (model, input)) on every combination of ``grid`` applied to
    ``base`` (preset, hardware file or Chip) after the fixed ``overrides``. ``grid`` is a list of
    ``FIELD=VALUES`` texts or a mapping ``{field: [values]}``. Bad grids are one-line ConfigErrors; chips the
    spec refuses are skipped rows, not errors."""
    grids = _grids(grid)
    fields = list(grids)
    n = math.prod(len(v) for v in grids.values())
    if n > max_chips:
        raise ConfigError(f"the grid makes {n:,} chips, more than {max_chips:,}: narrow a range or add a step")
    data, origin, ref = chip_data(base)
    fixed = [str(o) for o in overrides]
    if fixed:  # bad fixed overrides fail the whole sweep, as they would in 'imcnas estimate'
        apply_overrides(copy.deepcopy(data), fixed)
    if ref is None:
        try:
            ref = chip_from_dict(copy.deepcopy(data), origin)
        except ConfigError:
            ref = None
    base_chip = chip_from_dict(apply_overrides(copy.deepcopy(data), fixed), origin) if fixed else ref
    work = _as_workload(work)

    rows: list[dict[str, Any]] = []
    chips: list[Chip] = []
    priced: list[int] = []
    for combo in itertools.product(*grids.values()):
        row: dict[str, Any] = {f: v for f, (v, _) in zip(fields, combo)}
        row.update(status="ok", reason="", chip="", pareto=False)
        texts = fixed + [f"{f}={t}" for f, (_, t) in zip(fields, combo)]
        try:
            chip = chip_from_dict(apply_overrides(copy.deepcopy(data), texts), origin)
            _check_layouts(work, chip)
        except ConfigError as err:
            row.update(status="skipped", reason=_reason(err, origin))
            rows.append(row)
            continue
        chip._base = ref
        chips.append(chip)
        priced.append(len(rows))
        rows.append(row)

    table = estimate_batch(work, chips) if chips else None
    cost_columns = list(table.columns) if table is not None else []
    if table is not None:
        names = table.chips
        for j, i in enumerate(priced):
            row = rows[i]
            row["chip"] = names[j]
            for k in cost_columns:
                row[k] = float(table.columns[k][j])
            if not row.get("feasible", 1.0):
                row.update(status="infeasible", reason=f"the model needs more than hierarchy.tiles="
                           f"{chips[j].hierarchy.tiles} tiles; use hierarchy.tiles=auto")
        ok = [i for i in priced if rows[i]["status"] == "ok"]
        if ok:
            from imcnas.analysis.pareto import nondominated  # the one non-dominated sort (numpy only)

            points = np.array([[rows[i][k] for k in OBJECTIVES] for i in ok], dtype=float)
            for i, on in zip(ok, nondominated(points)):
                rows[i]["pareto"] = bool(on)
    return SweepResult(workload=work.name, base=base_chip.display_name if base_chip is not None else origin,
                       overrides=fixed, fields=fields, values={f: [v for v, _ in grids[f]] for f in fields},
                       rows=rows, table=table, cost_columns=cost_columns)


# ------------------------------------------------------------------------------------------------ HTML
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
             ("chips", f"{len(res)}: {c['ok']} priced, {c['infeasible']} infeasible (fixed tile count too small), "
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


# ------------------------------------------------------------------------------------------------ terminal
def summary_table(res: SweepResult, limit: int = 10) -> list[Any]:
    """Rich renderables for the terminal (readable at 80 columns): a counts line, the Pareto-optimal chips
    (at most ``limit``, lowest energy first) and the most common reasons chips were skipped."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    c = res.counts()
    parts = [f"{c['ok']} priced"] + [f"{c[k]} {k}" for k in ("infeasible", "skipped") if c[k]]
    head = Text(f"{res.workload} on {res.base}: {len(res)} chips over {' x '.join(res.fields)} ({', '.join(parts)})")
    out: list[Any] = [head]
    front = res.pareto_rows()
    if front:
        table = Table(title=f"Pareto-optimal in energy, latency and area ({len(front)})", title_justify="left")
        last = [f.rsplit(".", 1)[-1] for f in res.fields]  # short headers; the line above names the fields
        for f, short in zip(res.fields, last):
            table.add_column(escape(short if last.count(short) == 1 else f), overflow="fold")
        for col in ("energy\nuJ", "latency\nus", "area\nmm²", "TOPS/W"):
            table.add_column(col, justify="right", no_wrap=True)
        for r in front[:limit]:
            table.add_row(*(escape(_fmt(r[f])) for f in res.fields), f"{r['energy_pj'] * 1e-6:.4g}",
                          f"{r['latency_ns'] * 1e-3:.4g}", f"{r['area_mm2']:.4g}", f"{r['tops_per_w']:.4g}")
        if len(front) > limit:
            table.caption = f"{len(front) - limit} more in sweep.csv"
        out.append(table)
    reasons = Counter(r["reason"] for r in res.rows if r["status"] != "ok")
    for reason, n in reasons.most_common(3):
        out.append(Text(f"{n} not priced: {reason}"))
    if len(reasons) > 3:
        out.append(Text(f"{len(reasons) - 3} other reasons: see sweep.csv"))
    return out
