"""Terminal display of a running search (rich): progress bar with trials done, feasible, current
hypervolume and ETA; a summary table of the front at the end."""
from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn
from rich.table import Table

from imcnas.analysis.indicators import front_hypervolume
from imcnas.analysis.pareto import as_matrix, complete_trials, front_trials
from imcnas.search.objectives import Metric
from imcnas.search.study import StudyStatus
from imcnas.search.trial import Trial


def _front(trials: Sequence[Trial], metrics: Sequence[Metric]) -> list[Trial]:
    """The front without duplicate-sample records (they repeat an earlier trial's values)."""
    return [t for t in front_trials(trials, metrics) if t.info.get("duplicate_of") is None]


def current_hv(trials: Sequence[Trial], metrics: Sequence[Metric]) -> float:
    """Hypervolume of the current front, objectives min-max normalised over the complete trials, reference
    point 1.1 in every normalised objective (so it lies in [0, 1.1^m])."""
    done = complete_trials(trials, metrics)
    if not done:
        return 0.0
    pts = as_matrix(done, metrics)
    return front_hypervolume(done, metrics, ref=[1.1] * len(metrics), bounds=(pts.min(axis=0), pts.max(axis=0)))


class SearchDisplay:
    """A rich progress bar fed by the study's progress callback."""

    def __init__(self, metrics: Sequence[Metric], console: Console | None = None) -> None:
        self.metrics = list(metrics)
        self.console = console or Console(stderr=True)
        self.bar = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("feasible {task.fields[feasible]}  failed {task.fields[failed]}  "
                                       "rejected {task.fields[rejected]}  HV {task.fields[hv]}"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self.console)
        self.task = None

    def __enter__(self) -> "SearchDisplay":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, status: StudyStatus) -> None:
        fields = {"feasible": status.complete, "failed": status.failed, "rejected": status.infeasible,
                  "hv": f"{current_hv(status.trials, self.metrics):.3f}"}
        if self.task is None:
            self.task = self.bar.add_task("search", total=status.budget, completed=status.evaluated, **fields)
        else:
            self.bar.update(self.task, completed=status.evaluated, **fields)


def front_table(trials: Sequence[Trial], metrics: Sequence[Metric], limit: int = 20) -> Table:
    """The Pareto front as a table: trial, objectives, area, and the sample."""
    front = _front(trials, metrics)
    front.sort(key=lambda t: t.values[metrics[0].key] * (1 if metrics[0].minimize else -1))
    table = Table(title=f"Pareto front ({len(front)} designs)")
    table.add_column("trial", justify="right")
    for m in metrics:
        table.add_column(f"{m.key} ({'min' if m.minimize else 'max'})", justify="right")
    extra = [k for k in ("area_mm2", "latency_ns") if k not in {m.key for m in metrics}]
    for k in extra:
        table.add_column(k, justify="right")
    table.add_column("design")
    for t in front[:limit]:
        design = ", ".join(f"{k}={v}" for k, v in t.sample.items())
        table.add_row(str(t.number), *[f"{t.values[m.key]:,.4g}" for m in metrics],
                      *[f"{t.values.get(k, float('nan')):,.4g}" for k in extra], design)
    return table
