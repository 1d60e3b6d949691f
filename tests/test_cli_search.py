"""``imcnas search`` and ``imcnas report`` on a tiny experiment; one-line errors with exit code 2."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import assert_user_error, run_cli
from imcnas.config import load_config
from imcnas.search.storage import StudyStorage, storage_url

TINY = {
    "name": "tiny-cli",
    "seed": 5,
    "data": {"dataset": "digits"},
    "model": {"family": "cnn"},
    "space": {"family_defaults": False, "params": {
        "arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}, "arch.fc": {"choice": [0, 16]},
        "hw.crossbar.rows": {"choice": [64, 128, 256]}, "bits.weights": {"choice": [4, 8]}}},
    "objectives": [{"name": "accuracy", "time": "1d"}, "energy_pj"],
    "constraints": ["area_mm2 <= 2"],
    "strategy": {"name": "random"},
    "budget": {"trials": 3, "batch": 3},
    "training": {"epochs": 1, "hwa": False, "lr": 0.01, "device": "cpu"},
    "evaluation": {"times": ["1d"], "repeats": 1},
}

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args: str):
    return run_cli(*args)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """A finished tiny search: (config file, output folder, CLI result)."""
    base = tmp_path_factory.mktemp("cli")
    cfg = base / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY, sort_keys=False))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run("search", str(cfg), "--out", str(base / "run"), "-q")
    finally:
        torch.set_num_threads(before)
    return cfg, base / "run", result


def test_search_prints_the_front_and_stores_the_study(study_dir) -> None:
    cfg, out, result = study_dir
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Pareto front (" in result.stdout
    assert "accuracy (max)" in result.stdout and "energy_pj (min)" in result.stdout
    assert f"study stored in {out}" in result.stdout
    assert (out / "study.db").is_file() and (out / "config.yaml").is_file()
    # config.yaml is the validated config, defaults filled in: it runs the same experiment
    assert load_config(out / "config.yaml") == load_config(cfg)
    trials = StudyStorage(storage_url(out)).trials()
    assert sum(t.info.get("duplicate_of") is None for t in trials) == 3


def test_report_writes_html_and_csv(study_dir) -> None:
    _, out, _ = study_dir
    result = run("report", str(out))
    assert result.exit_code == 0, (result.output, result.exception)
    html, front = out / "report.html", out / "front.csv"
    assert html.is_file() and "<html" in html.read_text().lower()
    rows = list(csv.DictReader(front.open()))
    assert rows and {"number", "accuracy", "energy_pj", "area_mm2", "fidelity", "arch.width"} <= set(rows[0])
    assert all(r["fidelity"] == "full" and float(r["area_mm2"]) <= 2 for r in rows)  # the fidelity is recorded
    assert (out / "trials.csv").is_file()
    assert str(html) in result.stdout and str(front) in result.stdout


def test_search_with_the_progress_bar(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "budget": {"trials": 1, "batch": 1}}, sort_keys=False))
    result = run("search", str(cfg), "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Pareto front (1 designs)" in result.stdout


def test_set_overrides_reach_the_study(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY, sort_keys=False))
    out = tmp_path / "run"
    result = run("search", str(cfg), "--out", str(out), "-q", "--set", "budget.trials=1",
                 "--set", "fidelity.kind=proxy", "--set", "objectives=[proxy, energy_pj]")
    assert result.exit_code == 0, (result.output, result.exception)
    stored = load_config(out / "config.yaml")
    assert stored.budget.trials == 1 and stored.fidelity.kind == "proxy"
    assert "proxy (max)" in result.stdout


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    assert_user_error(run("search", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "run")),
                      "nope.yaml: config file not found")
    assert not (tmp_path / "run").exists()


def test_bad_config_is_one_line_naming_the_path(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "budget": {"trails": 3}}))
    assert_user_error(run("search", str(cfg), "--out", str(tmp_path / "run")),
                      "bad.yaml: budget.trails: unknown field")
    cfg.write_text(yaml.safe_dump({**TINY, "strategy": {"name": "nsga3"}}))
    assert_user_error(run("search", str(cfg), "--out", str(tmp_path / "run")),
                      "strategy.name: unknown strategy 'nsga3'; known: evolution, nsga2")
    cfg.write_text(yaml.safe_dump(TINY))
    assert_user_error(run("search", str(cfg), "--out", str(tmp_path / "run"), "--set", "budget.trials=0"),
                      "budget.trials: Input should be greater than or equal to 1")
    assert not (tmp_path / "run").exists()


def test_report_of_a_folder_without_a_study_is_one_line(tmp_path: Path) -> None:
    assert_user_error(run("report", str(tmp_path)), "no study found")
