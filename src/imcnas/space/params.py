"""Declarative search spaces: Choice, Int, Float (log) and conditional parameters; flat JSON-able samples.

A sample is a flat dict ``{"xbar.rows": 128, "lr": 0.003, "depth": 2, "width": 16}`` of native Python values.
A parameter with a ``condition=(parent, allowed)`` is *active* only when the parent is active and its value is
in ``allowed``; inactive parameters are absent from the sample. Strategies work on ``encode``/``decode``: every
parameter owns one coordinate of [0, 1]^dim (inactive ones encode as 0.5); ``decode`` snaps to valid values.

YAML form (``SearchSpace.from_dict`` / ``to_dict``)::

    params:
      xbar.rows: {choice: [64, 128, 256]}
      lr: {float: [1.0e-4, 1.0e-1], log: true}
      depth: {int: [1, 4]}
      width: {int: [8, 64], step: 8, when: {depth: [2, 3, 4]}}
    constraints:
      - {expr: "width <= 16 * depth", message: "too wide for its depth"}

A bare ``{name: param}`` mapping (no ``params:`` level) is accepted too. Constraint expressions are evaluated
by a small AST interpreter: sample keys (dotted names allowed), numbers, strings, ``+ - * / // % **``,
comparisons (also ``in``), ``and``/``or``/``not`` and the functions min, max, abs, log2, ceil, floor. A
constraint whose keys are not all present in a sample (inactive parameters) does not apply to it
(see ``imcnas.space.constraints``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from imcnas.errors import ConfigError

Sample = dict[str, Any]
_SCALARS = (bool, int, float, str)


def _num(key: str, what: str, value: Any) -> float:
    """A number from YAML (which reads ``1e-4`` as a string) or Python; ConfigError otherwise."""
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"param '{key}': {what} must be a number, got {value!r}") from None


def _index(values: Sequence[Any], value: Any) -> int | None:
    """Position of ``value`` in ``values``; True does not match 1 and "1" does not match 1."""
    kind = (isinstance(value, bool), isinstance(value, str))
    for i, v in enumerate(values):
        if v == value and (isinstance(v, bool), isinstance(v, str)) == kind:
            return i
    return None


def _native(value: Any) -> Any:
    """numpy scalars -> Python scalars, so samples stay JSON-able."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Param:
    """Base of all parameters. ``condition=(parent, allowed_values)`` makes it conditional."""

    condition: tuple[str, tuple[Any, ...]] | None = field(default=None, kw_only=True)
    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if self.condition is not None:
            parent, allowed = self.condition
            allowed = tuple(allowed) if isinstance(allowed, (list, tuple, set, frozenset)) else (allowed,)
            object.__setattr__(self, "condition", (str(parent), tuple(_native(a) for a in allowed)))

    def sample(self, rng: np.random.Generator) -> Any:
        """A random valid value (uniform in the encoded coordinate: log-uniform for ``log=True``)."""
        return self.decode(float(rng.random()))

    def encode(self, value: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, u: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, value: Any) -> str | None:  # pragma: no cover - abstract
        """None if ``value`` is valid, else a short reason."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The YAML form, e.g. ``{"int": [1, 4], "when": {"stages": [2, 3]}}``."""
        raise NotImplementedError

    def grid(self, max_bins: int = 16) -> list[Any]:
        """At most ``max_bins`` representative values, ends included (all values of small discrete params)."""
        return sorted({self.decode(float(u)) for u in np.linspace(0.0, 1.0, max_bins)})

    def _base_dict(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.condition is not None:
            body["when"] = {self.condition[0]: list(self.condition[1])}
        return body


@dataclass(frozen=True)
class Choice(Param):
    """One of ``values`` (str, int, float or bool); unordered."""

    values: tuple[Any, ...] = ()
    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        super().__post_init__()
        values = tuple(_native(v) for v in self.values)
        if not values or not all(isinstance(v, _SCALARS) for v in values):
            raise ConfigError(f"Choice needs a non-empty list of str/int/float/bool values, got {self.values!r}")
        object.__setattr__(self, "values", values)

    def _index(self, value: Any) -> int | None:
        return _index(self.values, value)

    def check(self, value: Any) -> str | None:
        return None if self._index(value) is not None else f"{value!r} is not one of {list(self.values)}"

    def encode(self, value: Any) -> float:
        i = self._index(value)
        if i is None:
            raise ConfigError(f"{value!r} is not one of {list(self.values)}")
        return (i + 0.5) / len(self.values)

    def decode(self, u: float) -> Any:
        return self.values[min(int(min(max(u, 0.0), 1.0) * len(self.values)), len(self.values) - 1)]

    def grid(self, max_bins: int = 16) -> list[Any]:
        return list(self.values)

    def to_dict(self) -> dict[str, Any]:
        return self._base_dict({"choice": list(self.values)})


@dataclass(frozen=True)
class Int(Param):
    """An integer in ``low, low+step, ..., <= high``; ``log=True`` samples log-uniformly (needs low >= 1, step 1)."""

    low: int = 0
    high: int = 0
    step: int = 1
    log: bool = False
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.low) != self.low or int(self.high) != self.high or int(self.step) != self.step:
            raise ConfigError(f"Int bounds and step must be integers, got {self.low}, {self.high}, {self.step}")
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))
        object.__setattr__(self, "step", int(self.step))
        if self.high < self.low or self.step < 1:
            raise ConfigError(f"Int needs low <= high and step >= 1, got [{self.low}, {self.high}] step {self.step}")
        if self.log and (self.low < 1 or self.step != 1):
            raise ConfigError(f"Int(log=True) needs low >= 1 and step 1, got low {self.low}, step {self.step}")

    @property
    def n(self) -> int:
        """Number of valid values."""
        return (self.high - self.low) // self.step + 1

    def check(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            return f"{value!r} is not an integer"
        if not self.low <= value <= self.high or (value - self.low) % self.step:
            return f"{value!r} is not in [{self.low}, {self.high}] with step {self.step}"
        return None

    def encode(self, value: Any) -> float:
        if (why := self.check(value)) is not None:
            raise ConfigError(why)
        if self.n == 1:
            return 0.5
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return ((value - self.low) // self.step + 0.5) / self.n

    def decode(self, u: float) -> int:
        u = min(max(u, 0.0), 1.0)
        if self.log and self.n > 1:
            v = round(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
            return int(min(max(v, self.low), self.high))
        return self.low + self.step * min(int(u * self.n), self.n - 1)

    def grid(self, max_bins: int = 16) -> list[Any]:
        if self.n <= max_bins:
            return [self.low + i * self.step for i in range(self.n)]
        return super().grid(max_bins)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"int": [self.low, self.high]}
        if self.step != 1:
            body["step"] = self.step
        if self.log:
            body["log"] = True
        return self._base_dict(body)


@dataclass(frozen=True)
class Float(Param):
    """A real number in [low, high]; ``log=True`` samples log-uniformly (needs low > 0)."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    kind: ClassVar[str] = "float"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if not self.low <= self.high or (self.log and self.low <= 0):
            raise ConfigError(f"Float needs low <= high (and low > 0 when log), got [{self.low}, {self.high}]")

    def check(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{value!r} is not a number"
        return None if self.low <= value <= self.high else f"{value!r} is not in [{self.low}, {self.high}]"

    def encode(self, value: Any) -> float:
        if (why := self.check(value)) is not None:
            raise ConfigError(why)
        if self.high == self.low:
            return 0.5
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def decode(self, u: float) -> float:
        if u <= 0.0:
            return self.low
        if u >= 1.0:
            return self.high
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return float(min(max(v, self.low), self.high))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"float": [self.low, self.high]}
        if self.log:
            body["log"] = True
        return self._base_dict(body)


PARAM_TYPES: dict[str, type[Param]] = {"choice": Choice, "int": Int, "float": Float}


def param_from_dict(key: str, d: Mapping[str, Any]) -> Param:
    """One parameter from its YAML form, e.g. ``{"int": [8, 64], "step": 8, "when": {"depth": [2, 3]}}``."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"param '{key}': expected a mapping like {{choice: [...]}}, got {d!r}")
    kinds = [k for k in d if k in PARAM_TYPES]
    if len(kinds) != 1:
        raise ConfigError(f"param '{key}': needs exactly one type of {', '.join(PARAM_TYPES)}; got fields "
                          f"{', '.join(map(str, d)) or 'none'}")
    kind = kinds[0]
    allowed = {"choice": {"when"}, "int": {"when", "step", "log"}, "float": {"when", "log"}}[kind]
    extra = [k for k in d if k != kind and k not in allowed]
    if extra:
        known = ", ".join(sorted(allowed))
        raise ConfigError(f"param '{key}': unknown field '{extra[0]}' for {kind}; known: {known}")
    condition = None
    if "when" in d:
        when = d["when"]
        if not isinstance(when, Mapping) or len(when) != 1:
            raise ConfigError(f"param '{key}': 'when' must map exactly one parent key to its allowed values")
        condition = next(iter(when.items()))
    body = d[kind]
    try:
        if kind == "choice":
            if not isinstance(body, (list, tuple)):
                raise ConfigError(f"choice must be a list of values, got {body!r}")
            return Choice(tuple(body), condition=condition)
        if not isinstance(body, (list, tuple)) or len(body) != 2:
            raise ConfigError(f"{kind} must be [low, high], got {body!r}")
        low, high = (_num(key, "bound", b) for b in body)
        log = bool(d.get("log", False))
        if kind == "int":
            step = _num(key, "step", d.get("step", 1))
            if any(v != int(v) for v in (low, high, step)):
                raise ConfigError(f"int bounds and step must be integers, got [{low}, {high}] step {step}")
            return Int(int(low), int(high), step=int(step), log=log, condition=condition)
        return Float(low, high, log=log, condition=condition)
    except ConfigError as err:
        msg = str(err)
        raise ConfigError(msg if msg.startswith(f"param '{key}'") else f"param '{key}': {msg}") from None
