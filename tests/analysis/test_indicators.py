"""study_hypervolume: the one hypervolume definition the terminal and the report share."""
from __future__ import annotations

import numpy as np
import pytest

from imcnas.analysis.indicators import STUDY_HV_REF, study_bounds, study_hv_history, study_hypervolume
from imcnas.search.objectives import Metric
from imcnas.search.trial import Trial, TrialState

MIN2 = [Metric("energy_pj", True), Metric("area_mm2", True)]


def done(n: int, **values: float) -> Trial:
    return Trial(n, {"arch.width": n}, dict(values), TrialState.COMPLETE, {})


def test_hand_computed_value() -> None:
    # normalised points (0,1), (.5,.5), (1,0) with reference 1.1: three boxes
    trials = [done(0, energy_pj=0.0, area_mm2=1.0), done(1, energy_pj=0.5, area_mm2=0.5),
              done(2, energy_pj=1.0, area_mm2=0.0)]
    expected = 0.5 * 0.1 + 0.5 * 0.6 + 0.1 * 1.1
    assert study_hypervolume(trials, MIN2) == pytest.approx(expected)
    # units and offsets do not matter: the objectives are normalised over the study's complete trials
    scaled = [done(t.number, energy_pj=1e6 * t.values["energy_pj"] + 5, area_mm2=3 * t.values["area_mm2"])
              for t in trials]
    assert study_hypervolume(scaled, MIN2) == pytest.approx(expected)
    lo, hi = study_bounds(scaled, MIN2)
    assert list(lo) == [5.0, 0.0] and list(hi) == [1e6 + 5, 3.0]


def test_maximised_objectives_are_negated() -> None:
    acc = [Metric("accuracy", False), Metric("energy_pj", True)]
    trials = [done(0, accuracy=90.0, energy_pj=10.0), done(1, accuracy=80.0, energy_pj=5.0),
              done(2, accuracy=70.0, energy_pj=20.0)]  # trial 2 is dominated: worst in both
    # normalised (min form): (0, 1/3), (0.5, 0), (1, 1)
    assert study_hypervolume(trials, acc) == pytest.approx(0.5 * (1.1 - 1 / 3) + 0.6 * 1.1)


def test_range_edge_cases_and_what_is_ignored() -> None:
    assert study_hypervolume([], MIN2) == 0.0
    assert study_bounds([], MIN2) is None
    one = [done(0, energy_pj=3.0, area_mm2=2.0)]
    assert study_hypervolume(one, MIN2) == pytest.approx(STUDY_HV_REF ** 2)  # best in everything: the maximum
    trials = [done(0, energy_pj=0.0, area_mm2=1.0), done(1, energy_pj=1.0, area_mm2=0.0)]
    base = study_hypervolume(trials, MIN2)
    others = [Trial(2, {}, {"energy_pj": -5.0, "area_mm2": -5.0}, TrialState.INFEASIBLE, {"reason": "area"}),
              Trial(3, {}, {}, TrialState.FAILED, {"reason": "boom"}),
              Trial(4, {}, {"energy_pj": float("nan"), "area_mm2": 0.0}, TrialState.COMPLETE, {}),
              # a duplicate record with (corrupt) better values would change the HV if it were counted
              Trial(5, {}, {"energy_pj": -1.0, "area_mm2": -1.0}, TrialState.COMPLETE, {"duplicate_of": 0})]
    assert study_hypervolume(trials + others, MIN2) == pytest.approx(base)


def test_history_is_monotone_and_ends_at_the_study_value() -> None:
    rng = np.random.default_rng(1)
    metrics = [Metric("accuracy", False), Metric("energy_pj", True), Metric("area_mm2", True)]
    trials = []
    for i in range(40):
        if i % 9 == 4:
            trials.append(Trial(i, {}, {}, TrialState.FAILED, {"reason": "x"}))
            continue
        a, e, s = rng.random(3)
        trials.append(done(i, accuracy=90 * a, energy_pj=1e5 * e, area_mm2=s))
    trials.append(Trial(40, {}, dict(trials[0].values), TrialState.COMPLETE, {"duplicate_of": 0}))
    hist = study_hv_history(trials, metrics)
    assert [n for n, _ in hist] == list(range(41))
    hvs = [h for _, h in hist]
    assert all(b >= a - 1e-12 for a, b in zip(hvs, hvs[1:]))
    assert hvs[-1] == pytest.approx(study_hypervolume(trials, metrics))
    assert 0 < hvs[-1] <= STUDY_HV_REF ** 3
    assert study_hv_history([trials[4]], metrics) == [(4, 0.0)]


def test_terminal_shows_the_same_number() -> None:
    """imcnas.ui.current_hv (the progress bar) must agree with the report's study_hypervolume."""
    ui = pytest.importorskip("imcnas.ui")
    rng = np.random.default_rng(2)
    metrics = [Metric("accuracy", False), Metric("energy_pj", True)]
    trials = [done(i, accuracy=float(100 * rng.random()), energy_pj=float(1e6 * rng.random())) for i in range(25)]
    assert ui.current_hv(trials, metrics) == pytest.approx(study_hypervolume(trials, metrics))


def test_extend_front_keeps_only_nondominated_points() -> None:
    from imcnas.analysis.indicators import extend_front

    front = np.array([[1.0, 3.0], [3.0, 1.0]])
    assert extend_front(front, np.array([3.0, 3.0])) is None  # dominated
    assert extend_front(front, np.array([1.0, 3.0])) is None  # already there
    got = extend_front(front, np.array([0.5, 2.0]))  # dominates [1, 3]
    assert got.tolist() == [[3.0, 1.0], [0.5, 2.0]]
    assert extend_front(np.zeros((0, 2)), np.array([1.0, 1.0])).tolist() == [[1.0, 1.0]]
