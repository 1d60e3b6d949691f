"""The command line: help, hardware list/show, estimate --json, and one-line errors with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLI_ENV, assert_user_error as _assert_user_error, run_cli
from imcnas.hardware import list_presets, load_chip
from imcnas.workload.zoo import list_models

REPORT_KEYS = ("energy_pj", "latency_ns", "area_mm2", "tops", "tops_per_w", "tops_per_mm2")



def run(*args: str):
    return run_cli(*args)


def assert_user_error(result, *needles: str) -> str:
    return _assert_user_error(result, *needles, quiet_stdout=True)


@pytest.fixture(scope="module")
def vgg8_report() -> dict:
    result = run("estimate", "vgg8-cifar", "--hardware", "neurosim-sram-22nm", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ------------------------------------------------------------------------------------------------ help, hardware
def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "estimate" in result.stdout and "hardware" in result.stdout


def test_no_args_shows_help() -> None:
    result = run()
    assert "estimate" in result.output and "hardware" in result.output


def test_hardware_list_shows_every_preset() -> None:
    result = run("hardware", "list")
    assert result.exit_code == 0, result.output
    for name in list_presets():
        assert name in result.stdout


def test_hardware_list_at_80_columns() -> None:
    from typer.testing import CliRunner

    from imcnas.cli import app

    result = CliRunner().invoke(app, ["hardware", "list"], env={**CLI_ENV, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    for name in list_presets():
        assert any(name in line for line in lines), name  # whole, on one line
    assert "Jia et al., JSSC 2020" in result.stdout  # sources kept, below the table


def test_models_lists_the_zoo() -> None:
    result = run("models")
    assert result.exit_code == 0
    assert result.stdout.split() == list_models()


@pytest.mark.parametrize("name", list_presets())
def test_hardware_show_round_trips(tmp_path: Path, name: str) -> None:
    result = run("hardware", "show", name)
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{name}.yaml"
    path.write_text(result.stdout)
    assert load_chip(path) == load_chip(name)


def test_hardware_show_with_override(tmp_path: Path) -> None:
    result = run("hardware", "show", "neurosim-sram-22nm", "--set", "adc.bits=6")
    assert result.exit_code == 0, result.output
    path = tmp_path / "shown.yaml"
    path.write_text(result.stdout)
    assert load_chip(path).adc.bits == 6


# ------------------------------------------------------------------------------------------------ estimate
def test_estimate_json(vgg8_report: dict) -> None:
    d = vgg8_report
    for key in REPORT_KEYS:
        assert isinstance(d[key], (int, float)) and d[key] > 0, key
    assert d["chip"] == "neurosim-sram-22nm" and d["workload"] == "vgg8-cifar"
    assert d["macs"] == 615_917_568  # NeuroSim's VGG-8
    assert d["tops"] == pytest.approx(2 * d["macs"] / d["period_ns"] * 1e-3, rel=1e-9)
    energy, area = d["breakdown"]["energy_pj"], d["breakdown"]["area_mm2"]
    assert sum(energy.values()) == pytest.approx(d["energy_pj"], rel=1e-9)
    assert sum(area.values()) == pytest.approx(d["area_mm2"], rel=1e-9)
    assert len(d["layers"]) == 8  # 6 conv + 2 fc on crossbars
    assert all(L["energy_pj"] > 0 and L["crossbars"] >= 1 for L in d["layers"])


def test_estimate_table(vgg8_report: dict) -> None:
    result = run("estimate", "vgg8-cifar")
    assert result.exit_code == 0, result.output
    assert "breakdown" in result.stdout and "TOPS/W" in result.stdout


def test_estimate_set_changes_the_report(vgg8_report: dict) -> None:
    result = run("estimate", "vgg8-cifar", "-H", "neurosim-sram-22nm", "--set", "adc.bits=7", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["breakdown"]["energy_pj"]["adc"] > vgg8_report["breakdown"]["energy_pj"]["adc"]


def test_estimate_json_names_the_variant() -> None:
    result = run("estimate", "vgg8-cifar", "-H", "pcm-14nm", "--set", "adc.bits=6", "--set", "crossbar.rows=128",
                 "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chip"] == "pcm-14nm[adc.bits=6,crossbar.rows=128]"


@pytest.mark.parametrize("columns", ["80", "200"])
def test_estimate_tables_cut_no_layer_or_chip_name(columns: str) -> None:
    from typer.testing import CliRunner

    from imcnas.cli import app

    result = CliRunner().invoke(app, ["estimate", "resnet18", "-H", "pcm-14nm", "--set", "adc.bits=6"],
                                env={**CLI_ENV, "COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert "resnet18 on pcm-14nm[adc.bits=6]" in result.stdout  # not eaten as rich markup
    assert "…" not in result.stdout
    for name in ("layer2.0.downsample.0", "layer4.1.conv2", "fc"):
        assert any(line.strip().startswith((name + ":", "│ " + name + " ")) for line in result.stdout.splitlines()), name
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= int(columns)


def test_estimate_ops_lists_every_operation_with_its_unit() -> None:
    from typer.testing import CliRunner

    from imcnas.cli import app

    result = CliRunner().invoke(app, ["estimate", "resnet18", "-H", "pcm-14nm", "--ops"],
                                env={**CLI_ENV, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "conv1: crossbar  Conv2d  118,013,952  802,816" in lines
    assert any(line.startswith("bn1: digital  BatchNorm2d") for line in lines)
    as_json = json.loads(run_cli("estimate", "resnet18", "-H", "pcm-14nm", "--json").stdout)
    shown = [line.split(":")[0] for line in lines if ": " in line and line.split(":")[0] in
             {o["name"] for o in as_json["ops"]}]
    assert set(shown) == {o["name"] for o in as_json["ops"]}  # every op of the JSON is listed


def test_estimate_yaml_hardware(tmp_path: Path, vgg8_report: dict) -> None:
    path = tmp_path / "chip.yaml"
    path.write_text(run("hardware", "show", "neurosim-sram-22nm").stdout)
    result = run("estimate", "vgg8-cifar", "--hardware", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["energy_pj"] == pytest.approx(vgg8_report["energy_pj"], rel=1e-12)


# ------------------------------------------------------------------------------------------------ sweep
def test_sweep_writes_csv_and_html(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from imcnas.cli import app

    out = tmp_path / "sw"
    result = CliRunner().invoke(app, ["sweep", "vgg8-cifar", "-H", "pcm-14nm", "--grid", "adc.bits=3:5",
                                      "--grid", "device.type=pcm,rram", "--set", "inputs.bits=4", "--out", str(out)],
                                env={**CLI_ENV, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines if not line.startswith("sweep.")) <= 80  # paths never cut
    assert "6 chips" in result.stdout and "3 skipped" in result.stdout and "Pareto-optimal" in result.stdout
    assert f"sweep.csv: {out / 'sweep.csv'}" in lines and f"sweep.html: {out / 'sweep.html'}" in lines
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("adc.bits,device.type,energy_pj,latency_ns,area_mm2,tops,tops_per_w,tops_per_mm2")
    assert len(lines) == 7 and "pcm-14nm[adc.bits=3,inputs.bits=4]" in lines[1]
    assert (out / "sweep.html").stat().st_size > 100_000  # plotly inlined


@pytest.mark.parametrize("args, needle", [
    (["--grid", "adc.bits=8:3"], "adc.bits"),
    (["--grid", "adc.bits"], "FIELD=VALUES"),
    (["--grid", "adc.bitz=3:4"], "adc.bitz"),
    ([], "--grid"),
    (["--grid", "adc.bits=3:4", "--set", "adc.law=nope"], "adc.law"),
])
def test_sweep_bad_grid_is_one_line(tmp_path: Path, args: list, needle: str) -> None:
    assert_user_error(run("sweep", "vgg8-cifar", "--out", str(tmp_path), *args), needle)


# ------------------------------------------------------------------------------------------------ user errors
def test_unknown_model_lists_known() -> None:
    assert_user_error(run("estimate", "vgg9-cifar"), "vgg9-cifar", *list_models())


def test_unknown_preset_lists_known() -> None:
    assert_user_error(run("estimate", "vgg8-cifar", "--hardware", "sram-99nm"), "sram-99nm", *list_presets())
    assert_user_error(run("hardware", "show", "sram-99nm"), "sram-99nm", *list_presets())


@pytest.mark.parametrize("override, field", [
    ("adc.bits=40", "adc.bits"),
    ("crossbar.rows=0", "crossbar.rows"),
    ("adc.bitz=4", "adc.bitz"),
    ("technology.node_nm=0.5", "technology.node_nm"),
    ("adc.bits=[8", "adc.bits"),
    ("hierarchy.tiles=0", "hierarchy.tiles"),
])
def test_bad_override(override: str, field: str) -> None:
    assert_user_error(run("estimate", "vgg8-cifar", "--set", override), field)


def test_bad_override_in_hardware_show() -> None:
    assert_user_error(run("hardware", "show", "isaac-32nm", "--set", "crossbar.bogus=1"), "crossbar.bogus")


def test_yaml_with_typo_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("technology: {node_nm: 22}\nadc: {bits: 5, lw: sense_amp}\n")
    assert_user_error(run("estimate", "vgg8-cifar", "--hardware", str(path)), "adc.lw")
    assert_user_error(run("hardware", "show", str(path)), "adc.lw")


def test_yaml_without_device_or_node(tmp_path: Path) -> None:
    path = tmp_path / "thin.yaml"
    path.write_text("name: thin\ncrossbar: {rows: 64}\n")
    assert_user_error(run("estimate", "vgg8-cifar", "--hardware", str(path)), "thin.yaml", "device.type", "base:")
    path.write_text("base: pcm-14nm\ncrossbar: {rows: 64}\n")
    assert run("hardware", "show", str(path)).exit_code == 0


def test_missing_yaml_file(tmp_path: Path) -> None:
    assert_user_error(run("estimate", "vgg8-cifar", "--hardware", str(tmp_path / "nope.yaml")), "nope.yaml")


def test_too_few_tiles_names_a_layer() -> None:
    assert_user_error(run("estimate", "vgg8-cifar", "--set", "hierarchy.tiles=2"), "layer", "does not fit",
                      "--set hierarchy.tiles=auto")


MODEL_FILE = '''
import torch
from torch import nn

def good():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4)), torch.randn(1, 3, 8, 8)

def broken():
    raise RuntimeError("cannot build this net\\nsecond line")

def bracketed():
    raise ValueError("expected [/] or [red] in the config")
'''


@pytest.fixture()
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "nets.py"
    path.write_text(MODEL_FILE)
    return path


def test_model_file_factory(model_file: Path) -> None:
    result = run("estimate", f"{model_file}:good", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["macs"] == 6 * 6 * 27 * 8 + 288 * 4 and len(d["layers"]) == 2


def test_model_file_factory_raises(model_file: Path) -> None:
    msg = assert_user_error(run("estimate", f"{model_file}:broken"), "broken", "cannot build this net")
    assert "second line" not in msg


def test_model_file_missing_factory(model_file: Path) -> None:
    assert_user_error(run("estimate", f"{model_file}:nothing"), "nothing")


@pytest.mark.parametrize("spec, needle", [
    ("{file}:bracketed", "[/] or [red]"),  # a factory's own message
    ("vgg[/]8", "vgg[/]8"),  # MarkupError
    ("vgg[red]8", "vgg[red]8"),  # printed as 'vgg8'
])
def test_error_text_is_printed_verbatim(model_file: Path, spec: str, needle: str) -> None:
    assert_user_error(run("estimate", spec.format(file=model_file)), needle)


# ------------------------------------------------------------------------------------------------ real process
def test_real_process_exit_code_and_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "imcnas.cli", "estimate", "vgg8-cifar", "--set", "adc.bitz=4"],
                          capture_output=True, text=True, timeout=120, env={**_base_env(), **CLI_ENV})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    msg = proc.stderr.strip()
    assert "\n" not in msg and "adc.bitz" in msg


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)
