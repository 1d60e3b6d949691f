"""The conformance suite (``imcnas.search.testing``) run on every registered strategy.

Thresholds and the measured hypervolume ratios are documented at the top of ``imcnas/search/testing.py``.
"""
from __future__ import annotations

import math

import pytest

from imcnas.search import get_strategy, list_strategies
from imcnas.search import testing as conformance

STRATEGIES = list_strategies()


@pytest.mark.parametrize("problem", conformance.PROBLEMS)
@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_approaches_the_known_front(name: str, problem: str) -> None:
    conformance.check_convergence(lambda: get_strategy(name), problem, conformance.threshold(name, problem))


@pytest.mark.parametrize("name", STRATEGIES)
def test_state_round_trip_gives_the_same_asks(name: str) -> None:
    conformance.check_state_roundtrip(lambda: get_strategy(name))


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_same_asks(name: str) -> None:
    conformance.check_determinism(lambda: get_strategy(name))


def test_true_front_hypervolumes_match_closed_forms() -> None:
    # reference point (1.1, ...): ZDT1 1.21 - 1/3, ZDT2 1.21 - 2/3, DTLZ2 1.1^3 - pi/6 (sphere octant)
    expected = {"zdt1": 1.21 - 1 / 3, "zdt2": 1.21 - 2 / 3, "dtlz2": 1.331 - math.pi / 6}
    for name, hv in expected.items():
        problem = conformance.make_problem(name)
        assert list(problem.ref_point) == pytest.approx([1.1] * len(problem.objectives))
        assert problem.true_hv == pytest.approx(hv)
        assert 0.97 < problem.hv_ratio(problem.problem.pareto_front()) < 1.0
