"""Workers that die or hang (search/rungs.py): a process-pool worker killed mid-trial (SIGKILL, as the OOM
killer does) gets its trial retried once on fresh workers, a trial that kills its worker every time is FAILED
with the reason, a trial past ``executor.trial_timeout_s`` is stopped and FAILED, and the study goes on."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from imcnas import plugins
from imcnas.config import config_from_dict
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.study import Study
from imcnas.search.trial import TrialState

# a plug-in family: the cnn family, except that in a worker process arch.width 4 kills its worker (the first
# time only when ``once`` is set: a marker file remembers it) and arch.fc 16 hangs
PLUGIN = '''
import multiprocessing, os, signal, time
from pathlib import Path
from imcnas.plugins import register
from imcnas.space.families.cnn import CNN

MARKS = Path({marks!r})

class Faulty(CNN):
    name = "faulty_{tag}"

    def build(self, arch, input_shape, num_classes):
        if multiprocessing.parent_process() is not None:  # in a worker, never in the driver
            if arch.get("arch.width") == 4:
                mark = MARKS / ("w4-" + str(arch.get("arch.fc")))
                if not ({once} and mark.exists()):
                    mark.touch()
                    os.kill(os.getpid(), signal.SIGKILL)
            if arch.get("arch.fc") == 16 and {hang}:
                time.sleep(120)
        return super().build(arch, input_shape, num_classes)

register("family", "faulty_{tag}", Faulty())
'''


@pytest.fixture(autouse=True)
def _forget_plugins():
    """The driver's plug-in list and the registry are process-wide: later tests must not see these families,
    nor their workers try to import them."""
    plugins.names("family")  # the built-ins registered first, so the snapshot holds them
    saved, families = list(plugins._ACTIVE), dict(plugins._REG["family"])
    yield
    plugins._ACTIVE[:] = saved
    plugins._REG["family"].clear()
    plugins._REG["family"].update(families)


def _study(tmp_path: Path, tag: str, once: bool, hang: bool, timeout: float | None = None) -> list:
    marks = tmp_path / "marks"
    marks.mkdir()
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / f"faulty_{tag}.py").write_text(textwrap.dedent(PLUGIN.format(marks=str(marks), tag=tag, once=once,
                                                                        hang=hang)))
    sys.path.insert(0, str(mod))  # kept: a pool shutting down may still start a worker that imports it
    cfg = config_from_dict({
        "seed": 1, "data": {"dataset": "digits"}, "model": {"family": f"faulty_{tag}"},
        "plugins": [f"faulty_{tag}"],
        "space": {"family_defaults": False, "params": {
            "arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}, "arch.fc": {"choice": [0, 16]}}},
        "objectives": [{"name": "accuracy", "time": "1d"}, "energy_pj"],
        "strategy": {"name": "random"}, "budget": {"trials": 4, "batch": 4},
        "training": {"epochs": 1, "hwa": False, "lr": 0.01, "device": "cpu"},
        "evaluation": {"times": ["1d"], "repeats": 1},
        "executor": {"kind": "process", "workers": 2, "trial_timeout_s": timeout},
        "save_weights": False,
    })
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Study(cfg, tmp_path / "out").run()
    finally:
        torch.set_num_threads(before)
    trials = [t for t in StudyStorage(storage_url(tmp_path / "out")).trials() if t.info.get("duplicate_of") is None]
    return trials


def test_a_killed_worker_costs_one_retry_not_the_study(tmp_path: Path) -> None:
    trials = _study(tmp_path, "once", once=True, hang=False)
    assert len(trials) == 4
    assert {t.state for t in trials} == {TrialState.COMPLETE}, [t.info.get("reason") for t in trials]
    assert {t.sample["arch.width"] for t in trials} == {4, 8}  # the killed designs came back and completed
    assert len(list((tmp_path / "marks").iterdir())) >= 1  # workers really were killed


def test_a_trial_that_always_kills_its_worker_fails_with_the_reason(tmp_path: Path) -> None:
    trials = _study(tmp_path, "always", once=False, hang=False)
    assert len(trials) == 4
    by_width = {w: [t for t in trials if t.sample["arch.width"] == w] for w in (4, 8)}
    assert by_width[4] and by_width[8]
    for t in by_width[4]:
        assert t.state is TrialState.FAILED and "worker died twice" in t.info["reason"], t.info
    for t in by_width[8]:
        assert t.state is TrialState.COMPLETE, t.info.get("reason")


@pytest.mark.parametrize("timeout", [8.0])
def test_a_trial_past_its_timeout_is_stopped(tmp_path: Path, timeout: float) -> None:
    trials = _study(tmp_path, "hang", once=True, hang=True, timeout=timeout)
    assert len(trials) == 4
    for t in trials:
        if t.sample["arch.fc"] == 16:
            assert t.state is TrialState.FAILED and "timed out after 8 s" in t.info["reason"], t.info
        else:
            assert t.state is TrialState.COMPLETE, t.info.get("reason")


def test_a_timeout_needs_an_executor_that_can_stop_a_trial() -> None:
    from imcnas.errors import ConfigError

    with pytest.raises(ConfigError, match="trial_timeout_s needs an executor that can stop a running trial"):
        config_from_dict({"data": {"dataset": "digits"}, "executor": {"kind": "inprocess", "trial_timeout_s": 5}})
