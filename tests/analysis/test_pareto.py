"""Pareto fronts and indicators: exact non-dominance against brute force, directions, HV, IGD, HV history."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from imcnas.analysis.indicators import (front_bounds, front_hypervolume, hv_history, hypervolume, igd, normalize,
                                        reference_point)
from imcnas.analysis.pareto import as_matrix, front_trials, nondominated
from imcnas.search.objectives import metric
from imcnas.search.trial import Objective, Trial, TrialState


def brute_force(F: np.ndarray) -> np.ndarray:
    """Row i is on the front iff no row j is <= everywhere and < somewhere."""
    n = len(F)
    return np.array([not any(np.all(F[j] <= F[i]) and np.any(F[j] < F[i]) for j in range(n) if j != i)
                     for i in range(n)])


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_nondominated_matches_brute_force_with_ties(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 6, size=(80, m)).astype(float)  # a small integer grid: many ties and duplicates
    F = np.vstack([F, F[:10]])  # exact duplicates
    expected = brute_force(F)
    got = nondominated(F)
    assert got.dtype == bool and np.array_equal(got, expected)
    assert np.array_equal(nondominated(F[::-1]), expected[::-1])  # order does not matter
    # duplicates of a front point are all kept
    for i, j in itertools.combinations(range(len(F)), 2):
        if np.array_equal(F[i], F[j]):
            assert got[i] == got[j]


def test_nondominated_continuous_and_edge_cases() -> None:
    rng = np.random.default_rng(1)
    F = rng.random((200, 2))
    assert np.array_equal(nondominated(F), brute_force(F))
    assert nondominated(np.zeros((0, 2))).shape == (0,)
    G = np.array([[1.0, 2.0], [np.nan, 0.0], [2.0, 1.0], [0.0, np.inf]])
    assert nondominated(G).tolist() == [True, False, True, False]  # non-finite rows never on the front
    assert nondominated(np.array([[1.0, 1.0], [1.0, 1.0]])).tolist() == [True, True]


def _trial(n: int, acc: float, energy: float, state: TrialState = TrialState.COMPLETE) -> Trial:
    return Trial(n, {"arch.width": n}, {"accuracy": acc, "energy_pj": energy}, state)


def test_front_trials_respects_maximised_objectives() -> None:
    trials = [_trial(0, 0.9, 10.0), _trial(1, 0.8, 5.0), _trial(2, 0.7, 6.0), _trial(3, 0.95, 20.0),
              _trial(4, 0.99, 1.0, TrialState.INFEASIBLE), _trial(5, 0.99, 1.0, TrialState.FAILED),
              Trial(6, {}, {"accuracy": 0.99}, TrialState.COMPLETE)]  # a value missing: not comparable
    metrics = [metric("accuracy"), metric("energy")]
    assert [t.number for t in front_trials(trials, metrics)] == [0, 1, 3]
    # the same with Objective records and with accuracy minimised (a bad idea, but honoured)
    assert [t.number for t in front_trials(trials, [Objective("accuracy", False), Objective("energy_pj")])] == [0, 1, 3]
    assert [t.number for t in front_trials(trials, [{"name": "accuracy", "minimize": True}, "energy_pj"])] == [1, 2]
    F = as_matrix(trials[:2], metrics)
    assert F.tolist() == [[-0.9, 10.0], [-0.8, 5.0]]
    assert np.isnan(as_matrix(trials[6:], metrics)[0, 1])
    assert front_trials([], metrics) == []


def test_hypervolume_known_values() -> None:
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), [3.0, 3.0]) == pytest.approx(3.0)
    # dominated points, points outside the reference box and NaN rows add nothing
    P = np.array([[1.0, 2.0], [2.0, 1.0], [2.5, 2.5], [4.0, 0.5], [np.nan, 0.0]])
    assert hypervolume(P, [3.0, 3.0]) == pytest.approx(3.0)
    assert hypervolume(np.zeros((0, 2)), [3.0, 3.0]) == 0.0
    assert hypervolume(np.array([[0.0, 0.0, 0.0]]), [1.0, 2.0, 3.0]) == pytest.approx(6.0)
    with pytest.raises(ValueError):
        hypervolume(np.array([[1.0, 2.0]]), [3.0, 3.0, 3.0])


def test_reference_point_rule_and_normalisation() -> None:
    P = np.array([[1.0, 4.0], [2.0, 2.0], [4.0, 1.0], [5.0, 5.0]])  # (5, 5) is dominated: not in the nadir
    ideal, nadir = front_bounds(P)
    assert ideal.tolist() == [1.0, 1.0] and nadir.tolist() == [4.0, 4.0]
    assert reference_point(P).tolist() == pytest.approx([4.3, 4.3])
    assert reference_point(P, margin=0.0).tolist() == [4.0, 4.0]
    assert reference_point(P, ref=[10, 10]).tolist() == [10.0, 10.0]
    assert reference_point(np.array([[2.0, 0.0]])).tolist() == pytest.approx([2.2, 0.1])  # zero ranges
    N = normalize(P, ideal, nadir)
    assert N[:3].tolist() == [[0.0, 1.0], [1 / 3, 1 / 3], [1.0, 0.0]]
    assert reference_point(N).tolist() == pytest.approx([1.1, 1.1])
    # units do not matter after normalisation
    scaled = P * np.array([1e9, 1e-3])
    Ns = normalize(scaled, *front_bounds(scaled))
    assert hypervolume(Ns, [1.1, 1.1]) == pytest.approx(hypervolume(N, [1.1, 1.1]))


def test_igd() -> None:
    pf = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    assert igd(pf, pf) == 0.0
    assert igd(pf + 0.1, pf) == pytest.approx(np.hypot(0.1, 0.1))
    assert igd(np.zeros((0, 2)), pf) == float("inf")


def test_hv_history_is_non_decreasing_and_ends_at_the_front_hv() -> None:
    rng = np.random.default_rng(3)
    trials = []
    for n in range(60):
        state = TrialState.FAILED if n % 9 == 4 else TrialState.COMPLETE
        acc, e = float(rng.random()), float(rng.random() * 1e9)
        trials.append(Trial(n, {}, {"accuracy": acc, "energy_pj": e} if state is TrialState.COMPLETE else {}, state))
    metrics = [metric("accuracy"), metric("energy_pj")]
    shuffled = list(reversed(trials))  # order of the input does not matter: history goes by trial number
    hist = hv_history(shuffled, metrics, ref=[0.0, 1.1e9])
    assert [n for n, _ in hist] == list(range(60))
    hvs = [hv for _, hv in hist]
    assert all(b >= a for a, b in zip(hvs, hvs[1:]))
    assert hvs[-1] == pytest.approx(front_hypervolume(trials, metrics, ref=[0.0, 1.1e9]))
    # the same by brute force at a few prefixes
    for k in (1, 10, 33):
        F = as_matrix([t for t in trials[:k] if t.state is TrialState.COMPLETE], metrics)
        assert hist[k - 1][1] == pytest.approx(hypervolume(F, [0.0, 1.1e9]))
    # normalised: the default reference point is 1.1 in normalised units
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    bounds = front_bounds(as_matrix(done, metrics))
    norm = hv_history(trials, metrics, bounds=bounds)
    assert 0.0 < norm[-1][1] <= 1.1 ** 2
    assert hv_history([Trial(0, {}, {}, TrialState.FAILED)], metrics) == [(0, 0.0)]
