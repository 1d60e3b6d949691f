"""``imcnas bench``: problems, methods, counting, scores, report, verdict and the command line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import assert_user_error, run_cli
from imcnas.analysis.indicators import hypervolume
from imcnas.benchmarks import bench_report
from imcnas.benchmarks.problems import get_problem, unavailable
from imcnas.benchmarks.runners import METHODS, Tracker, run_method
from imcnas.benchmarks.suite import (BenchConfig, checkpoints, evals_to, igd_plus, load_results, one_percent,
                                     read_journal, run_bench, save_results)
from imcnas.errors import ConfigError, UnknownNameError


# ------------------------------------------------------------------------------------------------ problems
@pytest.mark.parametrize("name", ["categorical", "zdt1", "dtlz2", "imcbench"])
def test_problem_true_front_scores_one(name: str) -> None:
    p = get_problem(name)
    assert hypervolume(p.true_front, p.ref) / p.true_hv == pytest.approx(1.0, abs=0.03)  # pymoo's discrete fronts
    assert igd_plus(p.true_front, p.true_front) == pytest.approx(0.0, abs=1e-12)
    assert len(p.objectives) == p.true_front.shape[1] == len(p.ref)


def test_problem_evaluate_matches_table() -> None:
    p = get_problem("imcbench")
    table = p.extra["table"]
    sample = table.sample_at(7)
    assert np.allclose(p.evaluate(sample), table.objective_matrix()[7])
    assert p.key(sample) == 7 and p.size == table.size and p.discrete


def test_unknown_and_unavailable_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    from imcnas.benchmarks import problems

    with pytest.raises(UnknownNameError, match="zdt1"):
        get_problem("nope")

    def missing_module() -> None:
        raise ModuleNotFoundError("no module", name="imcnas.benchmarks.nope")

    def missing_extra() -> None:
        raise ImportError("needs the 'x' package (pip install 'imcnas[bench]')")

    # (nasbench-graph itself builds when its extra is installed: tests/benchmarks/test_nasbenchgraph.py)
    monkeypatch.setitem(problems.PROBLEMS, "test-missing-module", missing_module)
    monkeypatch.setitem(problems.PROBLEMS, "test-missing-extra", missing_extra)
    assert unavailable("test-missing-module") == ("not part of this version of imcnas (imcnas.benchmarks.nope "
                                                  "does not exist yet)")
    why = unavailable("test-missing-extra")
    assert why is not None and why.startswith("not available here") and "extras" in why
    assert unavailable("categorical") is None


def test_checkpoints_and_one_percent() -> None:
    cat, zdt = get_problem("categorical"), get_problem("zdt1")
    assert one_percent(1024) == 11 and one_percent(None) is None
    assert checkpoints(cat, quick=False) == [11, 100, 300, 1000]
    assert checkpoints(cat, quick=True) == [11, 100, 300]
    assert checkpoints(zdt, quick=False) == [100, 300, 1000]


# ------------------------------------------------------------------------------------------------ counting
def test_tracker_counts_distinct_designs_and_its_ratio_is_the_hypervolume() -> None:
    p = get_problem("categorical")
    t = Tracker(p)
    rng = np.random.default_rng(0)
    samples = [p.space.sample(rng) for _ in range(60)]
    for s in samples + samples[:10]:  # ten repeats: free
        t.add(s)
    keys = {p.key(s) for s in samples}
    assert t.evals == len(keys) and t.asks == 70 and len(t.ratio) == len(keys)
    assert all(b >= a for a, b in zip(t.ratio, t.ratio[1:]))
    F = np.array(t.rows)
    assert t.ratio[-1] == pytest.approx(hypervolume(F, p.ref) / p.true_hv)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_to_budget_with_distinct_designs(method: str) -> None:
    p = get_problem("categorical")
    r = run_method(method, p, 40, seed=1, max_asks=400)
    assert len(r.ratio) == len(r.F) == 40 or METHODS[method].kind == "optuna"  # optuna may re-ask
    assert len({tuple(row) for row in r.F}) <= len(r.F) and r.asks >= len(r.F)
    assert 0.0 <= r.ratio[0] and r.ratio[-1] <= 1.0 + 1e-9


def test_plain_pymoo_runs_on_a_continuous_problem() -> None:
    r = run_method("pymoo-nsga2", get_problem("zdt1"), 150, seed=0, max_asks=3000)
    assert len(r.ratio) == 150 and r.ratio[-1] > 0


def test_methods_are_labelled_and_published_schemes_say_so() -> None:
    for name, m in METHODS.items():
        assert m.label and (m.kind != "strategy" or m.strategy)
        if name.endswith("-style"):
            assert "style" in m.label and m.note and m.options
    with pytest.raises(UnknownNameError):
        run_method("nope", get_problem("categorical"), 5, 0, max_asks=10)


def test_evals_to_target() -> None:
    assert evals_to([0.1, 0.5, 0.96, 0.99], 0.95) == 3
    assert evals_to([0.1, 0.5], 0.95) is None


# ------------------------------------------------------------------------------------------------ suite + report
@pytest.fixture(scope="module")
def small_bench() -> dict:
    cfg = BenchConfig(problems=("categorical",), methods=("random", "surrogate", "nsga2", "pymoo-nsga2"),
                      seeds=2, quick=True, jobs=1)
    return run_bench(cfg)


def test_run_bench_covers_every_job(small_bench: dict) -> None:
    res = small_bench["results"]
    assert len(res) == 4 * 2
    assert small_bench["meta"]["problems"]["categorical"]["checkpoints"] == [11, 100, 300]
    for r in res:
        assert set(r["igd"]) == {"11", "100", "300"}
        hit = r["to_target"]["0.98"]
        assert hit is None or r["ratio"][hit - 1] >= 0.98 > (r["ratio"][hit - 2] if hit > 1 else 0)
    json.dumps(small_bench)  # JSON-able


def test_report_has_tables_and_verdict(small_bench: dict) -> None:
    md = bench_report.render(small_bench, "figs")
    assert md.startswith(bench_report.BEGIN) and md.rstrip().endswith(bench_report.END)
    assert "| `surrogate` |" in md and "pymoo NSGA-II (plain)" in md and "11 (1 %)" in md
    assert "figs/bench_categorical.png" in md


def _fake(default_better: bool) -> dict:
    """Two methods on one problem, one clearly better: the verdict must see it."""
    good, bad = [0.5, 0.99, 1.0], [0.1, 0.2, 0.3]
    from imcnas.config import StrategyConfig

    d = StrategyConfig().name
    runs = []
    for seed in range(3):
        for m, ratio in ((d, good if default_better else bad), ("pymoo-nsga2", bad if default_better else good)):
            runs.append({"problem": "categorical", "method": m, "seed": seed, "ratio": [x + 0.001 * seed for x in ratio],
                         "asks": 3, "seconds": 0.0, "igd": {"2": 0.1, "3": 0.1},
                         "to_target": {"0.95": evals_to(ratio, 0.95), "0.98": evals_to(ratio, 0.98)}})
    meta = {"quick": True, "seeds": 3, "methods": [d, "pymoo-nsga2"], "skipped": {}, "slow_asks": 300,
            "reask_factor": 20, "jobs": 1, "targets": [0.95, 0.98], "machine": "x", "total_s": 1.0,
            "versions": {"python": "3", "numpy": "1", "pymoo": "0", "optuna": "4"},
            "problems": {"categorical": {"name": "categorical", "label": "cat", "size": 300, "objectives": ["a", "b"],
                                         "ref": [1, 1], "true_hv": 1.0, "front_size": 2, "notes": "",
                                         "checkpoints": [2, 3], "one_percent": 3, "params": 2}}}
    return {"meta": meta, "results": runs}


def test_verdict_can_fail_and_pass() -> None:
    bad = "\n".join(bench_report.verdict(_fake(default_better=False)))
    assert "Not at or ahead everywhere" in bad and "not met" in bad
    assert "would be the better default" not in bad  # pymoo-nsga2 is no imcnas strategy: no candidate
    good = "\n".join(bench_report.verdict(_fake(default_better=True)))
    assert "at or ahead of plain pymoo NSGA-II" in good and "met on every finite problem" in good
    assert "is the best by this rule" in good


def test_verdict_names_a_better_default() -> None:
    data = _fake(default_better=False)
    for r in data["results"]:
        if r["method"] == "pymoo-nsga2":
            r["method"] = "evolution"  # an imcnas strategy that beats the default
    data["meta"]["methods"] = [m if m != "pymoo-nsga2" else "evolution" for m in data["meta"]["methods"]]
    text = "\n".join(bench_report.verdict(data))
    assert "**`evolution` would be the better default.**" in text


def test_write_block_replaces_only_its_block(tmp_path) -> None:
    doc = tmp_path / "b.md"
    doc.write_text("# Title\n\nintro\n\n## Hand-written\n\nkeep me\n")
    bench_report.write_block(doc, f"{bench_report.BEGIN}\nfirst\n{bench_report.END}\n")
    bench_report.write_block(doc, f"{bench_report.BEGIN}\nsecond\n{bench_report.END}\n")
    text = doc.read_text()
    assert "second" in text and "first" not in text and "keep me" in text and text.startswith("# Title")
    assert text.count(bench_report.BEGIN) == 1


def test_save_load_and_merge(small_bench: dict, tmp_path) -> None:
    a = save_results(small_bench, tmp_path / "a.json")
    other = json.loads(json.dumps(small_bench))
    other["meta"]["problems"] = {"zdt1": dict(other["meta"]["problems"]["categorical"], name="zdt1")}
    for r in other["results"]:
        r["problem"] = "zdt1"
    b = save_results(other, tmp_path / "b.json")
    merged = load_results([a, b])
    assert set(merged["meta"]["problems"]) == {"categorical", "zdt1"} and len(merged["results"]) == 16
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConfigError, match="bad.json"):
        load_results([tmp_path / "bad.json"])


def test_journal_resumes_without_running_again(tmp_path) -> None:
    cfg = BenchConfig(problems=("categorical",), methods=("random", "evolution"), seeds=2, quick=True, jobs=1)
    journal = tmp_path / "runs.jsonl"
    first = run_bench(cfg, journal=journal)
    assert len(read_journal(journal)) == 4
    with journal.open("a") as fh:
        fh.write('{"problem": "categorical", "method"')  # a line cut short by a kill
    seen = []
    again = run_bench(cfg, lambda r, k, n: seen.append(r), journal=journal)
    assert seen == [] and again["meta"]["resumed_runs"] == 4
    key = lambda r: (r["method"], r["seed"])  # noqa: E731
    assert sorted(again["results"], key=key) == sorted(first["results"], key=key)


def test_bench_config_rejects_unknown_names() -> None:
    with pytest.raises(UnknownNameError):
        BenchConfig(methods=("nope",))
    with pytest.raises(ConfigError):
        BenchConfig(seeds=0)


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_bench_quick_writes_results_report_and_figures(tmp_path) -> None:
    out = tmp_path / "bench"
    doc = tmp_path / "docs" / "benchmarks.md"
    result = run_cli("bench", "--quick", "--problems", "categorical", "--methods", "random,surrogate", "--seeds", "2",
                     "--jobs", "1", "-o", str(out), "--doc", str(doc), "--figures", str(tmp_path / "docs" / "figures"))
    assert result.exit_code == 0, result.output
    assert (out / "results.json").exists() and (out / "bench.md").exists()
    text = doc.read_text()
    assert bench_report.BEGIN in text and "Default strategy" in text
    pytest.importorskip("matplotlib")
    assert (tmp_path / "docs" / "figures" / "bench_categorical.png").exists()
    assert "](figures/bench_categorical.png)" in text
    assert_user_error(run_cli("bench", "--quick", "--problems", "categorical", "-o", str(out)), "--resume")
    again = run_cli("bench", "--load", str(out / "results.json"), "-o", str(tmp_path / "again"))
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again" / "bench.md").read_text().count("| `surrogate` |") == 2


def test_cli_bench_bad_input_is_one_line(tmp_path) -> None:
    assert_user_error(run_cli("bench", "--problems", "nope"), "nope")
    assert_user_error(run_cli("bench", "--methods", "random,nope"), "nope")
    (tmp_path / "x.json").write_text("not json")
    assert_user_error(run_cli("bench", "--load", str(tmp_path / "x.json")), "x.json")
