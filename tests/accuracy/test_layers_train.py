"""Simulated IMC layers in training (straight-through gradients, training noise, range tracking) and on devices
(meta, CUDA, CPU dtype)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from imcnas.accuracy import layers as L

from tests.accuracy.test_layers import IDEAL, _CNN, _batch, _chip, _converted, _mlp, _rel_err

# ------------------------------------------------------------------------------------------- gradients
def test_gradients_flow_straight_through_in_training_mode() -> None:
    x = _batch()
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(0))
    model = _mlp()
    net = _converted(model, _chip("pcm-14nm", *IDEAL), x)
    net.train()
    nn.functional.cross_entropy(net(x), y).backward()
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    for (_, sim), ref in zip(L.imc_layers(net), (model[1], model[3])):
        assert sim.base.weight.grad is not None and sim.base.bias.grad is not None
        assert _rel_err(sim.base.weight.grad, ref.weight.grad) < 1e-2
        assert _rel_err(sim.base.bias.grad, ref.bias.grad) < 1e-2


def test_gradients_flow_with_quantisation_and_training_noise() -> None:
    x = _batch()
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(0))
    net = _converted(_CNN(), _chip("pcm-14nm", "adc.bits=4", "inputs.bits=4", "weights.bits=4"), x)
    L.set_training_noise(net, 0.05, 0.04, 0.05)
    net.train()
    xin = x.clone().requires_grad_(True)
    torch.manual_seed(0)
    out1 = net(xin)
    nn.functional.cross_entropy(out1, y).backward()
    for _, m in L.imc_layers(net):
        g = m.base.weight.grad
        assert g is not None and torch.isfinite(g).all() and float(g.abs().sum()) > 0
    assert xin.grad is not None and float(xin.grad.abs().sum()) > 0
    with torch.no_grad():
        out2 = net(x)
    assert not torch.allclose(out1, out2)  # noise is injected in the forward pass while training
    # no training noise in evaluation mode; switching it off freezes the ranges
    L.set_training_noise(net, 0.0, 0.0, 0.0)
    net.eval()
    bounds = [float(m.adc_bound) for _, m in L.imc_layers(net)]
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
    assert bounds == [float(m.adc_bound) for _, m in L.imc_layers(net)]


def test_training_noise_tracks_ranges_with_momentum() -> None:
    x = _batch()
    net = _converted(_mlp(), _chip(), x)
    before = float(net[1].in_bound)
    L.set_training_noise(net, 0.0, 0.0, 0.5)
    net.train()
    net(4.0 * x)
    after = float(net[1].in_bound)
    assert before < after < 4.0 * before  # moved half way towards the new (4x larger) estimate


# --------------------------------------------------------------------------------------------- devices
def _devices(net: nn.Module) -> set[torch.device]:
    return {t.device for t in list(net.parameters()) + list(net.buffers())}


def test_convert_keeps_the_model_device_meta() -> None:
    model = _mlp().to("meta")
    net, _ = L.convert(model, _chip())
    assert _devices(net) == {torch.device("meta")}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_convert_keeps_the_model_device_cuda() -> None:
    dev = torch.device("cuda")
    x = _batch().to(dev)
    model = _mlp().to(dev)
    net, _ = L.convert(model, _chip())
    assert {d.type for d in _devices(net)} == {"cuda"}
    L.calibrate(net, [x])
    L.program(net, seed=0)
    L.set_time(net, 3600.0, seed=0)
    with torch.no_grad():
        assert net(x).device.type == "cuda"


def test_convert_keeps_the_model_device_cpu_and_dtype() -> None:
    model = _mlp().double()
    x = _batch().double()
    net = _converted(model, _chip(), x)
    assert _devices(net) == {torch.device("cpu")}
    L.program(net, seed=0)
    L.set_time(net, 1.0, seed=0)
    with torch.no_grad():
        assert net(x).dtype == torch.float64
