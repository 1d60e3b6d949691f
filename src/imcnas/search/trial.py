"""Immutable trial records and the minimal objective description strategies need."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from imcnas.errors import ConfigError

Sample = dict[str, Any]


def sample_key(sample: Mapping[str, Any]) -> str:
    """The canonical string of a sample, one per design: for duplicate detection and resume matching (the
    study, the strategies and the fronts all use it)."""
    return json.dumps(dict(sample), sort_keys=True, default=str)


class TrialState(str, Enum):
    """Life cycle of a trial. Only COMPLETE trials carry objective values that strategies learn from."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INFEASIBLE = "infeasible"  # rejected by a constraint before (or instead of) evaluation
    PRUNED = "pruned"


@dataclass(frozen=True)
class Objective:
    """One objective: its name (the key in ``Trial.values``) and direction. ``bound`` is for formulations
    (e.g. a hard limit on a cheap objective); strategies ignore it."""

    name: str
    minimize: bool = True
    bound: float | None = None

    def sign(self) -> float:
        """+1 for minimise, -1 for maximise: strategies minimise ``sign * value``."""
        return 1.0 if self.minimize else -1.0


@dataclass(frozen=True)
class Trial:
    """One evaluated (or rejected) sample. ``values`` maps objective names to floats."""

    number: int
    sample: Sample
    values: Mapping[str, float] = field(default_factory=dict)
    state: TrialState = TrialState.COMPLETE
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TrialState(self.state))
        object.__setattr__(self, "values", MappingProxyType({k: float(v) for k, v in dict(self.values).items()}))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    def minimised(self, objectives: Sequence[Objective]) -> list[float] | None:
        """Objective values as a minimisation vector, or None unless COMPLETE with finite values for all."""
        if self.state is not TrialState.COMPLETE:
            return None
        try:
            out = [o.sign() * self.values[o.name] for o in objectives]
        except KeyError:
            return None
        return out if all(math.isfinite(v) for v in out) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form without ``info`` (which strategies do not need)."""
        return {"number": self.number, "sample": dict(self.sample), "values": dict(self.values),
                "state": self.state.value}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Trial":
        try:
            return cls(int(d["number"]), dict(d["sample"]), dict(d.get("values", {})),
                       TrialState(d.get("state", "complete")), dict(d.get("info", {})))
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"bad trial record: {err}") from None
