"""CNN prices pinned before the per-element digital tables and rewritten crossbars existed (issue 11): ReLU,
batch norm, pooling and adds keep one adder op per flop, so every CNN costs exactly what it did.

``data/cnn_pins.json`` was written by the cost model of commit 1276d1d (estimate on each zoo CNN and each
preset with ``hierarchy.tiles=auto``); it must never be regenerated to make this test pass."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import imcnas
from imcnas.hardware import estimate, load_chip
from imcnas.workload.zoo import get_model

PINS = json.loads((Path(__file__).parent / "data" / "cnn_pins.json").read_text())
NETS = ("vgg8-cifar", "resnet20-cifar", "resnet18", "mobilenetv2")


@pytest.fixture(scope="module")
def traced() -> dict:
    out = {}
    for name in NETS:
        model, x = get_model(name)
        out[name] = imcnas.trace(model, x, name=name)
    return out


@pytest.mark.parametrize("net", NETS)
def test_cnn_prices_unchanged(traced, net) -> None:
    presets = [k.split("@")[1] for k in PINS if k.startswith(f"{net}@")]
    assert len(presets) >= 6
    for preset in presets:
        pin = PINS[f"{net}@{preset}"]
        rep = estimate(traced[net], load_chip(preset, ["hierarchy.tiles=auto"]))
        got = {**{k: rep.totals[k] for k in ("energy_pj", "latency_ns", "period_ns", "area_mm2")},
               **{f"energy_{k}": v for k, v in rep.energy_breakdown_pj.items()}}
        for key, want in pin.items():
            assert got[key] == pytest.approx(want, rel=1e-12, abs=0.0), f"{net} on {preset}: {key}"
        assert rep.energy_breakdown_pj["write"] == 0.0
        assert not rep.dynamic_ops
