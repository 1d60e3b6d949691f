"""Sample -> (network, chip, compression plan): the one place that gives a flat sample its meaning.

Key prefixes of a sample:

- ``arch.*``: the architecture family's parameters (``imcnas.space.families``);
- ``hw.<dotted field>``: a field of the hardware description, e.g. ``hw.crossbar.rows``, ``hw.adc.bits``,
  ``hw.device.type``, applied as ``--set`` overrides on the experiment's base chip;
- ``bits.weights`` / ``bits.inputs``: precision of every crossbar layer; ``bits.weights.L<i>`` /
  ``bits.inputs.L<i>``: of the i-th crossbar layer (Linear and convolutions in module order, see
  :func:`crossbar_layers`; layers past the last index given use the network-wide value, then the chip's). The cost model and the accuracy simulation both
  see these per-layer bits;
- ``prune.method`` (magnitude | channel | xbar_rows | xbar_cols) and ``prune.ratio``: pruning applied at
  initialisation, masks kept through training (so the cost model sees the pruned structure before training);
- ``train.<field>``: overrides of the training config (``lr``, ``epochs``, ``weight_decay``, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import torch
from torch import nn

from imcnas.accuracy.prune import PruneConfig, prune
from imcnas.accuracy.train import TrainConfig
from imcnas.config import ExperimentConfig
from imcnas.errors import ConfigError, ImcnasError
from imcnas.hardware.spec import Chip, load_chip
from imcnas.space.families import build_model, get_family
from imcnas.space.searchspace import SearchSpace, parse_constraints
from imcnas.workload.analog import analog_layers

PREFIXES = ("arch.", "hw.", "bits.", "prune.", "train.")


def search_space(cfg: ExperimentConfig, input_shape: tuple[int, ...], num_classes: int) -> SearchSpace:
    """The experiment's space: the family's default architecture space (unless disabled) plus the config's
    parameters (which override family parameters of the same name) and constraints."""
    params: dict[str, Any] = {}
    if cfg.space.family_defaults:
        params.update(get_family(cfg.model.family).default_space(tuple(input_shape), num_classes))
    user = SearchSpace.from_dict({"params": cfg.space.params})
    constraints = parse_constraints(cfg.space.constraints)  # may read the family's keys too
    bad = [k for k in user.names if not k.startswith(PREFIXES)]
    if bad:
        raise ConfigError(f"space.params.{bad[0]}: a parameter name must start with one of {', '.join(PREFIXES)}")
    params.update(user.params)
    params = _narrow_conditions(params, set(user.params))
    if not params:
        raise ConfigError("space: no parameters to search (enable family_defaults or add space.params)")
    return SearchSpace(params, constraints)


def _narrow_conditions(params: dict[str, Any], user: set[str]) -> dict[str, Any]:
    """A user parameter that narrows a family default (``arch.stages: {int: [1, 2]}``) leaves the family's
    conditional parameters with parent values that no longer exist: keep the values that do, and drop a
    family parameter that can never be active. The user's own parameters are left alone (their errors are
    theirs to see)."""
    out = dict(params)
    changed = True
    while changed:  # a dropped parent can strand its children in turn
        changed = False
        for name, p in list(out.items()):
            if name in user or p.condition is None:
                continue
            parent, allowed = p.condition
            if parent not in out:
                del out[name]
                changed = True
                continue
            keep = tuple(a for a in allowed if out[parent].check(a) is None)
            if keep != tuple(allowed):
                changed = True
                if keep:
                    out[name] = replace(p, condition=(parent, keep))
                else:
                    del out[name]
    return out


@dataclass
class Candidate:
    """A built design: the network (pruned at initialisation when asked), the chip, per-layer bits."""

    model: nn.Module
    chip: Chip
    layer_bits: dict[str, dict[str, int]] = field(default_factory=dict)
    prune: PruneConfig | None = None
    train: TrainConfig | None = None
    params: int = 0


def crossbar_layers(model: nn.Module) -> list[str]:
    """Paths of the single-matrix analog layers (Linear and every convolution, in module order) of
    :func:`imcnas.workload.analog_layers`: the ``L<i>`` of ``bits.*.L<i>``. Attention and recurrent modules,
    whose several matmuls carry their own names, take the network-wide bits."""
    return [n for n, kind in analog_layers(model).items() if kind in ("linear", "conv")]


def _layer_bits(sample: Mapping[str, Any], names: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind in ("weights", "inputs"):
        default = sample.get(f"bits.{kind}")
        for i, name in enumerate(names):
            v = sample.get(f"bits.{kind}.L{i}", default)
            if v is not None:
                out.setdefault(name, {})[kind] = int(v)
    for key in sample:
        if key.startswith("bits.") and key not in ("bits.weights", "bits.inputs"):
            kind, _, idx = key[5:].partition(".L")
            if kind not in ("weights", "inputs") or not idx.isdigit():
                raise ConfigError(f"sample key '{key}': expected bits.weights[.L<i>] or bits.inputs[.L<i>]")
    return out


def build_chip(sample: Mapping[str, Any], cfg: ExperimentConfig) -> Chip:
    """The base chip with the config's fixed overrides and the sample's ``hw.*`` values."""
    overrides = list(cfg.hardware_set)
    for key, value in sample.items():
        if key.startswith("hw."):
            text = str(value).lower() if isinstance(value, bool) else value
            overrides.append(f"{key[3:]}={text}")
    return load_chip(cfg.hardware, overrides)


def build(sample: Mapping[str, Any], cfg: ExperimentConfig, input_shape: tuple[int, ...], num_classes: int,
          seed: int = 0) -> Candidate:
    """Build the design a sample describes. The network's initial weights depend only on ``seed``."""
    chip = build_chip(sample, cfg)
    torch.manual_seed(seed)
    model = build_model(cfg.model.family, sample, tuple(input_shape), num_classes)
    names = crossbar_layers(model)
    bits = _layer_bits(sample, names)
    pcfg = None
    if "prune.ratio" in sample and float(sample["prune.ratio"]) > 0:
        pcfg = PruneConfig(method=sample.get("prune.method", "magnitude"), ratio=float(sample["prune.ratio"]))
        prune(model, pcfg, chip)
    train_over = {k[6:]: v for k, v in sample.items() if k.startswith("train.")}
    try:
        train_cfg = cfg.training.model_copy(update=train_over)
        TrainConfig.model_validate(train_cfg.model_dump())
    except Exception as err:  # noqa: BLE001 - pydantic errors become one line
        raise ConfigError(f"sample train.*: {str(err).splitlines()[0]}") from None
    n_params = sum(p.numel() for p in model.parameters())
    return Candidate(model, chip, bits, pcfg, train_cfg, n_params)


def is_user_error(err: BaseException) -> bool:
    """True for errors a sample can cause (recorded as a failed trial, the search goes on)."""
    return isinstance(err, (ImcnasError, ValueError))
