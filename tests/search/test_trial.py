"""Trial records and objectives."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

from imcnas.search import Objective, Trial, TrialState


def test_trial_is_immutable_and_round_trips_through_json() -> None:
    t = Trial(3, {"depth": 2, "act": "relu"}, {"error": 0.25, "energy": 4}, TrialState.COMPLETE, {"note": "x"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.number = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.values["error"] = 1.0  # type: ignore[index]
    back = Trial.from_dict(json.loads(json.dumps(t.to_dict())))
    assert back.number == 3 and back.sample == t.sample and dict(back.values) == {"error": 0.25, "energy": 4.0}
    assert back.state is TrialState.COMPLETE


def test_minimised_negates_maximised_objectives_and_skips_unusable_trials() -> None:
    objectives = [Objective("error"), Objective("throughput", minimize=False, bound=10.0)]
    assert Trial(0, {}, {"error": 0.1, "throughput": 5.0}).minimised(objectives) == [0.1, -5.0]
    assert Trial(0, {}, {"error": 0.1}).minimised(objectives) is None
    assert Trial(0, {}, {"error": math.nan, "throughput": 1}).minimised(objectives) is None
    assert Trial(0, {}, {"error": 0.1, "throughput": 5.0}, TrialState.FAILED).minimised(objectives) is None
    assert Trial(0, {}, state="infeasible").state is TrialState.INFEASIBLE
