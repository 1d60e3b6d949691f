"""Pre-flight: everything a config can get wrong, found before the first trial trains anything.

:func:`preflight` loads the base chip, checks every value of every ``hw.*`` parameter against the hardware
description, every ``bits.*`` value and per-layer index, every ``train.*`` value, builds the space's default
design and prices it with the cost model (so an untraceable model or an operation the cost model cannot
price is reported here, not as a failed trial). Any problem is a one-line :class:`ConfigError` naming the
YAML path (``space.params.hw.adc.bitz: ...``). It takes about a second for the built-in families.
"""
from __future__ import annotations

from typing import Any

from imcnas.config import ExperimentConfig
from imcnas.errors import ConfigError, EnduranceError, ImcnasError
from imcnas.space.params import Choice, Float, Int, Param
from imcnas.space.searchspace import SearchSpace

__all__ = ["preflight", "default_sample", "probe_values"]


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def probe_values(p: Param) -> list[Any]:
    """The values pre-flight tries for one parameter: every choice, or the ends of a range."""
    if isinstance(p, Choice):
        return list(p.values)
    if isinstance(p, (Int, Float)):
        return [p.low, p.high] if p.low != p.high else [p.low]
    return []


def default_sample(space: SearchSpace) -> dict[str, Any]:
    """The space's default design: the middle choice / value of every active parameter, nudged to a feasible
    one when the constraints reject it (the first of up to 200 seeded random samples that passes)."""
    import numpy as np

    mid = space.decode(np.full(space.dim, 0.5))
    if space.is_feasible(mid)[0]:
        return mid
    rng = np.random.default_rng(0)
    try:
        return space.sample(rng, max_tries=200)
    except ConfigError:
        return mid


def _leaf_error(field: str, value: Any) -> str | None:
    """Why ``value`` is not valid for the hardware field at dotted path ``field`` on its own (unknown path,
    wrong type, out of range), or None. Cross-field rules are judged on whole chips, not here."""
    import typing

    from pydantic import BaseModel, TypeAdapter, ValidationError

    from imcnas.hardware.spec import Chip

    model: type[BaseModel] = Chip
    parts = field.split(".")
    for i, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            where = ".".join(parts[:i]) or "the chip"
            return f"unknown hardware field '{field}' ({where} has: {', '.join(model.model_fields)})"
        if i == len(parts) - 1:
            try:
                ann = typing.Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
                TypeAdapter(ann).validate_python(value)
            except ValidationError as err:
                return f"hardware field '{field}': {err.errors()[0]['msg']}"
            return None
        ann = info.annotation
        sub = [a for a in (typing.get_args(ann) or (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not sub:
            return f"hardware field '{'.'.join(parts[:i + 1])}' is not a section"
        model = sub[0]
    return None


def _hw_overrides(sample: dict[str, Any], skip: str) -> list[str]:
    return [f"{k[3:]}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sample.items()
            if k.startswith("hw.") and k != skip]


def _check_hw(name: str, p: Param, cfg: ExperimentConfig, others: list[dict[str, Any]]) -> None:
    """Each value of one ``hw.*`` parameter: valid for its field, and part of at least one valid chip among
    the base chip and the chips of ``others`` (other samples' hw values)."""
    from imcnas.hardware.spec import load_chip

    field = name[3:]
    for v in probe_values(p):
        why = _leaf_error(field, v)
        if why is not None:
            raise ConfigError(f"space.params.{name}: value {v!r}: {why}")
        text = str(v).lower() if isinstance(v, bool) else v
        first: ImcnasError | None = None
        for other in [{}, *others]:
            try:
                load_chip(cfg.hardware, [*cfg.hardware_set, *_hw_overrides(other, name), f"{field}={text}"])
                break
            except ImcnasError as err:
                first = first or err
        else:
            raise ConfigError(f"space.params.{name}: value {v!r} gives no valid chip ({len(others) + 1} tried; "
                              f"with the base chip: {_one_line(first)})")


def _check_arch(name: str, p: Param, family: Any) -> None:
    knobs = getattr(family, "knobs", None)
    if not knobs:
        return  # a user family without declared knobs: its build errors show up per trial
    if name not in knobs:
        raise ConfigError(f"space.params.{name}: family '{family.name}' has no such key; known: "
                          f"{', '.join(knobs)}")
    for v in probe_values(p):
        why = knobs[name].check(v)
        if why is not None:
            raise ConfigError(f"space.params.{name}: value {v!r}: {why}")


def _buildable(space: SearchSpace, cfg: ExperimentConfig, shape: tuple[int, ...], classes: int) -> tuple[Any, dict]:
    """The default design built, or the first of a few seeded samples that builds; a ConfigError naming the
    default's problem when none does."""
    import numpy as np

    from imcnas.space.build import build

    first: BaseException | None = None
    rng = np.random.default_rng(cfg.seed)
    for attempt in range(8):
        sample = default_sample(space) if attempt == 0 else space.sample(rng, max_tries=200)
        try:
            return build(sample, cfg, shape, classes, seed=cfg.seed), sample
        except Exception as err:  # noqa: BLE001 - judged below
            first = first or err
    if isinstance(first, ImcnasError):
        raise ConfigError(f"space: no design of the space can be built (8 tried): {_one_line(first)}") from None
    raise ConfigError(f"model.family '{cfg.model.family}': no design can be built: {type(first).__name__}: "
                      f"{_one_line(first)}") from None


def _durable(space: SearchSpace, cfg: ExperimentConfig, shape: tuple[int, ...], classes: int, example: Any,
             first: BaseException) -> tuple[Any, dict, dict[str, float], dict[str, Any]]:
    """A few seeded samples priced after the default design was refused for endurance: the first that a device
    survives (its designs that wear out become failed trials in the search); a ConfigError when none does."""
    import numpy as np

    from imcnas.search.evaluate import cheap_metrics
    from imcnas.space.build import build

    rng = np.random.default_rng(cfg.seed)
    for _ in range(16):
        sample = space.sample(rng, max_tries=200)
        try:
            cand = build(sample, cfg, shape, classes, seed=cfg.seed)
            return (cand, sample, *cheap_metrics(cand, shape, example))
        except Exception:  # noqa: BLE001 - only a design that prices counts
            continue
    raise ConfigError(f"hardware: no design tried survives its device's endurance (16 samples): {_one_line(first)}")


def _check_bits(name: str, p: Param, cfg: ExperimentConfig, max_layers: int) -> None:
    from imcnas.hardware.spec import load_chip

    kind, _, idx = name[5:].partition(".L")
    if kind not in ("weights", "inputs") or (idx and not idx.isdigit()) or name.endswith(".L"):
        raise ConfigError(f"space.params.{name}: expected bits.weights[.L<i>] or bits.inputs[.L<i>]")
    if idx and int(idx) >= max_layers:
        raise ConfigError(f"space.params.{name}: the family's networks have at most {max_layers} crossbar "
                          f"layers (L0 ... L{max_layers - 1}), so there is no layer L{idx}")
    for v in probe_values(p):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
            raise ConfigError(f"space.params.{name}: value {v!r} is not a whole number of bits")
        try:
            load_chip(cfg.hardware, [*cfg.hardware_set, f"{kind}.bits={int(v)}"])
        except ImcnasError as err:
            raise ConfigError(f"space.params.{name}: value {v!r}: {_one_line(err)}") from None


def _samples(space: SearchSpace, seed: int, n: int = 16) -> list[dict[str, Any]]:
    """The default sample and up to ``n`` seeded random samples (fewer when the constraints reject many)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = [default_sample(space)]
    for _ in range(n):
        try:
            out.append(space.sample(rng, max_tries=50))
        except ConfigError:
            break
    return out


def _check_train(name: str, p: Param, cfg: ExperimentConfig) -> None:
    from pydantic import ValidationError

    from imcnas.accuracy.train import TrainConfig

    for v in probe_values(p):
        try:
            TrainConfig.model_validate({**cfg.training.model_dump(), name[6:]: v})
        except ValidationError as err:
            first = err.errors()[0]
            msg = f"'{name[6:]}' is not a training field" if first["type"] == "extra_forbidden" else first["msg"]
            raise ConfigError(f"space.params.{name}: value {v!r}: {msg}") from None


def preflight(cfg: ExperimentConfig, space: SearchSpace, input_shape: tuple[int, ...], num_classes: int,
              example: Any = None) -> dict[str, Any]:
    """Check the config against the hardware, the family and the cost model; train nothing. Returns the
    default sample and its cost-model values; raises a one-line ConfigError naming the YAML path. ``example``:
    one dataset input (batch of 1) for the cost model's trace."""
    from imcnas.hardware.spec import load_chip
    from imcnas.search.evaluate import cheap_metrics
    from imcnas.space.families import get_family

    try:
        load_chip(cfg.hardware, list(cfg.hardware_set))
    except ImcnasError as err:
        raise ConfigError(f"hardware: {_one_line(err)}") from None
    others = _samples(space, cfg.seed)
    for name, p in space.params.items():
        if name.startswith("hw."):
            _check_hw(name, p, cfg, others)
        elif name.startswith("train."):
            _check_train(name, p, cfg)
    family = get_family(cfg.model.family)
    for name, p in space.params.items():
        if name.startswith("arch."):
            _check_arch(name, p, family)
        elif name.startswith("bits."):
            _check_bits(name, p, cfg, family.max_layers(tuple(input_shape), num_classes))
    cand, sample = _buildable(space, cfg, tuple(input_shape), num_classes)
    try:
        values, info = cheap_metrics(cand, tuple(input_shape), example)
    except EnduranceError as err:  # this design wears its device out; the space may hold others that do not
        cand, sample, values, info = _durable(space, cfg, tuple(input_shape), num_classes, example, err)
    except ImcnasError as err:
        raise ConfigError(f"the default design cannot be priced: {_one_line(err)}") from None
    except Exception as err:  # noqa: BLE001
        raise ConfigError(f"the default design cannot be priced: {type(err).__name__}: {_one_line(err)}") from None
    unsupported = list(info.get("unsupported", []))
    if unsupported and not cfg.model.ignore_unsupported:
        raise ConfigError(f"model: the cost model cannot price {len(unsupported)} operation(s) of the network "
                          f"(first: {unsupported[0]}); they would count as free. Set model.ignore_unsupported: "
                          "true to search anyway")
    return {"sample": sample, "values": values}
