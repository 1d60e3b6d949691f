"""The tabular ask/tell loop: distinct-design counting, the HV-ratio trace, and a tiny run of every strategy."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("analognasbench", reason="the analog-nasbench package (extra 'bench') is not installed")

from imcnas.benchmarks import AnalogNASProblem  # noqa: E402
from imcnas.benchmarks.simulate import (TabularContext, evals_to, ratio_after_asks, ratio_at, run_tabular,  # noqa: E402
                                        simulate)
from imcnas.errors import ConfigError  # noqa: E402
from imcnas.search.strategies import list_strategies  # noqa: E402


@pytest.fixture(scope="module")
def problem() -> AnalogNASProblem:
    return AnalogNASProblem()


@pytest.fixture(scope="module")
def ctx(problem) -> TabularContext:
    return TabularContext(problem)


def test_tracker_counts_distinct_designs_and_reaches_one_on_the_front(problem, ctx) -> None:
    t = ctx.tracker()
    sample = problem.sample_at(123)
    first = t.add_sample(sample)
    assert first == {o: pytest.approx(v) for o, v in problem.evaluate(sample).items() if o in ctx.objectives}
    t.add_sample(dict(sample))  # a repeat is looked up but not counted
    assert (t.evals, t.lookups) == (1, 2)
    assert len(t.trace) == 1 and len(t.ask_trace) == 2
    for row in problem.front_indices():
        t.add_row(int(row))
    ratios = [r for _, r in t.trace]
    assert all(a <= b + 1e-12 for a, b in zip(ratios, ratios[1:]))  # never decreases
    assert ratios[-1] == pytest.approx(1.0)
    assert [n for n, _ in t.trace] == list(range(1, t.evals + 1))


def test_run_tabular_tiny_budget(problem, ctx) -> None:
    trace = run_tabular("random", problem, 30, seed=0, batch=7, context=ctx)
    assert [n for n, _ in trace] == list(range(1, 31))
    assert all(0.0 <= r <= 1.0 + 1e-9 for _, r in trace)
    assert run_tabular("random", problem, 30, seed=0, batch=7, context=ctx) == trace  # deterministic
    assert ratio_at(trace, 30) == trace[-1][1] and math.isnan(ratio_at(trace, 31)) and ratio_at(trace, 0) == 0.0
    hit = evals_to(trace, trace[-1][1])
    assert hit is not None and trace[hit - 1][1] >= trace[-1][1] - 1e-12
    assert evals_to(trace, 1.5) is None


@pytest.mark.parametrize("name", [n for n in list_strategies() if n != "tpe"])
def test_every_strategy_runs(problem, ctx, name) -> None:
    r = simulate(name, problem, 40, seed=1, batch=10, context=ctx)
    assert len(r.trace) == 40 and r.asks >= 40 and not r.stalled
    assert r.trace[-1][1] > 0
    assert ratio_after_asks(r.ask_trace, r.asks) == pytest.approx(r.trace[-1][1])


def test_tpe_and_max_asks(problem, ctx) -> None:
    r = simulate("tpe", problem, 1000, seed=0, batch=10, context=ctx, max_asks=25)
    assert r.asks == 25 and r.stalled and 0 < len(r.trace) <= 25


def test_bad_arguments(problem, ctx) -> None:
    with pytest.raises(ConfigError):
        simulate("random", problem, 0, seed=0, context=ctx)


def test_row_encoding_matches_problem_index(problem) -> None:
    """Rows follow the choice-index order of the parameters (arch part x chip part, C order)."""
    sizes = [len(v) for v in problem.choices().values()]
    idx, _ = problem.enumerate_all()
    rng = np.random.default_rng(0)
    rows = rng.integers(problem.size, size=50)
    P = idx[rows].astype(int)
    got = np.ravel_multi_index(P[:, :6].T, sizes[:6]) * problem.n_chips + np.ravel_multi_index(P[:, 6:].T, sizes[6:])
    assert (got == rows).all()
    assert [problem.index(problem.sample_at(int(r))) for r in rows[:5]] == list(rows[:5])
