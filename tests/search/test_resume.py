"""Resuming a study: after a real ``kill -9`` of the CLI, after a crash in the middle of a batch (each stage),
and the rule that an existing study needs ``--resume`` and the same config."""
from __future__ import annotations

import os
import signal
import sqlite3
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
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.study import Study

from tests.conftest import CLI_ENV as ENV
from tests.search.test_study import counted, run_study, summary, tiny

pytestmark = pytest.mark.usefixtures("one_thread")

WIDER = {"arch.width": {"choice": [4, 6, 8]}, "arch.fc": {"choice": [0, 8, 16]},
         "bits.weights": {"choice": [4, 6, 8]}, "bits.inputs": {"choice": [4, 8]}}  # 162 designs


def _resume_config(tmp_path: Path, **changes: Any) -> tuple[Path, dict[str, Any]]:
    d = tiny(strategy={"name": "nsga2", "options": {"pop_size": 8}}, **changes)
    d["space"]["params"].update(WIDER)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))  # the order of space.params is the order of sampling
    return path, d


def _count_rows(out: Path) -> int:
    """Trials in the SQLite file, read-only (optuna's RDBStorage would create the schema the writer is creating)."""
    db = out / "study.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return int(con.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_resume_after_a_real_kill(tmp_path: Path, evaluations: list) -> None:
    cfg, d = _resume_config(tmp_path, budget__trials=12, budget__batch=4, training__epochs=3)
    out = tmp_path / "run"
    env = {**os.environ, **ENV, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "imcnas.cli", "search", str(cfg), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if _count_rows(out) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, ("the search ended before it could be killed", proc.communicate())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = StudyStorage(storage_url(out)).trials()  # everything that made it to the storage before the kill
    assert 2 <= counted(before) < 12

    # the same command with --resume (in this process: one interpreter start-up less)
    res = CliRunner().invoke(app, [*cmd[3:], "--resume"], env=ENV)
    assert res.exit_code == 0, (res.output, res.exception)
    assert "Pareto front" in res.stdout
    after = StudyStorage(storage_url(out)).trials()
    assert [t.number for t in after] == list(range(len(after)))  # no gaps, no duplicates
    assert counted(after) == 12
    by_number = {t.number: t for t in after}
    for t in before:  # nothing finished was lost or changed ...
        assert by_number[t.number] == t
    assert not {n for n, _ in evaluations} & {t.number for t in before}  # ... or evaluated again
    assert {n for n, _ in evaluations} == {t.number for t in after if t.number >= len(before)
                                           and t.info.get("duplicate_of") is None}

    # the same trials as a run that was never interrupted (sequential mode is deterministic)
    whole = run_study(d, tmp_path / "whole")
    assert [(t.number, t.sample, t.state, t.info.get("duplicate_of")) for t in after] == \
        [(t.number, t.sample, t.state, t.info.get("duplicate_of")) for t in whole]
    for a, w in zip(after, whole):
        assert dict(a.values) == pytest.approx(dict(w.values), rel=1e-4)


class _Crash(BaseException):
    """Stands in for the process dying (not an Exception, so nothing on the way catches it)."""


CRASHES = {
    # (strategy, pop_size, batch, budget, arch.width choices, the crash comes after this many stored trials)
    # nsga2 in batches of 3, the crash in the first batch (no snapshot yet)
    "nsga2-first": ("nsga2", 6, 3, 7, [4, 8, 12], 1),
    # the last batch of a generation-based strategy is cut short (after a snapshot): it is re-asked whole
    "nsga2-last": ("nsga2", 4, 4, 8, [4, 8, 12], 5),
    # two designs in a batch of 4: duplicates inside the batch are told, never numbered, stored or evaluated
    "random-dup": ("random", None, 4, 2, None, 1),
}


@pytest.mark.parametrize("case", list(CRASHES))
def test_resume_after_a_crash_in_the_middle_of_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       evaluations: list, case: str) -> None:
    strategy, pop, batch, budget, widths, saves = CRASHES[case]
    d = tiny(strategy={"name": strategy, "options": {"pop_size": pop} if pop else {}}, budget__trials=budget,
             budget__batch=batch)
    if widths:
        d["space"]["params"]["arch.width"] = {"choice": widths}
    else:  # two designs
        d["space"]["params"] = {"arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}}
    whole = run_study(d, tmp_path / "whole")
    evaluations.clear()

    real_save = StudyStorage.save
    count = {"n": 0}

    def crashing_save(self, trial, space):
        if count["n"] == saves:
            raise _Crash
        count["n"] += 1
        real_save(self, trial, space)

    monkeypatch.setattr(StudyStorage, "save", crashing_save)
    out = tmp_path / "run"
    with pytest.raises(_Crash):
        Study(config_from_dict(d), out).run()
    monkeypatch.setattr(StudyStorage, "save", real_save)
    before = StudyStorage(storage_url(out)).trials()
    assert len(before) == saves
    first = {n for n, _ in evaluations}
    evaluations.clear()

    Study(config_from_dict(d), out, resume=True).run()
    after = StudyStorage(storage_url(out)).trials()
    assert summary(after) == summary(whole)
    assert {t.number: t for t in after if t.number < saves} == {t.number: t for t in before}
    assert not {n for n, _ in evaluations} & {t.number for t in before}  # nothing stored is evaluated again
    assert first | {n for n, _ in evaluations} >= {t.number for t in whole if "fidelity" in t.info
                                                   and t.info.get("duplicate_of") is None}


def test_an_existing_study_needs_resume_and_the_same_config(tmp_path: Path) -> None:
    cfg, _ = _resume_config(tmp_path, budget__trials=2)
    out = tmp_path / "run"
    runner = CliRunner()
    base = ["search", str(cfg), "--out", str(out), "-q"]
    assert runner.invoke(app, base, env=ENV).exit_code == 0
    again = runner.invoke(app, base, env=ENV)
    assert again.exit_code == 2 and "Traceback" not in again.output
    msg = again.stderr.strip()
    assert "\n" not in msg and "already holds a study" in msg and "--resume" in msg
    other = runner.invoke(app, [*base, "--resume", "--set", "training.epochs=2"], env=ENV)
    assert other.exit_code == 2 and "Traceback" not in other.output
    msg = other.stderr.strip()
    assert "\n" not in msg and "different config" in msg and "training" in msg
    same = runner.invoke(app, [*base, "--resume"], env=ENV)  # nothing left to do: the budget is spent
    assert same.exit_code == 0, same.output
    assert counted(StudyStorage(storage_url(out)).trials()) == 2
