"""Terminal display of a running search (rich): progress bar with trials done, feasible, current
hypervolume and ETA (from this run's trial times); the front at the end, as a table on wide terminals and as
one block per design below 100 columns, so nothing is cut."""
from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from imcnas.analysis.indicators import study_hypervolume
from imcnas.analysis.pareto import front_trials
from imcnas.search.objectives import Metric
from imcnas.search.study import StudyStatus
from imcnas.search.trial import Trial


def _front(trials: Sequence[Trial], metrics: Sequence[Metric]) -> list[Trial]:
    """The front without duplicate-sample records (they repeat an earlier trial's values)."""
    return [t for t in front_trials(trials, metrics) if t.info.get("duplicate_of") is None]


def current_hv(trials: Sequence[Trial], metrics: Sequence[Metric]) -> float:
    """The study hypervolume of :func:`imcnas.analysis.indicators.study_hypervolume`, the number the report
    shows: objectives min-max normalised over the complete trials, reference point 1.1 in each (so it lies in
    [0, 1.1^m]). During a run the normalisation follows the trials so far, so it can move either way."""
    return study_hypervolume(trials, metrics)


class SearchDisplay:
    """A rich progress bar fed by the study's progress callback."""

    def __init__(self, metrics: Sequence[Metric], console: Console | None = None) -> None:
        self.metrics = list(metrics)
        self.console = console or Console(stderr=True)
        self.bar = Progress(TextColumn("[bold]search"), BarColumn(bar_width=None if self.console.width >= 100
                                                                  else 10), MofNCompleteColumn(),
                            TextColumn("ok {task.fields[feasible]} failed {task.fields[failed]} "
                                       "rejected {task.fields[rejected]} HV {task.fields[hv]}"),
                            TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), console=self.console)
        self.task = None

    def __enter__(self) -> "SearchDisplay":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, status: StudyStatus) -> None:
        eta = status.eta_s()
        fields = {"feasible": status.complete, "failed": status.failed, "rejected": status.infeasible,
                  "hv": f"{current_hv(status.trials, self.metrics):.3f}",
                  "eta": "?" if eta is None else _clock(eta)}
        done = status.evaluated + status.in_batch
        if self.task is None:
            self.task = self.bar.add_task("search", total=status.budget, completed=done, **fields)
        else:
            self.bar.update(self.task, completed=done, **fields)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def front_table(trials: Sequence[Trial], metrics: Sequence[Metric], limit: int = 20,
                width: int = 120) -> Table | Group:
    """The Pareto front: a table (trial, objectives, area, design) at ``width`` >= 100 columns, else one
    block per design (values, then the design wrapped), so narrow terminals cut nothing."""
    front = _front(trials, metrics)
    front.sort(key=lambda t: t.values[metrics[0].key] * (1 if metrics[0].minimize else -1))
    title = f"Pareto front ({len(front)} designs)" + (f", first {limit} shown" if len(front) > limit else "")
    extra = [k for k in ("area_mm2", "latency_ns") if k not in {m.key for m in metrics}]
    heads = [f"{m.key} ({'min' if m.minimize else 'max'})" for m in metrics] + extra
    rows = [(t, [f"{t.values[m.key]:,.4g}" for m in metrics] + [f"{t.values.get(k, float('nan')):,.4g}"
                                                               for k in extra]) for t in front[:limit]]
    if width < 100:
        blocks: list = [Text(title, style="bold")]
        for t, vals in rows:
            blocks.append(Text(f"trial {t.number}: " + ", ".join(f"{h} {v}" for h, v in zip(heads, vals)),
                               style="bold"))
            blocks.append(Text("  " + ", ".join(f"{k}={v}" for k, v in t.sample.items()), overflow="fold"))
        return Group(*blocks)
    table = Table(title=title)
    table.add_column("trial", justify="right", no_wrap=True)
    for h in heads:
        table.add_column(h, justify="right", no_wrap=True)
    table.add_column("design", overflow="fold", ratio=1)
    for t, vals in rows:
        table.add_row(str(t.number), *vals, ", ".join(f"{k}={v}" for k, v in t.sample.items()))
    return table
