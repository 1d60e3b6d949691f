"""Ask/tell search on a tabular problem with a known front: hypervolume ratio versus evaluations.

An evaluation is a *distinct* design: a tabular benchmark answers a repeated design from its table at no
cost, so a strategy that asks for a design it has already seen is told its values again but the evaluation
counter does not move. The trace holds one ``(evals, hv_ratio)`` pair per distinct design, in the order they
were first evaluated: ``hv_ratio`` = hypervolume of the non-dominated set of all designs evaluated so far
divided by the true front's, both w.r.t. the problem's reference point (:meth:`reference_point`). For the
other counting rule (every sample asked is an evaluation, repeats included) the result also keeps the ratio
after each sample asked (``TabularResult.ask_trace``).

A strategy that keeps re-asking known designs could loop forever, so a run also stops after ``max_asks``
samples (default 20 x budget), or once ``patience`` samples in a row (if given) brought no new design; its
trace is then shorter than ``budget`` (``TabularResult.stalled``).

:class:`HVTracker` is the counter on its own, for loops that are not imcnas strategies (pymoo's ``minimize``,
an optuna study): feed it designs by row or by sample.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.analysis.indicators import extend_front, hypervolume
from imcnas.errors import ConfigError
from imcnas.search.trial import Objective, Trial, TrialState

__all__ = ["HVTracker", "TabularContext", "TabularResult", "evals_to", "ratio_after_asks", "ratio_at", "run_tabular",
           "simulate"]


class TabularContext:
    """What every run on one problem shares: the objective table, the reference point and the true HV.

    ``problem`` is anything with ``objective_matrix(objectives)``, ``reference_point(objectives)``,
    ``true_hypervolume(objectives)``, ``index(sample)``, ``space()`` and ``objectives`` (an
    :class:`~imcnas.benchmarks.AnalogNASProblem`). All objectives are minimised."""

    def __init__(self, problem: Any, objectives: Sequence[str] | None = None) -> None:
        self.problem = problem
        self.objectives = tuple(objectives if objectives is not None else problem.objectives)
        self.Y = np.asarray(problem.objective_matrix(self.objectives), dtype=float)
        self.ref = np.asarray(problem.reference_point(self.objectives), dtype=float)
        self.true_hv = float(problem.true_hypervolume(self.objectives))
        if not self.true_hv > 0:
            raise ConfigError("the true front has no hypervolume w.r.t. the reference point")
        self.space = problem.space()

    def tracker(self) -> "HVTracker":
        return HVTracker(self)


class HVTracker:
    """Counts distinct designs and keeps the HV ratio of the evaluated non-dominated set after each one."""

    def __init__(self, context: TabularContext) -> None:
        self.ctx = context
        self.seen: set[int] = set()
        self.front = np.zeros((0, len(context.objectives)))
        self.ratio = 0.0
        self.trace: list[tuple[int, float]] = []
        self.ask_trace: list[float] = []  # the ratio after each lookup, repeats included
        self.since_new = 0  # lookups since the last new design

    @property
    def evals(self) -> int:
        """Distinct designs evaluated."""
        return len(self.seen)

    @property
    def lookups(self) -> int:
        """Designs looked up, repeats included."""
        return len(self.ask_trace)

    def add_row(self, row: int) -> np.ndarray:
        """Evaluate design ``row`` of the table: its objective vector (counted once per distinct row)."""
        row = int(row)
        y = self.ctx.Y[row]
        self.since_new += 1
        if row not in self.seen:
            self.since_new = 0
            self.seen.add(row)
            front = extend_front(self.front, y)
            if front is not None:  # not weakly dominated: the HV may grow
                self.front, self.ratio = front, hypervolume(front, self.ctx.ref) / self.ctx.true_hv
            self.trace.append((len(self.seen), self.ratio))
        self.ask_trace.append(self.ratio)
        return y

    def add_sample(self, sample: Mapping[str, Any]) -> dict[str, float]:
        """Evaluate a sample of the problem's space: ``{objective: value}``."""
        y = self.add_row(self.ctx.problem.index(sample))
        return {o: float(v) for o, v in zip(self.ctx.objectives, y)}


@dataclass
class TabularResult:
    """One run: the trace over distinct evaluations, the ratio after each sample asked (``ask_trace``, repeats
    included), wall seconds, and whether it stopped at ``max_asks`` before reaching the budget."""

    strategy: str
    seed: int
    budget: int
    trace: list[tuple[int, float]]
    ask_trace: list[float]
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def asks(self) -> int:
        """Samples asked in all, repeats included."""
        return len(self.ask_trace)

    @property
    def stalled(self) -> bool:
        return len(self.trace) < self.budget


def simulate(strategy: str, problem: Any, budget: int, seed: int, *, batch: int = 20,
             options: Mapping[str, Any] | None = None, context: TabularContext | None = None,
             max_asks: int | None = None, patience: int | None = None) -> TabularResult:
    """Run strategy ``strategy`` (a name for :func:`imcnas.search.strategies.get_strategy`, with ``options``)
    for ``budget`` distinct evaluations in ask/tell batches of ``batch``; it stops early after ``max_asks``
    samples or ``patience`` samples in a row without a new design (see the module docstring)."""
    from imcnas.search.strategies import get_strategy

    if budget < 1 or batch < 1:
        raise ConfigError("simulate needs budget >= 1 and batch >= 1")
    ctx = context or TabularContext(problem)
    tracker = ctx.tracker()
    max_asks = 20 * budget if max_asks is None else int(max_asks)
    s = get_strategy(strategy, **dict(options or {}))
    t0 = time.perf_counter()
    s.setup(ctx.space, [Objective(o) for o in ctx.objectives], seed)
    number = 0
    while tracker.evals < budget and tracker.lookups < max_asks and (patience is None or tracker.since_new < patience):
        samples = s.ask(min(batch, budget - tracker.evals, max_asks - tracker.lookups))
        if not samples:
            break
        trials = []
        for sample in samples:
            trials.append(Trial(number, sample, tracker.add_sample(sample), TrialState.COMPLETE))
            number += 1
        s.tell(trials)
    return TabularResult(strategy, int(seed), int(budget), tracker.trace[:budget], tracker.ask_trace,
                         time.perf_counter() - t0, dict(options or {}))


def run_tabular(strategy_name: str, problem: Any, budget: int, seed: int, *, batch: int = 20,
                **kwargs: Any) -> list[tuple[int, float]]:
    """``(evals, hv_ratio)`` after each distinct evaluation of a run (:func:`simulate`'s trace)."""
    return simulate(strategy_name, problem, budget, seed, batch=batch, **kwargs).trace


def ratio_at(trace: Sequence[tuple[int, float]], evals: int) -> float:
    """HV ratio after ``evals`` distinct evaluations; NaN when the run stopped before reaching that many."""
    if evals < 1:
        return 0.0
    return float(trace[evals - 1][1]) if len(trace) >= evals else math.nan


def ratio_after_asks(ask_trace: Sequence[float], asks: int) -> float:
    """HV ratio after ``asks`` samples (repeats counted); NaN when the run asked fewer."""
    if asks < 1:
        return 0.0
    return float(ask_trace[asks - 1]) if len(ask_trace) >= asks else math.nan


def evals_to(trace: Sequence[tuple[int, float]], target: float) -> int | None:
    """The first evaluation count at which the HV ratio reaches ``target`` (None if it never does)."""
    for n, r in trace:
        if r >= target - 1e-12:
            return int(n)
    return None
