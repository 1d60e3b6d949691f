"""The study loop on tiny real problems (sklearn digits, a one-conv CNN, one training epoch): determinism,
constraints checked before training, unsatisfiable constraints, failed evaluations, successive halving,
formulations and storage (resume after a real ``kill -9`` and after crashes: ``test_resume.py``)."""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from imcnas.cli import app
from imcnas.config import config_from_dict
from imcnas.errors import ConfigError
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.study import Study
from imcnas.search.trial import Trial, TrialState

from tests.conftest import CLI_ENV as ENV

# a small space: one conv, width and hidden layer, crossbar rows and weight bits (24 designs)
TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 3,
    "data": {"dataset": "digits"},
    "model": {"family": "cnn"},
    "hardware": "pcm-14nm",
    "space": {"family_defaults": False, "params": {
        "arch.convs": {"choice": [1]},
        "arch.width": {"choice": [4, 8]},
        "arch.fc": {"choice": [0, 16]},
        "hw.crossbar.rows": {"choice": [64, 128, 256]},
        "bits.weights": {"choice": [4, 8]},
    }},
    "objectives": [{"name": "accuracy", "time": "1d"}, "energy_pj"],
    "strategy": {"name": "random"},
    "budget": {"trials": 4, "batch": 2},
    "training": {"epochs": 1, "hwa": False, "lr": 0.01, "batch_size": 64, "device": "cpu"},
    "evaluation": {"times": ["1d"], "repeats": 1},
    "save_weights": False,
}


def tiny(**changes: Any) -> dict[str, Any]:
    """TINY with ``section__field=value`` changes (``budget__trials=8``) or whole sections (``fidelity={...}``)."""
    d = copy.deepcopy(TINY)
    for key, value in changes.items():
        *head, last = key.split("__")
        cur = d
        for k in head:
            cur = cur.setdefault(k, {})
        cur[last] = value
    return d


def run_study(d: dict[str, Any], out: Path) -> list[Trial]:
    Study(config_from_dict(d), out).run()
    return StudyStorage(storage_url(out)).trials()


def summary(trials: list[Trial]) -> list[tuple]:
    return [(t.number, t.sample, t.state, dict(t.values), t.info.get("duplicate_of")) for t in trials]


def counted(trials: list[Trial]) -> int:
    """Trials that count towards the budget (evaluated, not duplicates or rejected samples)."""
    return sum(t.state in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)
               and t.info.get("duplicate_of") is None for t in trials)


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------------------------------- determinism
def test_same_seed_and_config_give_the_same_trials(tmp_path: Path) -> None:
    d = tiny(budget__trials=4, budget__batch=2)
    a = run_study(d, tmp_path / "a")
    b = run_study(d, tmp_path / "b")
    assert counted(a) == 4
    assert [t.number for t in a] == list(range(len(a)))
    assert summary(a) == summary(b)
    other = Study(config_from_dict(tiny(seed=4)), tmp_path / "c").strategy.ask(4)
    assert other != [t.sample for t in a[:4]]


# ------------------------------------------------------------------------------------------------- constraints
def test_constraints_are_checked_before_any_training(tmp_path: Path, evaluations: list) -> None:
    # area (pcm-14nm, these networks): 0.054-0.115 mm^2 with 64 crossbar rows (small arrays: periphery per
    # weight), 0.036-0.054 with 128, 0.031-0.037 with 256
    trials = run_study(tiny(constraints=["area_mm2 <= 0.04"], budget__trials=3, budget__batch=3), tmp_path)
    infeasible = [t for t in trials if t.state is TrialState.INFEASIBLE]
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.info.get("duplicate_of") is None]
    assert infeasible and len(complete) == 3
    for t in infeasible:
        assert t.sample["hw.crossbar.rows"] < 256
        assert "area_mm2 <= 0.04" in t.info["reason"] and t.info["stage"] == "constraints"
        assert t.values["area_mm2"] > 0.04  # the cost model ran ...
        assert "accuracy" not in t.values  # ... the training did not
        assert "fidelity" not in t.info and "elapsed_s" not in t.info
    for t in complete:
        assert t.sample["hw.crossbar.rows"] > 64 and t.values["area_mm2"] <= 0.04
        assert t.info["fidelity"] == "full" and "accuracy" in t.values
    assert sorted(n for n, _ in evaluations) == sorted(t.number for t in complete)


def test_unsatisfiable_constraints_stop_the_search_with_a_message(tmp_path: Path, evaluations: list) -> None:
    d = tiny(constraints=["area_mm2 <= 0.001"], budget__trials=4, budget__batch=2, budget__max_rejected=3)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"stopped: 4 consecutive samples were rejected \(last: violates "
                                          r"area_mm2 <= 0.001 \(is [0-9.]+\)\); nothing in the space seems"):
        Study(config_from_dict(d), tmp_path).run()
    assert time.perf_counter() - start < 30
    assert evaluations == []
    stored = StudyStorage(storage_url(tmp_path)).trials()
    assert len(stored) == 4 and all(t.state is TrialState.INFEASIBLE for t in stored)


def test_an_exhausted_space_stops_the_search_with_a_message(tmp_path: Path) -> None:
    d = tiny(budget__trials=4, budget__batch=2, budget__max_rejected=4)
    d["space"]["params"] = {"arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}}  # two designs
    status = Study(config_from_dict(d), tmp_path).run()  # the strategy runs dry: the study ends, budget or not
    assert status.message == "stopped: the strategy has no new design to ask (the space is exhausted)"
    stored = StudyStorage(storage_url(tmp_path)).trials()
    assert counted(stored) == 2 and len(stored) == 2  # no design stored or evaluated twice


def test_unsatisfiable_constraints_end_the_cli_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny(constraints=["area_mm2 <= 0.001"], budget__max_rejected=2)))
    result = CliRunner().invoke(app, ["search", str(cfg), "--out", str(tmp_path / "run"), "-q"], env=ENV)
    assert result.exit_code == 2, result.output
    msg = result.stderr.strip()
    assert "\n" not in msg and "consecutive samples were rejected" in msg and "Traceback" not in result.output


# --------------------------------------------------------------------------------------------- failed trials
def test_failed_evaluations_are_recorded_and_the_search_goes_on(tmp_path: Path) -> None:
    # lr 1e9 makes training diverge; 8-bit weights in one binary SRAM cell cannot be built (each value alone
    # is fine, so pre-flight lets the space through and the combination fails per trial)
    d = tiny(budget__trials=8, budget__batch=4)
    d["space"]["params"].update({"train.lr": {"choice": [0.01, 1e9]}, "hw.device.type": {"choice": ["pcm", "sram"]},
                                 "hw.weights.cells_per_weight": {"choice": [1, 8]}})
    trials = run_study(d, tmp_path)
    assert counted(trials) == 8
    states = {t.state for t in trials}
    assert TrialState.FAILED in states and TrialState.COMPLETE in states
    diverged = build_failed = 0
    for t in trials:
        if t.sample["hw.device.type"] == "sram" and t.sample["hw.weights.cells_per_weight"] == 1:
            assert t.state is TrialState.FAILED and t.info["stage"] == "build"
            assert "cell" in t.info["reason"], t.info["reason"]
            build_failed += 1
        elif t.sample["train.lr"] > 1:
            assert t.state is TrialState.FAILED and t.info["fidelity"] == "full"
            assert "diverged" in t.info["reason"] or "loss became" in t.info["reason"]
            assert "accuracy" not in t.values
            diverged += 1
        else:
            assert t.state is TrialState.COMPLETE
    assert diverged and build_failed
    # optuna sees FAIL trials (the dashboard shows them) with the imcnas record and its reason
    study = optuna.load_study(study_name="imcnas", storage=storage_url(tmp_path))
    fails = [t for t in study.trials if t.state is optuna.trial.TrialState.FAIL]
    assert len(fails) == diverged + build_failed
    assert all(t.user_attrs["imcnas"]["info"]["reason"] for t in fails)


# ------------------------------------------------------------------------------------------------- fidelities
def test_successive_halving_prunes_at_low_fidelity_and_records_it(tmp_path: Path, evaluations: list) -> None:
    d = tiny(fidelity={"kind": "successive_halving", "eta": 2, "short_epochs": 1}, budget__trials=8,
             budget__batch=4, training__epochs=2)
    trials = run_study(d, tmp_path)
    assert counted(trials) == 8 and len(trials) == 8
    fid = {t.number: t.info["fidelity"] for t in trials}
    # brackets from the evaluation log: a run of proxy evaluations (the batch's new designs), then the best
    # half trained short, then the best of those trained fully (eta 2)
    brackets: list[dict[str, list[int]]] = []
    for n, f in evaluations:
        if f == "proxy" and (not brackets or brackets[-1]["short"]):
            brackets.append({"proxy": [], "short": [], "full": []})
        brackets[-1][f].append(n)
    assert sum(len(b["proxy"]) for b in brackets) == 8
    for b in brackets:
        k = len(b["proxy"])
        assert len(b["short"]) == math.ceil(k / 2) and len(b["full"]) == math.ceil(len(b["short"]) / 2), b
        assert set(b["full"]) <= set(b["short"]) <= set(b["proxy"])
        got = sorted(fid[n] for n in b["proxy"])
        assert got == sorted(["full"] * len(b["full"]) + ["short"] * (len(b["short"]) - len(b["full"]))
                             + ["proxy"] * (k - len(b["short"]))), got
    for t in trials:
        if t.info["fidelity"] == "full":
            assert t.state is TrialState.COMPLETE and "accuracy" in t.values
        else:
            assert t.state is TrialState.PRUNED
        if t.info["fidelity"] == "proxy":
            assert "proxy" in t.values and "accuracy" not in t.values
        if t.info["fidelity"] == "short":
            assert "accuracy" in t.values
    # each rung evaluates only the survivors of the one below
    for n, f in evaluations:
        assert {"proxy": 0, "short": 1, "full": 2}[f] <= {"proxy": 0, "short": 1, "full": 2}[fid[n]]


def test_proxy_fidelity_with_the_proxy_objective(tmp_path: Path, evaluations: list) -> None:
    trials = run_study(tiny(fidelity={"kind": "proxy"}, objectives=["proxy", "energy_pj"]), tmp_path)
    assert counted(trials) == 4
    assert all(t.state is TrialState.COMPLETE and t.info["fidelity"] == "proxy" and "proxy" in t.values
               and "accuracy" not in t.values for t in trials)
    assert {f for _, f in evaluations} == {"proxy"}


def test_accuracy_needs_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fidelity.kind: 'proxy' trains nothing, so objective 'accuracy' is "
                                          "unavailable"):
        Study(config_from_dict(tiny(fidelity={"kind": "proxy"})), tmp_path / "a")
    with pytest.raises(ConfigError, match="'proxy' needs fidelity.kind: proxy"):
        Study(config_from_dict(tiny(objectives=["proxy", "energy_pj"])), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------------------------- formulations
def test_scalar_formulation_stores_a_score(tmp_path: Path) -> None:
    d = tiny(formulation={"kind": "scalar", "weights": [1.0, 0.5], "scales": [100.0, 1e4]},
             constraints=["area_mm2 <= 0.5"])
    trials = run_study(d, tmp_path)
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert complete
    for t in complete:
        assert t.values["score"] == pytest.approx(t.values["accuracy"] / 100 - 0.5 * t.values["energy_pj"] / 1e4)
    study = optuna.load_study(study_name="imcnas", storage=storage_url(tmp_path))
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE]
    assert sorted(t.values[0] for t in study.trials if t.state is optuna.trial.TrialState.COMPLETE) == \
        pytest.approx(sorted(t.values["score"] for t in complete))


def test_mnas_formulation_stores_a_score(tmp_path: Path) -> None:
    trials = run_study(tiny(formulation={"kind": "mnas", "target": 3000.0}, budget__trials=2), tmp_path)
    for t in trials:
        assert t.values["score"] == pytest.approx(t.values["accuracy"] * (t.values["energy_pj"] / 3000) ** -0.07)


# ------------------------------------------------------------------------------------------------------ storage
def test_any_sqlalchemy_url_holds_the_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    Study(config_from_dict(tiny(storage=url, budget__trials=2)), tmp_path / "out").run()
    assert not (tmp_path / "out" / "study.db").exists()
    study = optuna.load_study(study_name="imcnas", storage=url)  # what optuna-dashboard opens
    assert len(study.trials) >= 2
    assert [t.number for t in StudyStorage(url).trials()] == list(range(len(study.trials)))


def test_strategy_errors_leave_no_study_behind(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'bogus'"):
        Study(config_from_dict(tiny(strategy={"name": "random", "options": {"bogus": 1}})), tmp_path)
    assert not (tmp_path / "study.db").exists()
    Study(config_from_dict(tiny(budget__trials=1)), tmp_path).run()  # the folder is still usable
