"""The terminal display: the front readable at 80 columns, the ETA from trial times."""
from __future__ import annotations

import time

from rich.console import Console

from imcnas.config import config_from_dict
from imcnas.search.status import StudyStatus
from imcnas.search.trial import Trial, TrialState
from imcnas.ui import SearchDisplay, front_table


def _front_trials() -> list[Trial]:
    sample = {"arch.stem": 16, "arch.convs": 2, "arch.width": 24, "bits.weights": 6, "bits.weights.L0": 8,
              "hw.crossbar.rows": 256, "hw.adc.bits": 5, "hw.adc.cols_per_adc": 8}
    return [Trial(i, {**sample, "arch.width": 8 * (i + 1)}, {"accuracy": 80.0 + i, "energy_pj": 1e6 * (i + 1),
                                                           "area_mm2": 0.5, "latency_ns": 1e4}) for i in range(3)]


def _render(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_front_is_whole_at_80_columns_and_a_table_when_wide() -> None:
    metrics = list(config_from_dict({}).formulation_obj().metrics)
    trials = _front_trials()
    narrow = _render(front_table(trials, metrics, width=80), 80)
    assert "…" not in narrow and max(len(line) for line in narrow.splitlines()) <= 80
    assert "Pareto front (3 designs)" in narrow
    for t in trials:
        assert f"trial {t.number}:" in narrow
        assert f"arch.width={t.sample['arch.width']}" in narrow.replace("\n", "")
    assert "hw.adc.cols_per_adc=8" in narrow.replace("\n", "").replace("  ", "")
    wide = _render(front_table(trials, metrics, width=160), 160)
    assert "…" not in wide and "┃ trial" in wide


def test_eta_comes_from_this_runs_trial_times() -> None:
    status = StudyStatus(budget=10, started=time.time() - 20)
    assert status.eta_s() is None  # nothing finished yet: unknown, not a guess
    status.done_this_run, status.evaluated = 4, 4
    assert abs(status.eta_s() - 30) < 1  # 5 s per trial, 6 to go
    status.in_batch = 1  # a trial of the running batch finished
    assert abs(status.eta_s() - 20) < 1
    shown = []
    display = SearchDisplay(list(config_from_dict({}).formulation_obj().metrics),
                            Console(width=80, record=True, color_system=None))
    display(status)
    shown.append(display.bar.tasks[0].fields["eta"])
    assert shown == ["0:00:20"]


def test_failure_summary_counts_reasons_but_not_interrupted_trials() -> None:
    fail = {"reason": "training diverged"}
    trials = [Trial(i, {}, {}, TrialState.FAILED, fail) for i in range(3)]
    trials.append(Trial(3, {}, {}, TrialState.FAILED, {"reason": "interrupted", "interrupted": True}))
    status = StudyStatus(trials=trials)
    assert status.failure_summary() == [("training diverged", 3)]
