"""Fixtures shared by the study tests."""
from __future__ import annotations

import pytest

import imcnas.search.rungs as rungs_mod


@pytest.fixture()
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(trial number, fidelity) of every expensive evaluation the study runs (in-process executor)."""
    calls: list[tuple[int, str]] = []
    real = rungs_mod.run_task

    def counting(task):
        calls.append((task.number, task.fidelity))
        return real(task)

    monkeypatch.setattr(rungs_mod, "run_task", counting)
    return calls
