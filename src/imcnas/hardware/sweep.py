"""Cost-only hardware sweeps: one workload priced on the cartesian product of a few chip fields, in one
vectorised ``estimate_batch`` pass.

``sweep(work, base, grid)`` builds every combination as ``load_chip(base, overrides + grid values)`` would,
keeps the ones the spec refuses (a node the device does not support, a cell layout that cannot hold the
weights, ...) as *skipped* rows with the reason, prices the rest at once and marks the Pareto-optimal chips in
(energy, latency, area), all minimised; chips whose fixed tile count cannot hold the model, or whose cells
would wear out rewriting crossbars per inference, are *infeasible*
rows (priced, never on the front). ``SweepResult.write(DIR)`` writes ``sweep.csv`` (one row per chip: the grid
fields, then the cost columns) and ``sweep.html`` (self-contained, plotly inlined).

A grid is ``FIELD=VALUES`` with VALUES ``a:b`` (integers a..b inclusive), ``a:b:step`` (inclusive where the
steps land on b; numbers), ``v1,v2,...`` (any YAML scalars, strings included: ``device.type=rram,pcm``) or one
value (parsed in ``sweep_grid``). numpy only at import; the page is built in ``sweep_html``, which imports
plotly when the HTML is written.
"""
from __future__ import annotations

import copy
import csv
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.hardware.report import CostTable, _as_workload, _check_layouts, estimate_batch
from imcnas.hardware.spec import Chip, apply_overrides, chip_data, chip_from_dict
from imcnas.hardware.sweep_grid import MAX_CHIPS, _grids, parse_grid
from imcnas.hardware.sweep_html import PLOT, _fmt, sweep_html  # noqa: F401 (PLOT re-exported)

__all__ = ["HEADLINE", "OBJECTIVES", "SweepResult", "parse_grid", "sweep"]

OBJECTIVES = ("energy_pj", "latency_ns", "area_mm2")  # the Pareto front is in these, all minimised
HEADLINE = ("energy_pj", "latency_ns", "area_mm2", "tops", "tops_per_w", "tops_per_mm2", "edp_pj_ns", "period_ns",
            "throughput_ips", "clock_ns", "tiles")


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
                if row.get("lifetime_writes_per_cell", 0.0) > row.get("endurance_cycles", np.inf):
                    why = (f"device {chips[j].device.type} endures {row['endurance_cycles']:.3g} write cycles per "
                           f"cell; rewriting crossbars per inference needs {row['lifetime_writes_per_cell']:.3g}")
                else:
                    why = (f"the model needs more than hierarchy.tiles={chips[j].hierarchy.tiles} tiles; use "
                           "hierarchy.tiles=auto")
                row.update(status="infeasible", reason=why)
        ok = [i for i in priced if rows[i]["status"] == "ok"]
        if ok:
            from imcnas.analysis.pareto import nondominated  # the one non-dominated sort (numpy only)

            points = np.array([[rows[i][k] for k in OBJECTIVES] for i in ok], dtype=float)
            for i, on in zip(ok, nondominated(points)):
                rows[i]["pareto"] = bool(on)
    return SweepResult(workload=work.name, base=base_chip.display_name if base_chip is not None else origin,
                       overrides=fixed, fields=fields, values={f: [v for v, _ in grids[f]] for f in fields},
                       rows=rows, table=table, cost_columns=cost_columns)


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
