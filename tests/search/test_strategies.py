"""Strategy registry and contract details beyond the conformance suite."""
from __future__ import annotations

import json

import numpy as np
import pytest

from imcnas.errors import ConfigError, UnknownNameError
from imcnas.search import Objective, Trial, TrialState, get_strategy, list_strategies
from imcnas.search.strategies.base import nondominated_rank, select_best
from imcnas.search.testing import MIXED_OBJECTIVES, mixed_space, mixed_trial
from imcnas.space import Choice, Float, SearchSpace

STRATEGIES = list_strategies()


def test_registry_lists_all_strategies() -> None:
    assert STRATEGIES == ["evolution", "nsga2", "random", "reinforce", "surrogate", "tpe"]


def test_unknown_strategy_lists_known_names() -> None:
    with pytest.raises(UnknownNameError, match="unknown strategy 'nsga3'; known: evolution, nsga2, random"):
        get_strategy("nsga3")


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError, match="strategy 'nsga2': unknown option 'popsize'; known: pop_size"):
        get_strategy("nsga2", popsize=10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_ask_before_setup_is_an_error(name: str) -> None:
    with pytest.raises(ConfigError, match="call setup"):
        get_strategy(name).ask(1)


@pytest.mark.parametrize("name", STRATEGIES)
def test_asks_are_valid_feasible_and_any_batch_size_works(name: str) -> None:
    space = mixed_space()
    s = get_strategy(name)
    s.setup(space, MIXED_OBJECTIVES, 0)
    number = 0
    for n in (1, 7, 0, 23, 3, 41, 5):  # batch sizes that do not divide population sizes
        asked = s.ask(n)
        assert len(asked) == n
        for x in asked:
            space.validate(x)
            assert space.is_feasible(x)[0]
        s.tell([mixed_trial(space, number + i, x) for i, x in enumerate(asked)])
        number += n
    json.dumps(s.state_dict(), allow_nan=False)


@pytest.mark.parametrize("name", STRATEGIES)
def test_categorical_only_space(name: str) -> None:
    space = SearchSpace({f"c{i}": Choice(["a", "b", "c", "d"]) for i in range(4)})
    target = {"c0": "a", "c1": "b", "c2": "c", "c3": "d"}
    s = get_strategy(name)
    s.setup(space, [Objective("miss")], 1)
    best = 5
    for r in range(15):
        asked = s.ask(8)
        trials = []
        for i, x in enumerate(asked):
            miss = sum(x[k] != v for k, v in target.items())
            best = min(best, miss)
            trials.append(Trial(8 * r + i, x, {"miss": miss}))
        s.tell(trials)
    assert best <= (2 if name == "random" else 1)


@pytest.mark.parametrize("name", ["evolution", "nsga2", "tpe", "surrogate", "reinforce"])
def test_maximised_objectives_are_maximised(name: str) -> None:
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    s = get_strategy(name)
    s.setup(space, [Objective("score", minimize=False)], 2)
    first, last = [], []
    for r in range(12):
        asked = s.ask(20)
        scores = [-(x["x"] - 0.8) ** 2 - (x["y"] - 0.3) ** 2 for x in asked]
        (first if r == 0 else last).extend(scores)
        s.tell([Trial(20 * r + i, x, {"score": v}) for i, (x, v) in enumerate(zip(asked, scores))])
    assert np.mean(last[-40:]) > np.mean(first) + 0.05


@pytest.mark.parametrize("name", STRATEGIES)
def test_failed_unknown_and_warm_start_trials_are_accepted(name: str) -> None:
    space = mixed_space()
    s = get_strategy(name)
    s.setup(space, MIXED_OBJECTIVES, 0)
    rng = np.random.default_rng(9)
    outside = [space.sample(rng) for _ in range(5)]  # never asked: warm start / another study
    s.tell([mixed_trial(space, 100 + i, x) for i, x in enumerate(outside)])
    asked = s.ask(4)
    s.tell([Trial(i, x, {}, TrialState.FAILED) for i, x in enumerate(asked)])
    s.tell([Trial(9, asked[0], {"error": 1.0}, TrialState.PRUNED)])
    assert len(s.ask(3)) == 3


def test_loading_another_strategys_state_is_an_error() -> None:
    a, b = get_strategy("evolution"), get_strategy("random")
    for s in (a, b):
        s.setup(mixed_space(), MIXED_OBJECTIVES, 0)
    with pytest.raises(ConfigError, match="state is for strategy 'evolution'"):
        b.load_state_dict(a.state_dict())


def test_nondominated_rank_and_selection() -> None:
    F = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [2, 2]])
    assert nondominated_rank(F).tolist() == [0, 0, 0, 1, 2, 0]
    assert set(select_best(F, 3).tolist()) <= {0, 1, 2, 5}
    assert {0, 2} <= set(select_best(F, 3).tolist())  # extremes first (infinite crowding distance)
