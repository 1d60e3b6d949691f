"""The Ray executor on a real local Ray cluster (2 CPUs, one per module): futures, a search, a killed worker,
and the one-line error without ray."""
from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import torch

import imcnas.search.rungs as rungs_mod
from imcnas.config import config_from_dict
from imcnas.errors import ConfigError
from imcnas.search.evaluate import run_task as _real_run_task
from imcnas.search.executors import make_executor
from imcnas.search.ray_executor import RayExecutor
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.study import Study
from imcnas.search.trial import TrialState


def test_without_ray_the_executor_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError) as err:
        make_executor("ray", 2)
    assert str(err.value) == "executor kind 'ray' needs the ray extra: pip install imcnas[ray]"


def test_the_config_takes_ray_options_and_validates_them() -> None:
    ex = config_from_dict({"executor": {"kind": "ray", "address": "auto",
                                        "resources_per_trial": {"cpu": 2, "gpu": 0.5}}}).executor
    assert ex.options() == {"address": "auto", "resources_per_trial": {"cpu": 2.0, "gpu": 0.5}}
    assert config_from_dict({"executor": {"kind": "process"}}).executor.options() == {}
    with pytest.raises(ConfigError, match="executor.resources_per_trial"):
        config_from_dict({"executor": {"kind": "ray", "resources_per_trial": {"cpu": -1}}})


def test_auto_without_a_cluster_starts_one_and_shuts_it_down() -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("ray is already initialised in this process")
    ex = RayExecutor(workers=1, address="auto")  # no `ray start` cluster here: a local one of 1 CPU
    try:
        assert ex.wait_any([ex.submit(abs, -3)], timeout=60)[0].result() == 3
    finally:
        ex.shutdown()
    assert not ray.is_initialized() or not ex._owns  # stopped, unless it had joined a running cluster


# ---------------------------------------------------------------------------------------------- on a cluster
def _square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _fail(x: int) -> int:
    raise ValueError(f"bad {x}")


def _die_or_square(x: int) -> int:
    if x < 0:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return x * x


def _killing_run_task(task):
    if task.number == 1:  # the worker running trial 1 is killed (as by the OOM killer)
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_run_task(task)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    # this module's functions go to the workers by value (they cannot import the test module)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _wait_all(ex, futures: list[cf.Future], limit: float = 60) -> None:
    pending, end = set(futures), time.time() + limit
    while pending:
        assert time.time() < end, "futures did not finish"
        pending -= set(ex.wait_any(list(pending), timeout=0.5))


def test_submit_wait_any_shutdown(ray_cluster) -> None:
    ex = make_executor("ray", 2, resources_per_trial={"cpu": 1})
    assert isinstance(ex, RayExecutor) and not ex._owns  # the fixture's cluster is used, and left running
    futures = [ex.submit(_square, i) for i in range(5)]
    bad = ex.submit(_fail, 3)
    first = ex.wait_any(futures, timeout=60)
    assert first and all(f.done() for f in first)
    _wait_all(ex, [*futures, bad])
    assert [f.result()[1] for f in futures] == [0, 1, 4, 9, 16]
    assert os.getpid() not in {f.result()[0] for f in futures}  # ran in Ray worker processes
    with pytest.raises(ValueError, match="bad 3"):  # the task's own exception, not Ray's wrapper
        bad.result()
    # asynchronous: a finished task is handed back while another still runs
    slow, quick = ex.submit(time.sleep, 30), ex.submit(_square, 2)
    assert ex.wait_any([slow, quick], timeout=30) == [quick]
    t = time.time()
    ex.shutdown(kill=True)  # cancels the running one
    assert slow.cancelled() and time.time() - t < 10
    assert ray_cluster.is_initialized()


def test_make_executor_passes_the_config_options(ray_cluster) -> None:
    section = config_from_dict({"executor": {"kind": "ray", "workers": 2,
                                             "resources_per_trial": {"cpu": 1, "gpu": 0, "slot": 0}}}).executor
    ex = make_executor(section)
    try:
        assert isinstance(ex, RayExecutor) and (ex.cpu, ex.gpu, ex.custom) == (1.0, 0.0, {})
        assert ex.wait_any([ex.submit(abs, -2)], timeout=60)[0].result() == 2
    finally:
        ex.shutdown()
    pool = make_executor("process", 1, address="auto")  # an executor without the option does not get it
    pool.shutdown()


def test_a_killed_worker_is_a_failed_future_and_the_others_finish(ray_cluster) -> None:
    ex = RayExecutor(workers=2)
    try:
        futures = [ex.submit(_die_or_square, x) for x in (2, -1, 3, 4)]
        _wait_all(ex, futures)
        assert [futures[i].result() for i in (0, 2, 3)] == [4, 9, 16]
        err = futures[1].exception()
        assert err is not None and type(err).__name__ == "WorkerCrashedError"
    finally:
        ex.shutdown()


def _search_cfg(trials: int, executor: dict) -> dict:
    # the smallest study of tests/search/test_executors.py
    return {
        "seed": 2, "data": {"dataset": "digits"}, "model": {"family": "cnn"},
        "space": {"family_defaults": False, "params": {
            "arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}, "arch.fc": {"choice": [0, 16]},
            "hw.crossbar.rows": {"choice": [64, 128, 256]}, "bits.weights": {"choice": [4, 8]}}},
        "objectives": [{"name": "accuracy", "time": "1d"}, "energy_pj"],
        "strategy": {"name": "random"}, "budget": {"trials": trials, "batch": trials},
        "training": {"epochs": 1, "hwa": False, "lr": 0.01, "device": "cpu"},
        "evaluation": {"times": ["1d"], "repeats": 1},
        "executor": executor,
        "save_weights": False,
    }


def _run(tmp_path: Path, cfg: dict):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        status = Study(config_from_dict(cfg), tmp_path).run()
    finally:
        torch.set_num_threads(before)
    trials = [t for t in StudyStorage(storage_url(tmp_path)).trials() if t.info.get("duplicate_of") is None]
    return status, trials


def test_a_search_on_ray_completes_all_trials(ray_cluster, tmp_path: Path) -> None:
    status, trials = _run(tmp_path, _search_cfg(3, {"kind": "ray", "workers": 2}))
    assert status.evaluated == 3 and len(trials) == 3
    for t in trials:
        assert t.state is TrialState.COMPLETE, t.info.get("reason")
        assert 0 <= t.values["accuracy"] <= 100 and t.values["energy_pj"] > 0


def test_a_search_whose_worker_is_killed_records_it_failed(ray_cluster, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rungs_mod, "run_task", _killing_run_task)
    status, trials = _run(tmp_path, _search_cfg(3, {"kind": "ray", "workers": 2,
                                                    "resources_per_trial": {"cpu": 1, "gpu": 0}}))
    by_number = {t.number: t for t in trials}
    assert by_number[1].state is TrialState.FAILED
    assert "WorkerCrashedError" in str(by_number[1].info.get("reason")) or \
        "died" in str(by_number[1].info.get("reason"))
    others = [t for n, t in by_number.items() if n != 1]
    assert others and all(t.state is TrialState.COMPLETE for t in others), [t.info for t in others]
