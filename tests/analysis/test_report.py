"""The study report and design export, on a synthetic study written through the real optuna storage."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune
from typer.testing import CliRunner

import imcnas
import imcnas.analysis.report_figures as rf
import imcnas.space.families as families
from imcnas.analysis import export_designs, load_results, study_hv_history, study_hypervolume, write_report
from imcnas.analysis.pareto import StudyResults, front_trials
from imcnas.analysis.report import report_front
from imcnas.analysis.report_tables import failure_summary, failures_html, fmt_time, reason_pattern
from imcnas.cli import app
from imcnas.errors import ConfigError
from imcnas.hardware.cost import AREA_COMPONENTS, ENERGY_COMPONENTS
from imcnas.search.objectives import metric
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.trial import Trial, TrialState
from imcnas.space.params import Choice, Float, Int
from imcnas.space.searchspace import SearchSpace
from imcnas.workload.zoo import load_model

INPUT_SHAPE, CLASSES = (1, 8, 8), 3
CONFIG = {"objectives": ["accuracy", "energy"], "data": {"dataset": "digits"}, "model": {"family": "tiny"},
          "hardware": "neurosim-sram-22nm"}
SPACE = SearchSpace({"arch.width": Int(2, 8), "hw.crossbar.rows": Choice((64, 128, 256)),
                     "bits.weights": Choice((4, 8)), "train.lr": Float(1e-3, 1e-1, log=True)})


def tiny_model(family: str, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The test's stand-in for a family: a conv of ``arch.width`` channels and a classifier."""
    assert family == "tiny" and isinstance(input_shape, tuple)
    w = int(arch["arch.width"])
    c, h, wd = input_shape
    return nn.Sequential(nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(w * h * wd, num_classes))


DRIFT_TIMES = [1.0, 3600.0, 86400.0, 365 * 86400.0]


def make_study(out: Path, n: int = 40, seed: int = 0, weights: bool = True,
               config: Mapping[str, Any] = CONFIG, extras: bool = False) -> list[Trial]:
    """A study of ``n`` trials: about 1 in 7 infeasible, 1 in 11 failed, the rest complete with an
    accuracy/energy trade-off; weights saved for complete trials (pruned ones with torch prune masks).
    ``extras``: complete trials carry a drift-time accuracy record (``AccuracyResult.to_dict()``), and after
    them come a duplicate-sample record of the most accurate trial, a pruned trial and a build failure."""
    rng = np.random.default_rng(seed)
    store = StudyStorage(storage_url(out))
    store.create([metric(o).objective() for o in config["objectives"]], config)
    chips = {r: imcnas.load_chip("neurosim-sram-22nm", [f"crossbar.rows={r}"]).model_dump(mode="json",
                                                                                          exclude_none=True)
             for r in (64, 128, 256)}
    trials = []
    for i in range(n):
        sample = SPACE.sample(rng)
        u = float(rng.random())
        energy = {c: float(rng.random() * 1e5 * (1 + 4 * u)) for c in ENERGY_COMPONENTS}
        area = {c: float(rng.random() * (1 + u)) for c in AREA_COMPONENTS}
        cost = {"energy_pj": sum(energy.values()), "area_mm2": sum(area.values()), "latency_ns": 1e3 * (1 + u),
                "tops_per_w": 10.0 / (1 + u)}
        info = {"chip": chips[sample["hw.crossbar.rows"]], "breakdown": {"energy_pj": energy, "area_mm2": area},
                "cost": cost, "fidelity": "full", "finished_at": 1.7e9 + 5.0 * i, "elapsed_s": 5.0,
                "input_shape": list(INPUT_SHAPE), "num_classes": CLASSES, "family": "tiny"}
        values = {"accuracy": 0.5 + 0.45 * u + 0.05 * float(rng.random()), **cost}
        if extras:
            acc = 100 * values["accuracy"]
            info["accuracy"] = {"ok": True, "reason": "", "digital": acc + 1, "ideal": acc + 0.5,
                                "times_s": DRIFT_TIMES, "mean": [acc - k * (1 - u) for k in range(4)],
                                "std": [0.1 * (k + 1) for k in range(4)], "info": {}}
        state = TrialState.COMPLETE
        if i % 7 == 3:
            state, values, info = TrialState.INFEASIBLE, {}, {"reason": "violates area_mm2 <= 1 (is 3.2)"}
        elif i % 11 == 5:
            state, values, info = TrialState.FAILED, {}, {"reason": "training diverged"}
        t = Trial(i, sample, values, state, info)
        store.save(t, SPACE)
        trials.append(t)
        if weights and state is TrialState.COMPLETE:
            torch.manual_seed(i)
            net = tiny_model("tiny", sample, INPUT_SHAPE, CLASSES)
            if i % 2:
                torch_prune.l1_unstructured(net[0], "weight", amount=0.5)
            (out / "weights").mkdir(exist_ok=True)
            torch.save(net.state_dict(), out / "weights" / f"trial_{i}.pt")
    if extras:
        best = max((t for t in trials if t.state is TrialState.COMPLETE), key=lambda t: t.values["accuracy"])
        more = [Trial(n, dict(best.sample), dict(best.values), TrialState.COMPLETE,
                      {**dict(best.info), "duplicate_of": best.number}),
                Trial(n + 1, SPACE.sample(rng), {}, TrialState.PRUNED, {"reason": "stopped at epoch 1 of 4"}),
                Trial(n + 2, SPACE.sample(rng), {}, TrialState.FAILED,
                      {"reason": "layer 3: crossbar too small for 9x9 kernels", "stage": "build"})]
        for t in more:
            store.save(t, SPACE)
        trials += more
    return trials


@pytest.fixture()
def study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[Trial]]:
    monkeypatch.setattr(families, "build_model", tiny_model, raising=False)
    return tmp_path, make_study(tmp_path)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_write_report_creates_files(study: tuple[Path, list[Trial]]) -> None:
    out, trials = study
    front = front_trials(trials, [metric("accuracy"), metric("energy")])
    assert 2 <= len(front) < len([t for t in trials if t.state is TrialState.COMPLETE])
    paths = write_report(out)
    assert set(paths) == {"front.csv", "trials.csv", "report.html", "designs"}
    rows = read_csv(paths["front.csv"])
    assert len(rows) == len(front)
    assert sorted(int(r["number"]) for r in rows) == sorted(t.number for t in front)
    assert {"accuracy", "energy_pj", "area_mm2", "latency_ns", "tops_per_w", "fidelity", "arch.width",
            "hw.crossbar.rows", "bits.weights", "train.lr"} <= set(rows[0])
    accs = [float(r["accuracy"]) for r in rows]
    assert accs == sorted(accs, reverse=True)  # best first in the first objective
    all_rows = read_csv(paths["trials.csv"])
    assert [int(r["number"]) for r in all_rows] == list(range(len(trials)))
    states = {r["state"] for r in all_rows}
    assert states == {"complete", "failed", "infeasible"}
    assert all(r["reason"] for r in all_rows if r["state"] != "complete")
    assert sum(r["on_front"] == "True" for r in all_rows) == len(front)
    page = paths["report.html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in page and "plotly.js" in page.lower()
    assert "cdn.plot.ly" not in page.split("</head>")[1]  # works offline: the library is inlined
    n_inf = sum(t.state is TrialState.INFEASIBLE for t in trials)
    n_fail = sum(t.state is TrialState.FAILED for t in trials)
    assert f"{n_inf} infeasible, {n_fail} failed" in page
    for t in front:
        assert f"trial {t.number}" in page and f'href="designs/trial_{t.number}/design.json"' in page
    assert "Hypervolume" in page and "adc" in page
    assert sorted(p.name for p in paths["designs"].iterdir()) == sorted(f"trial_{t.number}" for t in front)


def test_exported_design_loads_back_and_estimates(study: tuple[Path, list[Trial]]) -> None:
    out, trials = study
    folders = export_designs(out)
    res = load_results(out)
    assert [int(p.name[6:]) for p in folders] == sorted(t.number for t in res.front)
    for folder in folders:
        t = res.trial(int(folder.name[6:]))
        chip = imcnas.load_chip(folder / "hardware.yaml")
        assert chip.crossbar.rows == t.sample["hw.crossbar.rows"]
        assert chip.model_dump(mode="json", exclude_none=True) == t.info["chip"]
        design = json.loads((folder / "design.json").read_text())
        assert design["sample"] == dict(t.sample) and design["values"]["accuracy"] == t.values["accuracy"]
        assert design["files"] == {"hardware": "hardware.yaml", "weights": "weights.pt", "model": "model.py"}
        assert design["chip"] == chip.display_name and design["chip"].startswith(chip.name)  # preset + changes
        assert f"chip {chip.display_name}" in (folder / "hardware.yaml").read_text().splitlines()[0]
        # model.py follows load_model's contract and carries the trained (pruning-folded) weights
        spec = f"{folder / 'model.py'}:model"
        model, x, _ = load_model(spec)
        assert tuple(x.shape) == (1, *INPUT_SHAPE)
        saved = torch.load(out / "weights" / f"trial_{t.number}.pt", weights_only=True)
        w = saved["0.weight_orig"] * saved["0.weight_mask"] if "0.weight_orig" in saved else saved["0.weight"]
        assert torch.equal(model[0].weight, w)
        assert torch.equal(model[3].weight, saved["3.weight"])
        rep = imcnas.estimate(spec, chip)
        assert rep.energy_pj > 0
    # ... and the command line accepts the pair
    folder = folders[0]
    result = CliRunner().invoke(app, ["estimate", f"{folder / 'model.py'}:model", "--hardware",
                                      str(folder / "hardware.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["energy_pj"] > 0


def test_export_chosen_numbers_without_weights_or_chip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(families, "build_model", tiny_model, raising=False)
    trials = make_study(tmp_path, n=12, weights=False)
    failed = next(t for t in trials if t.state is TrialState.FAILED)  # no chip in info: config + hw.* overrides
    [folder] = export_designs(tmp_path, [failed.number], dest=tmp_path / "picked")
    assert folder == tmp_path / "picked" / f"trial_{failed.number}"
    chip = imcnas.load_chip(folder / "hardware.yaml")
    assert chip.crossbar.rows == failed.sample["hw.crossbar.rows"]
    design = json.loads((folder / "design.json").read_text())
    assert "model" not in design["files"] and any("input_shape" in n for n in design["notes"])
    [folder] = export_designs(tmp_path, [0])
    assert not (folder / "weights.pt").exists()
    model, _, _ = load_model(f"{folder / 'model.py'}:model")  # fresh weights
    assert isinstance(model, nn.Module)
    with pytest.raises(ConfigError, match="no trial 999"):
        export_designs(tmp_path, [999])


def test_real_family_build_model(tmp_path: Path) -> None:
    """The generated model.py against the real families registry (skipped while no 'cnn' family exists)."""
    try:
        fam = families.get_family("cnn")
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"no 'cnn' architecture family registered yet: {err}")
    space = SearchSpace(fam.default_space(INPUT_SHAPE, CLASSES))
    store = StudyStorage(storage_url(tmp_path))
    store.create([metric("accuracy").objective(), metric("energy").objective()], {**CONFIG, "model": {"family": "cnn"}})
    sample = space.sample(np.random.default_rng(0))
    info = {"input_shape": list(INPUT_SHAPE), "num_classes": CLASSES, "family": "cnn"}
    store.save(Trial(0, sample, {"accuracy": 0.9, "energy_pj": 1e6}, TrialState.COMPLETE, info), space)
    [folder] = export_designs(tmp_path)
    rep = imcnas.estimate(f"{folder / 'model.py'}:model", imcnas.load_chip(folder / "hardware.yaml"))
    assert rep.energy_pj > 0


@pytest.mark.parametrize("make", ["missing", "empty-dir", "no-trials"])
def test_missing_or_empty_study_is_a_one_line_error(tmp_path: Path, make: str) -> None:
    target = tmp_path / "out"
    if make != "missing":
        target.mkdir()
    if make == "no-trials":
        StudyStorage(storage_url(target)).create([metric("accuracy").objective()], CONFIG)
    with pytest.raises(ConfigError) as err:
        write_report(target)
    msg = str(err.value)
    assert "\n" not in msg and str(target) in msg
    if make != "no-trials":
        assert msg == f"{target}: no study found (expected {target / 'study.db'})"
        assert not (target / "study.db").exists()  # reading does not create a database


def test_three_objectives_and_all_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(families, "build_model", tiny_model, raising=False)
    cfg = {**CONFIG, "objectives": ["accuracy", "energy", {"name": "area_mm2"}]}
    a = tmp_path / "three"
    a.mkdir()
    make_study(a, n=20, weights=False, config=cfg)
    paths = write_report(a)
    page = paths["report.html"].read_text()
    assert "scatter3d" in page
    assert len(read_csv(paths["front.csv"])) == len(load_results(a).front)
    b = tmp_path / "failed"
    b.mkdir()
    store = StudyStorage(storage_url(b))
    store.create([metric("accuracy").objective()], CONFIG)
    store.save(Trial(0, {"arch.width": 2}, {}, TrialState.FAILED, {"reason": "boom"}), SPACE)
    paths = write_report(b)
    assert "no complete trials yet" in paths["report.html"].read_text()
    assert read_csv(paths["front.csv"]) == [] and read_csv(paths["trials.csv"])[0]["reason"] == "boom"


# ------------------------------------------------------------------------------------------ the page
THREE = {**CONFIG, "objectives": ["accuracy", "energy", {"name": "area_mm2"}]}


@pytest.fixture()
def rich_study(tmp_path: Path) -> tuple[Path, list[Trial]]:
    """Three objectives, drift-time accuracy records, a duplicate, a pruned trial and a build failure."""
    return tmp_path, make_study(tmp_path, n=30, weights=False, config=THREE, extras=True)


def test_page_has_every_view(rich_study: tuple[Path, list[Trial]]) -> None:
    out, trials = rich_study
    res = load_results(out)
    paths = write_report(out, export=False)
    page = paths["report.html"].read_text()
    body = page.split("</head>")[1]
    # self-contained: no external script, style sheet or CDN
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page) and "cdn.plot.ly" not in body
    # the front leaves out the duplicate record
    dup = trials[-3]
    assert dup.info["duplicate_of"] is not None
    front_numbers = {int(r["number"]) for r in read_csv(paths["front.csv"])}
    assert dup.info["duplicate_of"] in front_numbers and dup.number not in front_numbers
    rows = {int(r["number"]): r for r in read_csv(paths["trials.csv"])}
    assert rows[dup.number]["duplicate_of"] == str(dup.info["duplicate_of"]) and rows[dup.number]["on_front"] == "False"
    assert rows[trials[-1].number]["stage"] == "build"
    # 3-D view and its pairwise projections, HV, drift, parallel coordinates
    for needle in ("scatter3d", "Pairwise 2-D projections", "Hypervolume over trials", "Accuracy over drift time",
                   "parcoords", "Design parameters", "Energy and area by component"):
        assert needle in page, needle
    # one hypervolume, stated with its definition
    hv = study_hypervolume(res.trials, res.metrics)
    assert f"<dd>{hv:.4g} (of at most 1.1^3 = 1.331" in page
    assert "min-max normalised over all complete trials of the study" in page
    # the filterable table of every trial and the failure summary
    assert 'id="trials-table"' in page
    for state in ("complete", "failed", "infeasible", "pruned"):
        assert f'class="state-filter" value="{state}" checked' in page
    assert page.count('<tr id="trial-') == len(trials)
    assert f"duplicate of trial {dup.info['duplicate_of']}" in page
    n_fail = sum(t.info.get("reason") == "training diverged" for t in trials)
    assert re.search(rf'<td class="state failed">failed</td><td>–</td><td>{n_fail}</td>', page)
    assert "<td>build</td><td>1</td>" in page and "layer #: crossbar too small for 9x9 kernels" in page
    assert "violates area_mm2 &lt;= # (is #)" in page  # infeasible reasons grouped over their numbers


def test_figures_one_legend_each_and_titled_axes(rich_study: tuple[Path, list[Trial]]) -> None:
    out, _ = rich_study
    res = load_results(out)
    front = report_front(res)
    assert all(t.info.get("duplicate_of") is None for t in front)
    pair = rf.pairwise_figure(res, front)
    assert len(pair.data) == 2 * 3  # two groups x three pairs
    assert sorted(t.name for t in pair.data if t.showlegend) == sorted([rf.DOMINATED, rf.ON_FRONT])
    titles = [pair.layout[a].title.text for a in pair.layout if a.startswith(("xaxis", "yaxis"))]
    assert len(titles) == 6 and all(titles)
    assert {"accuracy at 1 d [%] (max)", "energy_pj [pJ] (min)", "area_mm2 [mm²] (min)"} <= set(titles)
    bars = rf.bars_figure(front)
    shown = [t.name for t in bars.data if t.showlegend is not False]
    assert len(shown) == len(set(shown)) == len({t.name for t in bars.data})
    assert bars.layout.yaxis.title.text == "energy [pJ]" and bars.layout.yaxis2.title.text == "area [mm²]"
    acc = rf.accuracy_figure(front)
    assert acc.layout.xaxis.type == "log" and list(acc.layout.xaxis.ticktext) == ["1 s", "1 h", "1 d", "1 y"]
    lines = [t for t in acc.data if t.showlegend is not False]
    assert sorted(t.name for t in lines) == sorted(f"trial {t.number}" for t in front)
    assert acc.layout.yaxis.title.text == "accuracy [%]"
    hv_fig, hv = rf.hv_figure(res)
    assert hv == pytest.approx(study_hypervolume(res.trials, res.metrics))
    assert list(hv_fig.data[0].y) == [h for _, h in study_hv_history(res.trials, res.metrics)]


def test_parallel_coordinates_map_categories(tmp_path: Path) -> None:
    ms = [metric("accuracy"), metric("energy")]
    acts = ["relu", "gelu", "relu", "silu", "gelu"]
    trials = [Trial(i, {"arch.act": acts[i], "arch.width": 4 * (i + 1), "hw.crossbar.rows": 128, "train.lr": 10.0 ** -i,
                        "arch.skip": i % 2 == 0},
                    {"accuracy": 90.0 + i, "energy_pj": 1e4 * (5 - i) ** 2}, TrialState.COMPLETE, {}) for i in range(5)]
    fcs = (128, 64, 256)  # a conditional key: absent in the last two trials
    trials = [Trial(t.number, {**t.sample, **({"arch.fc": fcs[t.number]} if t.number < 3 else {})}, t.values,
                    t.state, t.info) for t in trials]
    trials.append(Trial(5, dict(trials[0].sample), dict(trials[0].values), TrialState.COMPLETE, {"duplicate_of": 0}))
    res = StudyResults(tmp_path, {}, ms, trials)
    fig, skipped = rf.parallel_figure(res, report_front(res))
    [par] = fig.data
    dims = {d.label: d for d in par.dimensions}
    assert skipped == ["hw.crossbar.rows"]  # the same in every trial
    assert list(dims["arch.act"].ticktext) == ["gelu", "relu", "silu"]
    assert list(dims["arch.act"].values) == [1, 0, 1, 2, 0]  # five trials: the duplicate is left out
    assert list(dims["arch.skip"].ticktext) == ["False", "True"]
    assert list(dims["arch.fc"].ticktext) == ["64", "128", "256", "n/a"]  # numbers in order, then the missing
    assert list(dims["arch.fc"].values) == [1, 0, 2, 3, 3]
    assert "log10(train.lr)" in dims and list(dims["log10(train.lr)"].values) == [0, -1, -2, -3, -4]
    assert list(dims["arch.width"].tickvals) == [4, 8, 12, 16, 20]
    assert "accuracy at 1 d [%]" in dims and "energy_pj [pJ]" in dims
    assert list(par.line.color) == [90.0 + i for i in range(5)]
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["colour: accuracy", "colour: energy_pj"]


def test_formatting_helpers() -> None:
    assert [fmt_time(x) for x in (0, 1, 90, 3600, 5400, 86400, 30 * 86400, 365 * 86400)] == \
        ["0 s", "1 s", "1.5 min", "1 h", "1.5 h", "1 d", "30 d", "1 y"]
    assert reason_pattern("violates area_mm2 <= 1 (is 3.2)") == "violates area_mm2 <= # (is #)"
    assert reason_pattern("ValueError: got -1e-3 for x2") == "ValueError: got # for x2"
    rejected = {"stage": "constraints"}
    trials = [Trial(0, {}, {}, TrialState.INFEASIBLE, {"reason": "violates area_mm2 <= 1 (is 3.2)", **rejected}),
              Trial(1, {}, {}, TrialState.INFEASIBLE, {"reason": "violates area_mm2 <= 1 (is 1.5)", **rejected}),
              Trial(2, {}, {}, TrialState.FAILED, {"reason": "boom"}),
              Trial(3, {}, {}, TrialState.FAILED, {"interrupted": True}),
              Trial(4, {}, {"accuracy": 1.0}, TrialState.COMPLETE, {})]
    top = failure_summary(trials)
    assert [(g["state"], g["stage"], g["count"], g["trials"]) for g in top] == \
        [("infeasible", "constraints", 2, [0, 1]), ("failed", "", 1, [2]), ("failed", "", 1, [3])]
    assert top[0]["example"] == "violates area_mm2 <= 1 (is 3.2)" and top[2]["pattern"] == "interrupted"
    assert "4 of 5 trials did not complete" in failures_html(trials)
    assert "every trial completed" in failures_html(trials[4:])
