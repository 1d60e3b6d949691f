"""Whole-model operations on the simulated chip: :func:`convert` (the layers of
:func:`imcnas.workload.analog_layers` replaced by simulated ones), iteration over the simulated layers, range
calibration, programming, drift time, reset and the hardware-aware-training noise switch."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

from imcnas.accuracy import nonideal as ni
from imcnas.accuracy.layers import IMCLayer, LayerConfig, layer_config
from imcnas.errors import ConfigError
from imcnas.hardware.spec import Chip
from imcnas.workload.analog import analog_layers

__all__ = ["ConversionReport", "calibrate", "convert", "imc_layers", "program", "reset", "set_time",
           "set_training_noise", "simulated_modules"]


@dataclass
class ConversionReport:
    """Which layers run on the simulated crossbars and which stay digital (with the reason)."""

    simulated: list[str] = field(default_factory=list)
    digital: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"simulated": list(self.simulated), "digital": dict(self.digital)}


def _digital_reason(m: nn.Module) -> str | None:
    if isinstance(m, nn.Embedding):
        return "embedding lookup: read digitally"
    if isinstance(m, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)):
        return "normalisation: digital units"
    own = [n for n, _ in m.named_parameters(recurse=False)]
    if own:
        return f"{type(m).__name__}: {', '.join(own)} used digitally (no crossbar model)"
    return None


def convert(model: nn.Module, chip: Chip | str, *, layer_bits: dict[str, dict[str, int]] | None = None,
            clip_quantile: float = 0.999, inplace: bool = False,
            datapath: str = "auto") -> tuple[nn.Module, ConversionReport]:
    """Replace the layers of :func:`imcnas.workload.analog_layers` (the ones the cost model prices on
    crossbars) by simulated IMC layers configured from ``chip``: Linear and convolutions by
    :class:`IMCLayer`, ``nn.MultiheadAttention`` and LSTM/GRU/RNN (and cells) by composites whose weight
    matmuls are IMCLayers.

    ``layer_bits`` maps layer names to per-layer ``weights``/``inputs``/``adc`` bits; a composite's own path
    sets all its matmuls, ``<path>.<matmul>`` (the cost model's op name, e.g. ``attn.q_proj``,
    ``rnn.weight_hh_l0``) one of them. Returns the converted model (a copy unless ``inplace``) and a report
    of simulated and digital layers. ``datapath`` ("auto", "bit_level", "one_read"): see
    :func:`imcnas.accuracy.layers.layer_config`.
    """
    from imcnas.accuracy.composite import COMPOSITES, matmul_names

    if isinstance(chip, str):
        from imcnas.hardware.spec import load_chip

        chip = load_chip(chip)
    if not isinstance(chip, Chip):
        raise ConfigError(f"convert: expected a Chip or a preset name, got {type(chip).__name__}")
    model = model if inplace else copy.deepcopy(model)
    layer_bits = dict(layer_bits or {})
    analog = analog_layers(model)
    names = {n for n, _ in model.named_modules()}
    for path, kind in analog.items():
        names |= {f"{path}.{sub}" if path else sub for sub in matmul_names(model.get_submodule(path), kind)}
    missing = sorted(set(layer_bits) - names)
    if missing:
        raise ConfigError(f"layer bits: no layer named '{missing[0]}' in the model")
    report = ConversionReport()
    chips = {path: chip for path in analog}
    if chip.hybrid is not None:  # each layer simulated as the macro it is priced on (hardware/hybrid.py)
        from imcnas.hardware.hybrid import layer_macros, macro_chips

        macros = macro_chips(chip)
        chips = {p: macros[m] for p, m in zip(analog, layer_macros(list(analog), chip))}

    def simulated(path: str, m: nn.Module, kind: str) -> nn.Module:
        def cfg(sub: str) -> LayerConfig:
            key = f"{path}.{sub}" if path and sub else (path or sub)
            return layer_config(chips[path], layer_bits.get(key, layer_bits.get(path)), clip_quantile, datapath)
        return IMCLayer(m, cfg("")) if kind in ("linear", "conv") else COMPOSITES[kind](m, cfg)

    if "" in analog:  # a bare layer: the root itself is replaced
        report.simulated.append("")
        return simulated("", model, analog[""]), report
    for path, kind in analog.items():
        set_child(model, path, simulated(path, model.get_submodule(path), kind))
        report.simulated.append(path)
    for name, m in model.named_modules():
        if name and not any(name == p or name.startswith(p + ".") for p in analog):
            why = _digital_reason(m)
            if why:
                report.digital[name] = why
        if isinstance(m, nn.TransformerEncoder):  # torch's nested-tensor fast path would skip the simulation
            m.use_nested_tensor = False
    return model, report


def set_child(model: nn.Module, dotted: str, new: nn.Module) -> None:
    """Replace the submodule at the dotted path ``dotted`` of ``model`` by ``new``."""
    parent_name, _, child = dotted.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def imc_layers(model: nn.Module) -> Iterator[tuple[str, IMCLayer]]:
    """The simulated matmuls of a converted model, in order (a composite's, e.g. ``attn.q_proj``, included)."""
    for name, m in model.named_modules():
        if isinstance(m, IMCLayer):
            yield name, m


def simulated_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The outermost simulated modules of a converted model (IMCLayers and composites), each with the
    original module in ``.base``; the paths are those of :func:`imcnas.workload.analog_layers`."""
    done: list[str] = []
    for name, m in model.named_modules():
        if getattr(m, "imc_simulated", False) and not any(p == "" or name.startswith(p + ".") for p in done):
            done.append(name)
            yield name, m


# ------------------------------------------------------------------------------------- whole-model helpers
@torch.no_grad()
def calibrate(model: nn.Module, batches: Any, *, reset: bool = True) -> None:
    """Set input and ADC ranges from data (a few batches of inputs): running max of the clip quantile."""
    layers = [m for _, m in imc_layers(model)]
    if not layers:
        return
    was = model.training
    model.eval()
    for m in layers:
        if reset:
            m.in_bound.zero_(), m.adc_bound.zero_(), m.adc_bound_bits.zero_(), m.in_signed.fill_(False)
        m.observe, m.momentum = True, 1.0
    try:
        for x in batches:  # a batch is the model's input, or a tuple of its arguments (graphs: x, edge_index)
            model(*x) if isinstance(x, tuple) else model(x)
    finally:
        for m in layers:
            m.observe = False
        model.train(was)


def program(model: nn.Module, seed: int = 0) -> None:
    """Programme every simulated layer (programming noise, stuck cells), deterministically from ``seed``."""
    for i, (_, m) in enumerate(imc_layers(model)):
        m.program(ni.generator(seed * 100_003 + i, m.weight.device))


def set_time(model: nn.Module, t_s: float, seed: int = 0) -> None:
    """Read every programmed layer ``t_s`` seconds after programming (drift, read noise, compensation)."""
    for i, (_, m) in enumerate(imc_layers(model)):
        m.set_time(t_s, ni.generator(seed * 100_003 + 7919 * (i + 1), m.weight.device))


def reset(model: nn.Module) -> None:
    """Back to ideal (noise-free, quantised) simulated layers."""
    for _, m in imc_layers(model):
        m.reset()


def set_training_noise(model: nn.Module, weight_sigma: float, out_sigma: float, track_momentum: float) -> None:
    """Noise injected in the forward pass during hardware-aware training, and range tracking while training
    (exponential moving average with ``track_momentum``; 0 freezes the calibrated ranges)."""
    for _, m in imc_layers(model):
        m.train_noise = (weight_sigma, out_sigma)
        m.observe, m.momentum = track_momentum > 0, track_momentum
