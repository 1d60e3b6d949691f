"""Hybrid chips (hardware/hybrid.py): layers on several macro types, priced and simulated alike, searchable."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import imcnas
from imcnas.accuracy import layers as L
from imcnas.errors import ConfigError, MappingError
from imcnas.hardware import estimate, estimate_batch, load_chip
from imcnas.hardware.hybrid import _part, assignment, layer_macros
from imcnas.workload import trace

MACROS = ["hybrid.macros.digital=digital-sram-22nm"]
EDGES = MACROS + ["hybrid.first=digital", "hybrid.last=digital"]


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3),
                         nn.ReLU(), nn.Flatten(), nn.Linear(16 * 10 * 10, 10))


def test_layers_go_to_the_macro_the_chip_names() -> None:
    chip = load_chip("neurosim-rram-22nm", EDGES + ["hybrid.layers.conv*=self"])
    assert layer_macros(["a", "b", "c"], chip) == ["digital", "self", "digital"]
    assert layer_macros(["conv1", "b", "conv9"], chip) == ["self", "self", "self"]  # globs come first
    with pytest.raises(ConfigError, match="unknown macro 'analog'; known: self, digital"):
        load_chip("neurosim-rram-22nm", MACROS + ["hybrid.first=analog"])


def test_a_hybrid_chip_costs_its_macros_parts() -> None:
    work = trace(_net(), torch.zeros(1, 3, 16, 16))
    chip = load_chip("neurosim-rram-22nm", EDGES)
    where = assignment(work, chip)
    assert where == ["digital", "self", "self", "digital"]
    hybrid = estimate(work, chip)
    main = estimate(_part(work, {1, 2}, True), load_chip("neurosim-rram-22nm"))
    dig = estimate(_part(work, {0, 3}, False), load_chip("digital-sram-22nm"))
    for key in ("energy_pj", "latency_ns", "area_mm2"):
        assert hybrid.totals[key] == pytest.approx(main.totals[key] + dig.totals[key], rel=1e-12)
    assert hybrid.totals["period_ns"] == pytest.approx(max(main.totals["period_ns"], dig.totals["period_ns"]))
    assert hybrid.totals["tops_per_w"] == pytest.approx(2 * work.macs / hybrid.totals["energy_pj"])
    assert [row["macro"] for row in hybrid.layers] == ["digital", "neurosim-rram-22nm", "neurosim-rram-22nm", "digital"]
    # the edge layers cost what the digital macro charges for them, not what the RRAM chip would
    plain = estimate(work, load_chip("neurosim-rram-22nm"))
    assert hybrid.layers[0]["energy_pj"] != pytest.approx(plain.layers[0]["energy_pj"], rel=1e-3)
    assert hybrid.layers[1]["energy_pj"] == pytest.approx(main.layers[0]["energy_pj"], rel=1e-12)
    # macros named but not used: the plain chip's prices
    idle = estimate(work, load_chip("neurosim-rram-22nm", MACROS))
    assert idle.totals["energy_pj"] == pytest.approx(plain.totals["energy_pj"], rel=1e-12)
    with pytest.raises(MappingError, match="hybrid"):
        estimate_batch(work, [chip])


def test_the_accuracy_simulation_reads_each_layer_on_its_macro() -> None:
    net, _ = L.convert(_net(), load_chip("neurosim-rram-22nm", EDGES))
    cfgs = [layer.cfg for _, layer in L.imc_layers(net)]
    assert [c.adc_bits >= L.FULL_PRECISION_BITS for c in cfgs] == [True, False, False, True]  # adder tree: exact
    assert [c.noise.model for c in cfgs] == ["none", "gaussian", "gaussian", "none"]


def test_the_mapping_is_searchable() -> None:
    from imcnas.space.build import build_chip

    cfg = imcnas.config.ExperimentConfig.model_validate({
        "hardware": "neurosim-rram-22nm", "hardware_set": MACROS,
        "space": {"params": {"hw.hybrid.first": {"choice": ["self", "digital"]},
                             "hw.hybrid.last": {"choice": ["self", "digital"]}}}})
    chip = build_chip({"hw.hybrid.first": "digital", "hw.hybrid.last": "self"}, cfg)
    assert chip.hybrid.first == "digital" and chip.hybrid.last == "self"
    work = trace(_net(), torch.zeros(1, 3, 16, 16))
    assert assignment(work, chip) == ["digital", "self", "self", "self"]
