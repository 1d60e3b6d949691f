"""A search space: named parameters (see :mod:`imcnas.space.params`), conditions between them and constraints;
sampling, encoding to [0, 1]^dim for strategies, decoding, validation and the YAML form (``from_dict``)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.space.constraints import Constraint
from imcnas.space.params import PARAM_TYPES, Param, Sample, _index, _native, param_from_dict


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
        constraints = parse_constraints(d.get("constraints", []) if structured else [])
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


def parse_constraints(raw: Any) -> list[Constraint]:
    """Expression constraints from their YAML form (a list of ``{expr, message}`` or bare strings)."""
    if not isinstance(raw, (list, tuple)):
        raise ConfigError("search-space 'constraints' must be a list of {expr: ..., message: ...}")
    out = []
    for c in raw:
        c = {"expr": c} if isinstance(c, str) else c
        if not isinstance(c, Mapping) or "expr" not in c or set(c) - {"expr", "message"}:
            raise ConfigError(f"constraint {c!r}: expected {{expr: ..., message: ...}}")
        out.append(Constraint.expr(c["expr"], c.get("message")))
    return out
