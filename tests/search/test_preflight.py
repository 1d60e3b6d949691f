"""Pre-flight: config errors exit 2 with one line naming the YAML path before any trial runs (nothing is
written to the output folder); a run whose trials all fail exits non-zero with the common reasons."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from torch import nn
from typer.testing import CliRunner

from imcnas.cli import app
from imcnas.config import config_from_dict
from imcnas.errors import ConfigError
from imcnas.search.preflight import default_sample, preflight
from imcnas.space.build import search_space
from imcnas.space.params import Choice

from tests.conftest import CLI_ENV as ENV, assert_user_error
from tests.search.test_study import tiny


def _search(tmp_path: Path, d: dict[str, Any], *extra: str):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(d, sort_keys=False))
    return CliRunner().invoke(app, ["search", str(cfg), "--out", str(tmp_path / "run"), "-q", *extra], env=ENV)


def _with(**params: Any) -> dict[str, Any]:
    d = tiny()
    d["space"]["params"].update(params)
    return d


@pytest.mark.parametrize("d, needles", [
    ({**tiny(), "hardware": "pcm-14nmm"}, ["hardware:", "unknown hardware preset 'pcm-14nmm'", "pcm-14nm"]),
    (_with(**{"hw.adc.bitz": {"choice": [4, 6]}}), ["space.params.hw.adc.bitz", "unknown hardware field 'adc.bitz'",
                                                     "bits"]),
    (_with(**{"bits.weights": {"choice": [0, 64]}}), ["space.params.bits.weights: value 0", "weights.bits"]),
    (_with(**{"hw.crossbar.rows": {"choice": [0, -64]}}), ["space.params.hw.crossbar.rows: value 0",
                                                          "hardware field 'crossbar.rows'"]),
    (_with(**{"bits.weights.L99": {"choice": [4, 8]}}), ["space.params.bits.weights.L99", "no layer L99"]),
    (_with(**{"bits.inputs.X1": {"choice": [4, 8]}}), ["space.params.bits.inputs.X1", "bits.inputs[.L<i>]"]),
    (_with(**{"arch.kernel": {"choice": [3, 4]}}), ["space.params.arch.kernel: value 4", "not odd"]),
    (_with(**{"arch.kernal": {"choice": [3, 5]}}), ["space.params.arch.kernal", "no such key", "arch.kernel"]),
    (_with(**{"train.lrr": {"choice": [0.1]}}), ["space.params.train.lrr", "'lrr' is not a training field"]),
    (_with(**{"train.lr": {"choice": [-1.0, 0.1]}}), ["space.params.train.lr: value -1.0", "greater than 0"]),
    (_with(**{"hw.device.type": {"choice": ["pcm", "rram"]}}) | {"hardware_set": ["technology.node_nm=14"]},
     ["space.params.hw.device.type: value 'rram' gives no valid chip", "22 nm"]),
])
def test_config_errors_exit_2_before_the_first_trial(tmp_path: Path, d: dict[str, Any], needles: list[str]) -> None:
    res = _search(tmp_path, d)
    assert_user_error(res, *needles)
    assert not (tmp_path / "run" / "study.db").exists()


def test_values_valid_only_in_some_combinations_pass_preflight() -> None:
    # 8-bit weights in one binary SRAM cell cannot be built, but SRAM with 8 cells and PCM with 1 can: the
    # space is fine, the one bad combination fails as a trial
    d = _with(**{"hw.device.type": {"choice": ["pcm", "sram"]}, "hw.weights.cells_per_weight": {"choice": [1, 8]}})
    cfg = config_from_dict(d)
    space = search_space(cfg, (1, 8, 8), 10)
    found = preflight(cfg, space, (1, 8, 8), 10)
    assert found["values"]["energy_pj"] > 0 and found["sample"] == default_sample(space)


def test_narrowing_a_family_default_keeps_its_conditional_parameters_consistent() -> None:
    cfg = config_from_dict({"model": {"family": "resnet"}, "space": {"params": {"arch.stages": {"int": [1, 2]}}}})
    space = search_space(cfg, (1, 8, 8), 10)
    assert "arch.s2.blocks" not in space.params  # needs 3 stages: can never be active
    assert space.params["arch.s1.blocks"].condition == ("arch.stages", (2,))
    preflight(cfg, space, (1, 8, 8), 10)
    # a user parameter stays as written, so its own mistakes are still reported
    bad = config_from_dict({"model": {"family": "resnet"}, "space": {"params": {
        "arch.stages": {"int": [1, 2]}, "arch.s2.width": {"choice": [16], "condition": ["arch.stages", [3]]}}}})
    with pytest.raises(Exception, match="arch.s2.width"):
        search_space(bad, (1, 8, 8), 10)


def test_a_run_whose_trials_all_fail_exits_non_zero_with_the_reasons(tmp_path: Path) -> None:
    d = _with(**{"train.lr": {"choice": [1e9]}})
    d["budget"] = {"trials": 2, "batch": 2}
    res = _search(tmp_path, d)
    assert res.exit_code == 1, res.output
    assert "all 2 evaluated trials failed; most common reasons: 2x" in res.stderr
    assert "diverged" in res.stderr or "loss became" in res.stderr
    assert "Traceback" not in res.output


class _Pairwise(nn.Module):
    """A network with an nn.Bilinear layer, which the cost model cannot price."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.flat = nn.Flatten()
        self.pair = nn.Bilinear(64, 64, 16)
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        z = self.flat(x)
        return self.head(self.pair(z, z))


class _PairwiseFamily:
    name = "pairwise-test"

    def default_space(self, input_shape, num_classes):
        return {"arch.unused": Choice((1, 2))}

    def build(self, arch, input_shape, num_classes):
        return _Pairwise(num_classes)

    def max_layers(self, input_shape, num_classes):
        return 2


def test_a_network_the_cost_model_cannot_price_is_refused_unless_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    from imcnas import plugins

    plugins.names("family")  # built-ins registered first
    monkeypatch.setitem(plugins._REG["family"], "pairwise-test",  # removed again after the test
                        plugins.Plugin("family", "pairwise-test", _PairwiseFamily()))
    d = {"model": {"family": "pairwise-test"}, "space": {"params": {"bits.weights": {"choice": [4, 8]}}},
         "training": {"epochs": 1, "device": "cpu"}}
    cfg = config_from_dict(d)
    space = search_space(cfg, (1, 8, 8), 10)
    with pytest.raises(ConfigError, match=r"model: the cost model cannot price 1 operation.*pair.*"
                                          r"model.ignore_unsupported: true"):
        preflight(cfg, space, (1, 8, 8), 10)
    d["model"]["ignore_unsupported"] = True
    found = preflight(config_from_dict(d), space, (1, 8, 8), 10)
    assert found["values"]["energy_pj"] > 0
