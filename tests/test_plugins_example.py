"""The example plug-in package (examples/plugins/imcnas_tdc) installed like a user would, then a real search on a
chip whose column readout is its ``tdc`` converter, with a pool of worker processes.

The package is pip-installed (offline, no build isolation) into a temporary folder put on PYTHONPATH of a
subprocess, so this test process's registry never sees the plug-in and the venv is left as it was.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from imcnas.config import config_from_dict
from imcnas.search.evaluate import cheap_metrics, dataset_for
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.trial import TrialState
from imcnas.space.build import build

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "examples" / "plugins" / "imcnas_tdc"

EXPERIMENT = {
    "plugins": ["imcnas_tdc"],  # imported before validation and in every worker (the entry point would do too)
    "name": "tdc-search",
    "seed": 3,
    "data": {"dataset": "digits"},
    "model": {"family": "cnn"},
    "hardware": "pcm-14nm",
    "hardware_set": ["adc.law=tdc", "adc.params.ns_4b=1.5"],
    "space": {"family_defaults": False, "params": {
        "arch.convs": {"choice": [1]}, "arch.width": {"choice": [4, 8]}, "arch.fc": {"choice": [0, 16]},
        "hw.adc.bits": {"choice": [3, 4, 6, 8]}, "hw.crossbar.rows": {"choice": [64, 128]}}},
    "objectives": [{"name": "accuracy", "time": "1d"}, "energy_pj"],
    "strategy": {"name": "random"},
    "budget": {"trials": 4, "batch": 4},
    "training": {"epochs": 1, "hwa": False, "lr": 0.01, "device": "cpu"},
    "evaluation": {"times": ["1d"], "repeats": 1},
    "executor": {"kind": "process", "workers": 2},
    "save_weights": False,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package installed (non-editable) into a fresh folder; the source is copied first so the
    build leaves nothing in the repository."""
    pytest.importorskip("setuptools", reason="building the example package needs setuptools")
    base = tmp_path_factory.mktemp("tdc")
    src = base / "src"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = base / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--target", str(target), str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "imcnas_tdc" / "__init__.py").is_file()
    return target


def _python(site: Path | None, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python *args`` in a subprocess with ``site`` (the installed plug-in) on its PYTHONPATH."""
    path = [str(site)] if site is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, *filter(None, [os.environ.get("PYTHONPATH")])]),
           "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def test_the_example_plugin_is_small_and_sourced() -> None:
    code = [ln for ln in (PACKAGE / "imcnas_tdc" / "__init__.py").read_text().splitlines() if ln.strip()]
    assert len(code) < 50
    toml = (PACKAGE / "pyproject.toml").read_text()
    assert '[project.entry-points."imcnas.plugins"]' in toml and 'tdc = "imcnas_tdc"' in toml


def test_installed_package_is_found_by_its_entry_point(site: Path, tmp_path: Path) -> None:
    probe = ("import json; from imcnas import plugins; e = plugins.entry('converter', 'tdc'); "
             "print(json.dumps({'names': plugins.names('converter'), 'params': sorted(e.params), "
             "'sources': list(e.sources), 'module': e.module}))")
    done = _python(site, "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert "tdc" in found["names"] and found["module"] == "imcnas_tdc"
    assert {"adc.params.energy_pj_4b", "adc.params.ns_4b", "adc.params.area_um2_4b"} <= set(found["params"])
    assert "JETCAS" in found["sources"][0]


def test_search_prices_the_tdc_in_worker_processes(site: Path, tmp_path: Path) -> None:
    cfg_file, out = tmp_path / "tdc.yaml", tmp_path / "run"
    cfg_file.write_text(yaml.safe_dump(EXPERIMENT, sort_keys=False))
    done = _python(site, "-c", "from imcnas.cli import app; app()", "search", str(cfg_file), "--out", str(out),
                   "-q", cwd=tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    trials = [t for t in StudyStorage(storage_url(out)).trials() if t.info.get("duplicate_of") is None]
    assert len(trials) == 4
    for t in trials:  # built, trained and evaluated in the workers: each had to know adc.law 'tdc'
        assert t.state is TrialState.COMPLETE, t.info.get("reason")
        assert 0 <= t.values["accuracy"] <= 100 and t.values["energy_pj"] > 0
    # the same designs on the survey ADC law (no plug-in in this process): the tdc priced them differently
    survey = {k: v for k, v in EXPERIMENT.items() if k != "plugins"}
    survey["hardware_set"] = ["adc.law=survey"]
    cfg = config_from_dict(survey)
    data = dataset_for(cfg)
    shape, example = tuple(data.input_shape), data.train[:1][0]
    for t in trials:
        cand = build(t.sample, cfg, shape, data.num_classes, seed=cfg.seed)
        values, _ = cheap_metrics(cand, shape, example)
        assert values["energy_pj"] != pytest.approx(t.values["energy_pj"], rel=1e-6), t.sample


def test_a_missing_plugin_module_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    cfg_file = tmp_path / "bad.yaml"
    cfg_file.write_text(yaml.safe_dump({**EXPERIMENT, "plugins": ["imcnas_no_such_plugin"]}, sort_keys=False))
    done = _python(None, "-c", "from imcnas.cli import app; app()", "search", str(cfg_file), "--out",
                   str(tmp_path / "run"), "-q", cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    msg = done.stderr.strip()
    assert "Traceback" not in msg and "\n" not in msg, msg
    assert "imcnas_no_such_plugin" in msg and msg.startswith("error:"), msg
