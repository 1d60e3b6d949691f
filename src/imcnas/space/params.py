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
from imcnas.space.constraints import Constraint

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


class SearchSpace:
    """Named parameters (insertion order = encoding order) plus constraints between them."""

    def __init__(self, params: Mapping[str, Param], constraints: Sequence[Constraint] = ()) -> None:
        self.params: dict[str, Param] = dict(params)
        self.constraints: list[Constraint] = list(constraints)
        for name, p in self.params.items():
            if not isinstance(name, str) or not name or name != name.strip():
                raise ConfigError(f"search-space key {name!r} must be a non-empty string without spaces")
            if not isinstance(p, Param):
                raise ConfigError(f"param '{name}': expected Choice, Int or Float, got {type(p).__name__}")
            if p.condition is not None:
                parent, allowed = p.condition
                if parent not in self.params or parent == name:
                    raise ConfigError(f"param '{name}': condition names unknown parent '{parent}'")
                bad = [a for a in allowed if self.params[parent].check(a) is not None]
                if bad:
                    raise ConfigError(f"param '{name}': condition value {bad[0]!r} is not valid for '{parent}'")
        self._order = self._topological()
        for c in self.constraints:
            unknown = sorted((c.names or frozenset()) - set(self.params))
            if unknown:
                raise ConfigError(f"constraint '{c.message}': unknown key '{unknown[0]}'; "
                                  f"known: {', '.join(self.params)}")

    def _topological(self) -> list[str]:
        """Parents before children (each parameter has at most one parent)."""
        order: list[str] = []
        for name in self.params:
            chain = [name]
            while (cond := self.params[chain[-1]].condition) is not None and cond[0] not in order:
                if cond[0] in chain:
                    raise ConfigError(f"param '{name}': its conditions form a cycle")
                chain.append(cond[0])
            order += [n for n in reversed(chain) if n not in order]
        return order

    @property
    def names(self) -> list[str]:
        """Parameter keys in encoding order."""
        return list(self.params)

    @property
    def dim(self) -> int:
        """Length of the encoded vector (one coordinate per parameter)."""
        return len(self.params)

    def _active(self, name: str, values: Mapping[str, Any]) -> bool:
        cond = self.params[name].condition
        return cond is None or (cond[0] in values and _index(cond[1], values[cond[0]]) is not None)

    def _ordered(self, values: Mapping[str, Any]) -> Sample:
        return {n: values[n] for n in self.params if n in values}

    def sample(self, rng: np.random.Generator, max_tries: int = 1000) -> Sample:
        """A random feasible sample; ConfigError if the constraints reject ``max_tries`` samples in a row."""
        for _ in range(max_tries):
            values: Sample = {}
            for name in self._order:
                if self._active(name, values):
                    values[name] = self.params[name].sample(rng)
            out = self._ordered(values)
            if self.is_feasible(out)[0]:
                return out
        raise ConfigError(f"constraints rejected {max_tries} random samples in a row; "
                          f"last: {self.is_feasible(out)[1]}")

    def encode(self, sample: Mapping[str, Any]) -> np.ndarray:
        """Sample -> vector in [0, 1]^dim; absent (inactive) parameters encode as 0.5; extra keys are ignored."""
        x = np.full(self.dim, 0.5)
        for i, (name, p) in enumerate(self.params.items()):
            if name in sample:
                try:
                    x[i] = p.encode(sample[name])
                except ConfigError as err:
                    raise ConfigError(f"key '{name}': {err}") from None
        return x

    def decode(self, x: Sequence[float] | np.ndarray) -> Sample:
        """Vector (clipped to [0, 1]) -> valid sample: values snapped, inactive parameters dropped."""
        x = np.asarray(x, dtype=float).ravel()
        if x.shape != (self.dim,):
            raise ConfigError(f"decode needs a vector of length {self.dim}, got shape {x.shape}")
        index = {n: i for i, n in enumerate(self.params)}
        values: Sample = {}
        for name in self._order:
            if self._active(name, values):
                values[name] = self.params[name].decode(min(max(float(x[index[name]]), 0.0), 1.0))
        return self._ordered(values)

    def prune(self, values: Mapping[str, Any]) -> Sample:
        """Keep only the values of active parameters (e.g. from a sampler that proposes every parameter)."""
        out: Sample = {}
        for name in self._order:
            if name in values and self._active(name, out):
                out[name] = _native(values[name])
        return self._ordered(out)

    def validate(self, sample: Mapping[str, Any]) -> None:
        """Raise a one-line ConfigError naming the first bad key (unknown, missing, inactive or invalid)."""
        if not isinstance(sample, Mapping):
            raise ConfigError(f"a sample must be a mapping, got {type(sample).__name__}")
        for key in sample:
            if key not in self.params:
                raise ConfigError(f"unknown search-space key '{key}'; known: {', '.join(self.params)}")
        for name in self._order:
            p, active = self.params[name], self._active(name, sample)
            if active and name not in sample:
                raise ConfigError(f"sample is missing key '{name}'")
            if not active and name in sample:
                parent, allowed = p.condition  # type: ignore[misc]
                raise ConfigError(f"key '{name}' is inactive ('{parent}' is not in {list(allowed)})")
            if active and (why := p.check(sample[name])) is not None:
                raise ConfigError(f"key '{name}': {why}")

    def is_feasible(self, sample: Mapping[str, Any]) -> tuple[bool, str]:
        """(True, "") if every applicable constraint holds, else (False, the first failing one's message)."""
        for c in self.constraints:
            if not c.applies(sample):
                continue
            try:
                ok = c(sample)
            except (ArithmeticError, ValueError, TypeError, KeyError) as err:
                return False, f"{c.message} (could not be evaluated: {err})"
            if not ok:
                return False, c.message
        return True, ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SearchSpace":
        """Build from the YAML form: ``{"params": {...}, "constraints": [...]}`` or a bare params mapping."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a search space must be a mapping, got {type(d).__name__}")
        structured = "params" in d and set(d) <= {"params", "constraints"} and isinstance(d["params"], Mapping) \
            and not any(k in PARAM_TYPES for k in d["params"])
        params = d["params"] if structured else d
        raw = d.get("constraints", []) if structured else []
        if not isinstance(raw, (list, tuple)):
            raise ConfigError("search-space 'constraints' must be a list of {expr: ..., message: ...}")
        constraints = []
        for c in raw:
            c = {"expr": c} if isinstance(c, str) else c
            if not isinstance(c, Mapping) or "expr" not in c or set(c) - {"expr", "message"}:
                raise ConfigError(f"constraint {c!r}: expected {{expr: ..., message: ...}}")
            constraints.append(Constraint.expr(c["expr"], c.get("message")))
        return cls({str(k): param_from_dict(str(k), v) for k, v in params.items()}, constraints)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form (expression constraints only; Python callables raise ConfigError)."""
        out: dict[str, Any] = {"params": {n: p.to_dict() for n, p in self.params.items()}}
        if self.constraints:
            out["constraints"] = [c.to_dict() for c in self.constraints]
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self.params == other.params and [repr(c) for c in self.constraints] == \
            [repr(c) for c in other.constraints]

    def __repr__(self) -> str:
        return f"SearchSpace({len(self.params)} params, {len(self.constraints)} constraints)"
