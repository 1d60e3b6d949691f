"""No wasted trial in the study loop: a design asked again (earlier in the batch, or already stored) is told with
the original's result and never numbered, stored or evaluated; a failed design is not run again unless
``budget.retry_failed``; fronts keep one trial per design. The asks come from a scripted strategy so that the
loop, not a strategy's own duplicate avoidance, is what is tested."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pytest

from imcnas import plugins
from imcnas.analysis.pareto import front_trials
from imcnas.config import config_from_dict
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.strategies.base import Strategy
from imcnas.search.study import Study
from imcnas.search.trial import Sample, Trial, TrialState

from tests.search.test_study import tiny

A = {"arch.convs": 1, "arch.width": 4, "train.lr": 0.01}
B = {"arch.convs": 1, "arch.width": 8, "train.lr": 0.01}
C = {"arch.convs": 1, "arch.width": 12, "train.lr": 0.01}
F = {"arch.convs": 1, "arch.width": 8, "train.lr": 1e9}  # training diverges: a failed trial
TOLD: list[list[Trial]] = []


class Scripted(Strategy):
    """Asks the samples of ``SCRIPT`` in order, repeats included (``ask``/``tell`` are overridden, so the base
    class's own duplicate avoidance is bypassed); remembers what it is told."""

    name = "scripted-test"
    SCRIPT: list[Sample] = []

    def _setup(self) -> None:
        self.i = 0
        TOLD.clear()

    def ask(self, n: int) -> list[Sample]:
        out = [dict(s) for s in self.SCRIPT[self.i:self.i + n]]
        self.i += len(out)
        return out

    def tell(self, trials: Sequence[Trial]) -> None:
        TOLD.append(list(trials))

    _ask, _tell = ask, tell

    def _state(self) -> dict[str, Any]:
        return {"i": self.i}

    def _load(self, d: dict[str, Any]) -> None:
        self.i = int(d["i"])


@pytest.fixture()
def scripted(monkeypatch: pytest.MonkeyPatch):
    plugins.names("strategy")  # built-ins registered first
    monkeypatch.setitem(plugins._REG["strategy"], "scripted-test",  # removed again after the test
                        plugins.Plugin("strategy", "scripted-test", f"{__name__}:Scripted"))

    def run(script: list[Sample], out: Path, **budget: Any) -> list[Trial]:
        Scripted.SCRIPT = script
        d = tiny(strategy={"name": "scripted-test"}, budget={"batch": 3, **budget})
        d["space"]["params"] = {"arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8, 12]},
                                "train.lr": {"choice": [0.01, 1e9]}}
        Study(config_from_dict(d), out).run()
        return StudyStorage(storage_url(out)).trials()

    return run


def _key(t: Trial) -> tuple:
    return tuple(sorted(t.sample.items()))


def test_duplicates_are_told_never_evaluated_or_stored(scripted, evaluations: list, tmp_path: Path) -> None:
    stored = scripted([A, A, F, A, F, B, C], tmp_path, trials=4)
    assert [(t.number, t.sample, t.state) for t in stored] == [
        (0, A, TrialState.COMPLETE), (1, F, TrialState.FAILED), (2, B, TrialState.COMPLETE),
        (3, C, TrialState.COMPLETE)]
    assert sorted(n for n, _ in evaluations) == [0, 1, 2, 3]  # each design trained once
    # the strategy is told every ask, in ask order; repeats carry the original's result and duplicate_of
    assert [[(t.sample, t.state, t.info.get("duplicate_of")) for t in batch] for batch in TOLD] == [
        [(A, TrialState.COMPLETE, None), (A, TrialState.COMPLETE, 0), (F, TrialState.FAILED, None)],
        [(A, TrialState.COMPLETE, 0), (F, TrialState.FAILED, 1)],
        [(B, TrialState.COMPLETE, None), (C, TrialState.COMPLETE, None)]]
    assert dict(TOLD[0][1].values) == dict(TOLD[0][0].values)


def test_a_failed_design_runs_again_only_when_asked_to(scripted, evaluations: list, tmp_path: Path) -> None:
    stored = scripted([A, A, F, A, F, B], tmp_path, trials=4, retry_failed=True)
    assert [(t.number, t.sample, t.state) for t in stored] == [
        (0, A, TrialState.COMPLETE), (1, F, TrialState.FAILED), (2, F, TrialState.FAILED),
        (3, B, TrialState.COMPLETE)]
    assert sorted(n for n, _ in evaluations) == [0, 1, 2, 3]


def test_an_exhausted_strategy_ends_the_run(scripted, tmp_path: Path) -> None:
    stored = scripted([A, B], tmp_path, trials=10)  # the script runs dry after two designs
    assert [t.sample for t in stored] == [A, B]


def test_fronts_keep_one_trial_per_design() -> None:
    metrics = ["energy_pj"]
    a = Trial(0, A, {"energy_pj": 1.0})
    again = Trial(5, A, {"energy_pj": 1.0})  # the same design evaluated again (retry, parallel runs)
    dup = Trial(6, A, {"energy_pj": 1.0}, TrialState.COMPLETE, {"duplicate_of": 0})  # an old duplicate record
    b = Trial(1, B, {"energy_pj": 1.0})
    assert front_trials([a, again, dup, b], metrics) == [a, b]
