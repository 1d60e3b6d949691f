"""The conformance suite (``imcnas.search.testing``) run on every registered strategy.

Problems, budgets, the requirement (five-seed median HV ratio against random search's median at the same
budget) and the measured medians are documented at the top of ``imcnas/search/testing.py``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from imcnas.search import get_strategy, list_strategies
from imcnas.search import testing as conformance
from imcnas.search.strategies.base import nondominated_rank

STRATEGIES = list_strategies()


@pytest.mark.parametrize("problem", conformance.PROBLEMS)
@pytest.mark.parametrize("name", STRATEGIES)
def test_median_hv_ratio_against_random_search(name: str, problem: str) -> None:
    conformance.check_convergence(lambda: get_strategy(name), problem)


@pytest.mark.parametrize("name", STRATEGIES)
def test_state_round_trip_gives_the_same_asks(name: str) -> None:
    conformance.check_state_roundtrip(lambda: get_strategy(name))


@pytest.mark.parametrize("name", STRATEGIES)
def test_state_round_trip_while_the_space_runs_dry(name: str) -> None:
    # 81 designs, ~100 asks: repeated proposals, substitutes and an exhausted space all cross the save
    conformance.check_state_roundtrip(lambda: get_strategy(name), space=conformance.small_space(),
                                      rounds=4, batch=9)


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_same_asks(name: str) -> None:
    conformance.check_determinism(lambda: get_strategy(name))


def test_true_front_hypervolumes() -> None:
    # reference point (1.1, ...): ZDT1 1.21 - 1/3, ZDT2 1.21 - 2/3, DTLZ2 1.1^3 - pi/6 (sphere octant)
    expected = {"zdt1": 1.21 - 1 / 3, "zdt2": 1.21 - 2 / 3, "dtlz2": 1.331 - math.pi / 6, "mixed": 1.21 - 1 / 3}
    for name, hv in expected.items():
        problem = conformance.make_problem(name)
        assert list(problem.ref_point) == pytest.approx([1.1] * len(problem.objectives))
        assert problem.true_hv == pytest.approx(hv)
        if name != "mixed":
            assert 0.97 < problem.hv_ratio(problem.problem.pareto_front()) < 1.0
    # categorical: 1,024 designs whose front is 16 designs (one per position, every penalty 0)
    cat = conformance.make_problem("categorical")
    F = np.array([[v for v in cat.evaluate(dict(zip(cat.space.names, x))).values()]
                  for x in itertools.product(("a", "b", "c", "d"), repeat=5)])
    front = np.unique(F[nondominated_rank(F) == 0], axis=0)
    assert len(front) == 16 and front[:, 0].tolist() == pytest.approx([i / 15 for i in range(16)])
    assert cat.hv_ratio(front) == pytest.approx(1.0)
    # the mixed problem's best designs lie on ZDT1's front
    mixed = conformance.make_problem("mixed")
    best = {"cell": "conv3", "act": "gelu", "depth": 22, "channels": 32, "lr": 10 ** -2.5}
    f = mixed.evaluate({"x": 0.25, **best})
    assert f["f1"] == pytest.approx(0.25) and f["f2"] == pytest.approx(0.5)


def test_random_search_is_the_yardstick() -> None:
    for problem in conformance.PROBLEMS:
        assert conformance.margin("random", problem) == 0.0
        assert 0.0 <= conformance.random_median(problem) < 1.0
