"""Ctrl-C with a real SIGINT (in-process and process-pool executors), one writer per study, extending a
finished study and storage records that hold odd text."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from imcnas.cli import app
from imcnas.config import config_from_dict
from imcnas.errors import ConfigError
from imcnas.search.storage import StudyStorage, _json, storage_url
from imcnas.search.study import Study
from imcnas.search.trial import Trial, TrialState

from tests.conftest import CLI_ENV as ENV
from tests.search.test_resume import _count_rows
from tests.search.test_study import counted, run_study, tiny

# trials long enough (1-3 s each on an idle machine, more under load) that a SIGINT sent 0.3 s after a batch
# was stored lands inside the next one (a batch turns round in well under 0.1 s)
SLOW = {"training__epochs": 40, "training__batch_size": 32, "budget__trials": 6, "budget__batch": 2}


def _write(tmp_path: Path, d: dict[str, Any]) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


def _interrupt(cmd: list[str], out: Path, after_rows: int,
               sig: int = signal.SIGINT) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd``, send SIGINT once ``after_rows`` trials are stored, return the result and the seconds it
    took to exit after the signal."""
    env = {**os.environ, **ENV, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and _count_rows(out) < after_rows:
            time.sleep(0.05)
        assert proc.poll() is None, ("the search ended before the interrupt", proc.communicate())
        time.sleep(0.3)  # into the next batch's training
        sent = time.time()
        os.kill(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=60)
        took = time.time() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), took


@pytest.mark.parametrize("executor, sig", [("inprocess", signal.SIGINT), ("process", signal.SIGINT),
                                           ("inprocess", signal.SIGTERM)])
def test_ctrl_c_keeps_finished_trials_marks_running_ones_and_resume_finishes(tmp_path: Path, executor: str,
                                                                             sig: int) -> None:
    d = tiny(**SLOW, executor={"kind": executor, "workers": 2})
    cfg, out = _write(tmp_path, d), tmp_path / "run"
    cmd = [sys.executable, "-m", "imcnas.cli", "search", str(cfg), "--out", str(out), "-q"]
    res, took = _interrupt(cmd, out, after_rows=2, sig=sig)
    print(f"stopped {took:.2f} s after {signal.Signals(sig).name} ({executor} executor)")
    assert res.returncode == 130, res.stderr
    assert took < 10, f"took {took:.1f} s to stop after SIGINT"
    assert "Traceback" not in res.stderr
    assert "interrupted:" in res.stderr and f"--out {out} --resume" in res.stderr.replace("\n", " ")
    before = StudyStorage(storage_url(out)).trials()
    interrupted = [t for t in before if t.info.get("interrupted")]
    assert interrupted, [(t.number, t.state, t.info.get("reason")) for t in before]
    assert all(t.state is TrialState.FAILED and "Ctrl-C" in t.info["reason"] for t in interrupted)
    assert all(t.state is TrialState.COMPLETE or t.info.get("interrupted") for t in before)
    assert [t.number for t in before] == list(range(len(before)))
    assert 2 <= counted(before) - len(interrupted) < 6
    assert _unlocked(out)

    # --resume evaluates the interrupted trials again under their numbers and finishes the budget
    again = CliRunner().invoke(app, [*cmd[3:], "--resume"], env=ENV)
    assert again.exit_code == 0, (again.output, again.exception)
    after = StudyStorage(storage_url(out)).trials()
    assert [t.number for t in after] == list(range(len(after)))
    assert not [t for t in after if t.info.get("interrupted")]
    assert counted(after) == 6
    by_number = {t.number: t for t in after}
    for t in before:
        if not t.info.get("interrupted"):
            assert by_number[t.number] == t  # finished trials kept as they were
        else:
            assert by_number[t.number].sample == t.sample and by_number[t.number].state is TrialState.COMPLETE


def _unlocked(out: Path) -> bool:
    from imcnas.search.lock import StudyLock

    lock = StudyLock(out)
    try:
        lock.acquire()
        return True
    except ConfigError:
        return False
    finally:
        lock.release()


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    d = tiny(**SLOW)
    cfg, out = _write(tmp_path, d), tmp_path / "run"
    env = {**os.environ, **ENV, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "imcnas.cli", "search", str(cfg), "--out", str(out), "-q"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / ".imcnas.lock.owner").exists():
            time.sleep(0.05)
        for extra in ([], ["--resume"]):
            res = CliRunner().invoke(app, ["search", str(cfg), "--out", str(out), "-q", *extra], env=ENV)
            assert res.exit_code == 2, res.output
            assert "the study is being written by imcnas pid" in res.stderr and "one writer per study" in res.stderr
    finally:
        first.kill()
        first.wait()
    # the lock dies with its process: a killed search can be resumed at once
    assert _unlocked(out)


def test_a_finished_study_is_extended_by_a_larger_budget(tmp_path: Path) -> None:
    d = tiny(budget__trials=4, budget__batch=2)
    out = tmp_path / "run"
    first = run_study(d, out)
    assert counted(first) == 4
    d["budget"]["trials"] = 8
    with Study(config_from_dict(d), out, resume=True) as study:
        study.run()
    after = StudyStorage(storage_url(out)).trials()
    assert counted(after) == 8
    assert after[:len(first)] == first
    assert StudyStorage(storage_url(out)).config["budget"]["trials"] == 8
    assert yaml.safe_load((out / "config.yaml").read_text())["budget"]["trials"] == 8
    # other sections still may not change
    d["seed"] = 99
    with pytest.raises(ConfigError, match="different config .section 'seed'.*only budget and executor"):
        Study(config_from_dict(d), out, resume=True)


def test_resume_needs_a_study(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no study to resume there .no such folder"):
        Study(config_from_dict(tiny()), tmp_path / "nothing", resume=True)
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no study to resume there .no study.db"):
        Study(config_from_dict(tiny()), tmp_path / "empty", resume=True)
    assert list((tmp_path / "empty").glob("*.db")) == []


def test_storage_keeps_any_text_and_non_finite_numbers(tmp_path: Path) -> None:
    record = {"reason": "loss became NaN (Infinity too)", "x": math.nan, "y": [math.inf, -math.inf, 1.5],
              "nested": {1: ("a", True, None)}}
    assert _json(record) == {"reason": "loss became NaN (Infinity too)", "x": "nan", "y": ["inf", "-inf", 1.5],
                             "nested": {"1": ["a", True, None]}}
    d = tiny(budget__trials=2, budget__batch=2)
    out = tmp_path / "run"
    with Study(config_from_dict(d), out) as study:
        bad = Trial(0, {"arch.convs": 1}, {}, TrialState.FAILED, record)
        study._record(bad)
    stored = StudyStorage(storage_url(out)).trials()
    assert stored[0].info["reason"] == "loss became NaN (Infinity too)"
