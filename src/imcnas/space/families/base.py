"""The architecture-family contract, the family registry and helpers shared by the built-in families.

A *family* turns the ``arch.*`` keys of a flat sample into an ``nn.Module``::

    fam = get_family("resnet")
    space = SearchSpace(fam.default_space((3, 32, 32), 10))
    model = fam.build(space.sample(rng), (3, 32, 32), 10)      # or build_model("resnet", sample, ...)

``arch`` may be a whole sample: keys not starting with ``arch.`` are ignored, missing ``arch.*`` keys take the
family's documented defaults, ``arch.family`` is reserved (a family selector) and ignored, and any other
unknown ``arch.*`` key or invalid value is a one-line :class:`~imcnas.errors.ConfigError` naming the key.
Values are checked against each family's *legal* ranges, which may be wider than its default space (a user
space can offer other widths or kernels); counts that set the depth (stages, blocks, branches, convs) are
capped at their default-space maxima so that :meth:`Family.max_layers` bounds every buildable model.
``input_shape`` is one sample without the batch: ``(C, H, W)`` for images, ``(C, L)`` for sequences.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from torch import nn

from imcnas import plugins
from imcnas.errors import ConfigError, UnknownNameError
from imcnas.space.params import Param

__all__ = ["ARCH_PREFIX", "Family", "Knob", "build_model", "get_family", "layers_for", "list_families",
           "register_family", "resolve_arch", "check_shape", "choice_of", "int_in", "number_in", "odd_kernel",
           "flag"]

ARCH_PREFIX = "arch."
RESERVED = frozenset({"arch.family"})


@runtime_checkable
class Family(Protocol):
    """An architecture family: a default search space over ``arch.*`` keys and a builder. A family may also
    have ``knobs``, a mapping of every ``arch.*`` key to its :class:`Knob` (default and legal values); the
    study's pre-flight then refuses a space value outside them before any trial runs."""

    name: str

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """The family's default parameters (every key starts with ``arch.``)."""
        ...

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """The model of ``arch`` (a sample; non-``arch.`` keys ignored, missing keys take defaults)."""
        ...

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """Upper bound on the crossbar layers (Conv/Linear modules) of any buildable model."""
        ...


# ------------------------------------------------------------------------------------------ validation
Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Knob:
    """One ``arch.*`` key of a family: its default and a check returning None or a short reason."""

    default: Any
    check: Check


def int_in(low: int, high: int) -> Check:
    """An integer (``2.0`` counts) in ``[low, high]``."""
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
            return f"{v!r} is not an integer"
        return None if low <= v <= high else f"{v!r} is not in [{low}, {high}]"
    return check


def number_in(low: float, high: float, *, open_low: bool = False) -> Check:
    """A real number in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            return f"{v!r} is not a number"
        ok = (low < v if open_low else low <= v) and v <= high
        return None if ok else f"{v!r} is not in {'(' if open_low else '['}{low}, {high}]"
    return check


def odd_kernel(high: int = 7) -> Check:
    """An odd kernel size in ``[1, high]`` (odd so that ``padding = k // 2`` keeps the size)."""
    base = int_in(1, high)

    def check(v: Any) -> str | None:
        why = base(v)
        return why if why is not None else (None if int(v) % 2 == 1 else f"{v!r} is not odd")
    return check


def choice_of(*values: Any) -> Check:
    """One of ``values`` (strings compared exactly)."""
    def check(v: Any) -> str | None:
        return None if any(v == x and type(v) is type(x) for x in values) else \
            f"{v!r} is not one of {list(values)}"
    return check


def flag(v: Any) -> str | None:
    """A bool."""
    return None if isinstance(v, bool) else f"{v!r} is not a bool"


def resolve_arch(family: str, arch: Mapping[str, Any], knobs: Mapping[str, Knob]) -> dict[str, Any]:
    """Every knob's value: from ``arch`` when present (checked), else its default. Ints come back as ``int``."""
    if not isinstance(arch, Mapping):
        raise ConfigError(f"family '{family}': arch must be a mapping of 'arch.*' keys, got {type(arch).__name__}")
    for key in arch:
        if isinstance(key, str) and key.startswith(ARCH_PREFIX) and key not in knobs and key not in RESERVED:
            raise ConfigError(f"family '{family}': unknown key '{key}'; known: {', '.join(knobs)}")
    out: dict[str, Any] = {}
    for key, knob in knobs.items():
        value = arch.get(key, knob.default)
        why = knob.check(value)
        if why is not None:
            raise ConfigError(f"family '{family}': key '{key}': {why}")
        if isinstance(value, float) and not isinstance(knob.default, float) and value.is_integer():
            value = int(value)
        out[key] = value
    return out


def check_shape(family: str, input_shape: Any, num_classes: Any, *, ndims: tuple[int, ...] = (1, 2),
                min_size: int = 1) -> tuple[int, tuple[int, ...]]:
    """``(channels, spatial dims)`` of a valid input shape; one-line ConfigError otherwise.

    ``ndims`` are the supported numbers of spatial dims (1: ``(C, L)``, 2: ``(C, H, W)``)."""
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = all(s == t for s, t in zip(shape, input_shape))
    except (TypeError, ValueError):
        shape, ok = (), False
    if not ok or len(shape) - 1 not in (1, 2) or min(shape) < 1:
        raise ConfigError(f"family '{family}': input_shape must be (C, L) or (C, H, W) of positive ints, "
                          f"got {input_shape!r}")
    if len(shape) - 1 not in ndims:
        kinds = " or ".join("(C, L)" if n == 1 else "(C, H, W)" for n in ndims)
        raise ConfigError(f"family '{family}': needs {kinds} inputs, got input_shape {shape}")
    if min(shape[1:]) < min_size:
        raise ConfigError(f"family '{family}': spatial size must be at least {min_size}, got input_shape {shape}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"family '{family}': num_classes must be a positive int, got {num_classes!r}")
    return shape[0], shape[1:]


def layers_for(ndim: int) -> SimpleNamespace:
    """The 1-D or 2-D torch layer classes: ``conv``, ``bn``, ``maxpool``, ``avgpool`` (adaptive)."""
    if ndim == 1:
        return SimpleNamespace(conv=nn.Conv1d, bn=nn.BatchNorm1d, maxpool=nn.MaxPool1d, avgpool=nn.AdaptiveAvgPool1d)
    return SimpleNamespace(conv=nn.Conv2d, bn=nn.BatchNorm2d, maxpool=nn.MaxPool2d, avgpool=nn.AdaptiveAvgPool2d)


# ------------------------------------------------------------------------------------------ registry
# families live on the plug-in registry (imcnas.plugins, kind "family"); the built-ins register in builtins.py
def register_family(family: Family, *, replace: bool = False) -> Family:
    """Add a family (any object with the :class:`Family` methods) under ``family.name``; ConfigError when the
    name is taken, unless ``replace``. Same as ``imcnas.plugins.register("family", family.name, family)``."""
    name = getattr(family, "name", None)
    if not isinstance(name, str) or not name or not isinstance(family, Family):
        raise ConfigError(f"register_family needs an object with name, default_space, build and max_layers, "
                          f"got {type(family).__name__}")
    if plugins.known("family", name) and not replace:
        raise ConfigError(f"architecture family '{name}' is already registered (pass replace=True)")
    plugins.register("family", name, family, replace=True)
    return family


def list_families() -> list[str]:
    """Names of the registered architecture families, sorted."""
    return sorted(plugins.names("family"))


def get_family(name: str) -> Family:
    """The family called ``name``; UnknownNameError listing the known ones otherwise."""
    if not isinstance(name, str) or not plugins.known("family", name):
        raise UnknownNameError("architecture family", str(name), plugins.names("family"))
    return plugins.get("family", name)


def build_model(family: str, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """``get_family(family).build(arch, input_shape, num_classes)``."""
    return get_family(family).build(arch, input_shape, num_classes)
