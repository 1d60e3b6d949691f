"""Simulated IMC layers over time: programming, drift and its compensation, device noise, stuck cells."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from imcnas.accuracy import layers as L
from imcnas.hardware import Chip

from tests.accuracy.test_layers import _batch, _chip, _converted, _mlp, _rel_err

def _programmed_outputs(net: nn.Module, x: torch.Tensor, t: float, seed: int) -> torch.Tensor:
    L.program(net, seed=seed)
    L.set_time(net, t, seed=seed)
    with torch.no_grad():
        return net(x)


def test_program_and_set_time_are_deterministic_given_a_seed() -> None:
    x = _batch()
    net = _converted(_mlp(), _chip(), x)
    a = _programmed_outputs(net, x, 3600.0, 5)
    b = _programmed_outputs(net, x, 3600.0, 5)
    c = _programmed_outputs(net, x, 3600.0, 6)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    # read noise is drawn from the set_time seed: same programming, different read seeds differ
    L.program(net, seed=5)
    reads = []
    for s in (1, 2, 1):
        L.set_time(net, 3600.0, seed=s)
        with torch.no_grad():
            reads.append(net(x))
    assert torch.equal(reads[0], reads[2]) and not torch.allclose(reads[0], reads[1])
    # a fresh conversion with the same seed gives the same chip
    net2 = _converted(_mlp(), _chip(), x)
    assert torch.equal(_programmed_outputs(net2, x, 3600.0, 5), a)
    # reset goes back to the ideal (quantised, noise-free) layer
    L.reset(net)
    with torch.no_grad():
        ideal = net(x)
    L.program(net, seed=5)
    with torch.no_grad():
        assert not torch.allclose(net(x), ideal)
    L.reset(net)
    with torch.no_grad():
        assert torch.equal(net(x), ideal)


def test_set_time_before_program_raises() -> None:
    net, _ = L.convert(nn.Sequential(nn.Linear(4, 2)), _chip())
    with pytest.raises(RuntimeError):
        net[0].set_time(1.0, torch.Generator())


def _drift_errors(chip: Chip, times: list[float], seeds: range) -> list[float]:
    x = _batch()
    net = _converted(_mlp(), chip, x)
    L.reset(net)
    with torch.no_grad():
        ideal = net(x)
    errs = [0.0] * len(times)
    for s in seeds:
        L.program(net, seed=s)
        for i, t in enumerate(times):
            L.set_time(net, t, seed=s)
            with torch.no_grad():
                errs[i] += _rel_err(net(x), ideal) / len(seeds)
    return errs


def test_pcm_drift_error_grows_with_time_and_compensation_reduces_it() -> None:
    times = [1.0, 3600.0, 86400.0, 30 * 86400.0]
    raw = _drift_errors(_chip("pcm-14nm", "device.noise.drift_compensation=false"), times, range(3))
    comp = _drift_errors(_chip("pcm-14nm"), times, range(3))
    assert all(a < b for a, b in zip(raw, raw[1:])), raw
    assert raw[-1] > 2 * raw[0]
    assert comp[-1] < 0.6 * raw[-1]
    assert comp[2] < raw[2]


def test_drift_compensation_factor_is_set_per_layer() -> None:
    x = _batch()
    net = _converted(_mlp(), _chip(), x)
    L.program(net, seed=0)
    L.set_time(net, 30 * 86400.0, seed=0)
    alphas = [float(m.alpha) for _, m in L.imc_layers(net)]
    assert all(a > 1.2 for a in alphas)  # a month of drift: outputs scaled back up
    net_off = _converted(_mlp(), _chip("pcm-14nm", "device.noise.drift_compensation=false"), x)
    L.program(net_off, seed=0)
    L.set_time(net_off, 30 * 86400.0, seed=0)
    assert all(float(m.alpha) == 1.0 for _, m in L.imc_layers(net_off))


def test_sram_has_no_time_dependence() -> None:
    x = _batch()
    chip = _chip("neurosim-sram-22nm")
    assert chip.device.noise.model == "none"
    net = _converted(_mlp(), chip, x)
    with torch.no_grad():
        ideal = net(x)
    outs = [_programmed_outputs(net, x, t, s) for t in (1.0, 86400.0, 1e8) for s in (0, 1)]
    assert all(torch.equal(o, ideal) for o in outs)


def test_gaussian_device_noise_changes_outputs_and_more_noise_more_error() -> None:
    errs = []
    for sigma in (0.01, 0.05):
        chip = _chip("neurosim-rram-22nm", f"device.noise.prog_sigma={sigma}", "device.noise.read_sigma=0")
        errs.append(_drift_errors(chip, [1.0], range(2))[0])
    assert 0 < errs[0] < errs[1]


def test_stuck_cells_increase_error() -> None:
    base = _drift_errors(_chip("pcm-14nm", "device.noise.model=none"), [1.0], range(1))[0]
    stuck = _drift_errors(_chip("pcm-14nm", "device.noise.model=none", "device.noise.stuck_off=0.05",
                                "device.noise.stuck_on=0.05"), [1.0], range(1))[0]
    assert base == 0.0 and stuck > 0.05
