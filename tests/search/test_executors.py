"""Executors: in-process and a pool of spawned worker processes behind one submit / wait_any interface."""
from __future__ import annotations

import concurrent.futures as cf
import math
import os
from pathlib import Path

import pytest
import torch

from imcnas.config import config_from_dict
from imcnas.errors import UnknownNameError
from imcnas.search.executors import InProcessExecutor, ProcessPoolExecutor, make_executor
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.study import Study
from imcnas.search.trial import TrialState


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _fail(x: int) -> int:
    raise ValueError(f"bad {x}")


def _wait_all(ex, futures: list[cf.Future]) -> None:
    pending = set(futures)
    while pending:
        done = ex.wait_any(list(pending), timeout=60)
        assert done, "no future finished within a minute"
        pending -= set(done)


def test_make_executor_by_name() -> None:
    assert isinstance(make_executor("inprocess"), InProcessExecutor)
    pool = make_executor("process", 1)
    try:
        assert isinstance(pool, ProcessPoolExecutor)
    finally:
        pool.shutdown()
    with pytest.raises(UnknownNameError, match="unknown executor 'dask'; known: inprocess, process, ray"):
        make_executor("dask")


def test_in_process_runs_at_submission_and_delivers_errors() -> None:
    ex = InProcessExecutor()
    ok, bad = ex.submit(_pid_and_square, 3), ex.submit(_fail, 2)
    assert ok.done() and bad.done()
    assert ex.wait_any([ok, bad]) == [ok, bad]
    assert ok.result() == (os.getpid(), 9)
    with pytest.raises(ValueError, match="bad 2"):
        bad.result()
    ex.shutdown()


@pytest.mark.skipif(not os.path.exists("/proc/self"), reason="needs /proc")
def test_process_pool_runs_picklable_functions_in_workers() -> None:
    # standard-library functions, so the spawned workers need not import this test module
    ex = ProcessPoolExecutor(workers=2)
    try:
        futures = [ex.submit(math.factorial, i) for i in range(6)]
        pids = [ex.submit(os.readlink, "/proc/self") for _ in range(4)]  # the pid of the process running it
        bad = ex.submit(math.factorial, -1)
        _wait_all(ex, [*futures, *pids, bad])
        assert [f.result() for f in futures] == [1, 1, 2, 6, 24, 120]
        assert str(os.getpid()) not in {f.result() for f in pids}  # ran in worker processes
        with pytest.raises(ValueError, match="factorial"):
            bad.result()
    finally:
        ex.shutdown()


def test_study_with_a_process_pool_completes_its_budget(tmp_path: Path) -> None:
    cfg = config_from_dict({
        "seed": 2, "data": {"dataset": "digits"}, "model": {"family": "cnn"},
        "space": {"family_defaults": False, "params": {
            "arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}, "arch.fc": {"choice": [0, 16]},
            "hw.crossbar.rows": {"choice": [64, 128, 256]}, "bits.weights": {"choice": [4, 8]}}},
        "objectives": [{"name": "accuracy", "time": "1d"}, "energy_pj"],
        "strategy": {"name": "random"}, "budget": {"trials": 3, "batch": 3},
        "training": {"epochs": 1, "hwa": False, "lr": 0.01, "device": "cpu"},
        "evaluation": {"times": ["1d"], "repeats": 1},
        "executor": {"kind": "process", "workers": 2},
        "save_weights": False,
    })
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        status = Study(cfg, tmp_path).run()
    finally:
        torch.set_num_threads(before)
    assert status.evaluated == 3
    trials = StudyStorage(storage_url(tmp_path)).trials()
    assert [t.number for t in trials] == list(range(len(trials)))
    evaluated = [t for t in trials if t.info.get("duplicate_of") is None]
    assert len(evaluated) == 3
    for t in evaluated:
        assert t.state is TrialState.COMPLETE, t.info.get("reason")
        assert t.info["fidelity"] == "full" and 0 <= t.values["accuracy"] <= 100 and t.values["energy_pj"] > 0
