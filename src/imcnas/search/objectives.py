"""Objectives, hard constraints and formulations (Pareto, constrained, scalarised).

An objective is a named metric of a trial and a direction. *Cheap* metrics come from the analytical cost
model and the network's size, so they are known before any training; hard constraints may only use cheap
metrics (Archai's rule), and a sample that violates one is rejected without training. *Expensive* metrics
come from training and the drift-time accuracy simulation.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from imcnas.errors import ConfigError, UnknownNameError
from imcnas.search.trial import Objective

# cost-report totals (imcnas.hardware.report) and network sizes: known before training
CHEAP_METRICS = {
    "energy_pj": True, "latency_ns": True, "period_ns": True, "area_mm2": True, "throughput_ips": False,
    "tops": False, "tops_per_w": False, "tops_per_mm2": False, "edp_pj_ns": True, "edap_pj_ns_mm2": True,
    "tiles": True, "macs": True, "weights": True, "params": True, "crossbars": True,
}  # name -> minimise by default
EXPENSIVE_METRICS = {"accuracy": False, "error": True, "accuracy_lb": False, "digital_accuracy": False,
                     "proxy": False}
ALIASES = {"energy": "energy_pj", "latency": "latency_ns", "area": "area_mm2", "edp": "edp_pj_ns",
           "edap": "edap_pj_ns_mm2"}
TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "day": 86400.0, "days": 86400.0,
              "month": 30 * 86400.0, "y": 365 * 86400.0}


def known_metrics() -> list[str]:
    """Every metric name an objective or constraint may use."""
    return sorted(set(CHEAP_METRICS) | set(EXPENSIVE_METRICS) | set(ALIASES))


def parse_time(value: Any, where: str = "time") -> float:
    """Seconds from a number or a string like ``1d``, ``30 days``, ``1h``, ``60 s``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{where}: time must be >= 0, got {value}")
        return float(value)
    m = re.fullmatch(r"\s*([0-9.]+(?:e[-+]?\d+)?)\s*([a-z]*)\s*", str(value).lower())
    if not m or (m.group(2) and m.group(2) not in TIME_UNITS):
        raise ConfigError(f"{where}: cannot read time '{value}'; use seconds or e.g. 1h, 1d, 30d")
    return float(m.group(1)) * TIME_UNITS.get(m.group(2) or "s", 1.0)


@dataclass(frozen=True)
class Metric:
    """An objective's full description: metric name, direction, and for accuracy the drift time and the
    Monte-Carlo lower bound (mean - k_sigma * std)."""

    name: str
    minimize: bool
    time_s: float = 86400.0
    k_sigma: float = 0.0

    @property
    def cheap(self) -> bool:
        """Known from the cost model and the network alone, before training."""
        return self.name in CHEAP_METRICS

    @property
    def key(self) -> str:
        """The key of this objective in ``Trial.values``."""
        return self.name

    def objective(self) -> Objective:
        """The minimal record strategies use."""
        return Objective(self.key, self.minimize)


def metric(spec: str | Mapping[str, Any], where: str = "objectives") -> Metric:
    """An objective from ``"energy_pj"`` or ``{name: accuracy, time: 1d, k_sigma: 1, minimize: false}``."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"{where}: an objective is a name or a mapping with 'name'")
    extra = set(spec) - {"name", "minimize", "time", "k_sigma"}
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}: unknown field; known: k_sigma, minimize, name, time")
    name = ALIASES.get(str(spec["name"]), str(spec["name"]))
    default = CHEAP_METRICS.get(name, EXPENSIVE_METRICS.get(name))
    if default is None:
        raise UnknownNameError("objective", name, known_metrics())
    minimize = bool(spec.get("minimize", default))
    k = float(spec.get("k_sigma", 0.0))
    return Metric(name, minimize, parse_time(spec.get("time", "1d"), f"{where}.time"), k)


_BOUND = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Bound:
    """A hard constraint on a cheap metric, e.g. ``area_mm2 <= 40``."""

    metric: str
    op: str
    value: float

    def ok(self, values: Mapping[str, float]) -> bool:
        """True when satisfied (a missing or non-finite metric does not satisfy it)."""
        v = values.get(self.metric, float("nan"))
        if not math.isfinite(v):
            return False
        return {"<=": v <= self.value, "<": v < self.value, ">=": v >= self.value, ">": v > self.value}[self.op]

    def violation(self, values: Mapping[str, float]) -> float:
        """How far outside the bound (0 when satisfied), relative to the bound's magnitude."""
        v = values.get(self.metric, float("inf"))
        gap = v - self.value if self.op in ("<=", "<") else self.value - v
        return max(gap, 0.0) / max(abs(self.value), 1e-12)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def bound(text: str, where: str = "constraints") -> Bound:
    """Parse ``"area_mm2 <= 40"``; only cheap metrics may be constrained (checked before training)."""
    m = _BOUND.match(str(text))
    if not m:
        raise ConfigError(f"{where}: cannot read '{text}'; expected 'metric <= number' (or <, >=, >)")
    name = ALIASES.get(m.group(1), m.group(1))
    if name not in CHEAP_METRICS:
        if name in EXPENSIVE_METRICS:
            raise ConfigError(f"{where}: '{name}' is known only after training; hard constraints take cost-model "
                              f"metrics ({', '.join(sorted(CHEAP_METRICS))})")
        raise UnknownNameError("constraint metric", name, sorted(CHEAP_METRICS))
    try:
        value = float(m.group(3))
    except ValueError:
        raise ConfigError(f"{where}: '{m.group(3)}' in '{text}' is not a number") from None
    return Bound(name, m.group(2), value)


@dataclass(frozen=True)
class Formulation:
    """How objectives reach the strategy.

    ``pareto``: every objective, multi-objective. ``scalar``: one score, the weighted sum of objectives each
    divided by its ``scale`` (``sign`` handles maximise). ``mnas``: MnasNet's reward
    ``accuracy * (cost / target) ** w`` with ``w = -0.07`` (soft constraint on one cheap metric).
    Hard ``bounds`` apply in every formulation.
    """

    kind: Literal["pareto", "scalar", "mnas"] = "pareto"
    metrics: tuple[Metric, ...] = ()
    bounds: tuple[Bound, ...] = ()
    weights: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    target: float = 0.0
    exponent: float = -0.07
    extra: dict[str, Any] = field(default_factory=dict)

    def objectives(self) -> list[Objective]:
        """What the strategy optimises."""
        if self.kind == "pareto":
            return [m.objective() for m in self.metrics]
        return [Objective("score", minimize=False)]

    def score(self, values: Mapping[str, float]) -> float:
        """The scalar the strategy sees (scalar and mnas formulations)."""
        if self.kind == "scalar":
            total = 0.0
            for m, w, s in zip(self.metrics, self.weights, self.scales):
                sign = -1.0 if m.minimize else 1.0
                total += w * sign * values[m.key] / s
            return total
        acc, cost = values[self.metrics[0].key], values[self.metrics[1].key]
        return acc * (cost / self.target) ** self.exponent

    def strategy_values(self, values: Mapping[str, float]) -> dict[str, float]:
        """Trial values as the strategy's objectives name them (adds ``score`` when scalarised)."""
        out = dict(values)
        if self.kind != "pareto":
            out["score"] = self.score(values)
        return out

    def feasible(self, cheap: Mapping[str, float]) -> tuple[bool, str]:
        """Check the hard bounds on cheap metrics; the reason names every violated bound."""
        bad = [str(b) for b in self.bounds if not b.ok(cheap)]
        if bad:
            shown = ", ".join(f"{b} (is {cheap.get(b.split()[0], float('nan')):.4g})" for b in bad)
            return False, f"violates {shown}"
        return True, ""


def formulation(objectives: Sequence[Any], constraints: Sequence[str] = (), kind: str = "pareto",
                weights: Sequence[float] | None = None, scales: Sequence[float] | None = None,
                target: float | None = None, exponent: float = -0.07) -> Formulation:
    """Build and check a formulation from config values."""
    metrics = tuple(metric(o, f"objectives[{i}]") for i, o in enumerate(objectives))
    if not metrics:
        raise ConfigError("objectives: at least one objective is needed")
    if len({m.key for m in metrics}) != len(metrics):
        raise ConfigError("objectives: the same metric appears twice")
    bounds = tuple(bound(c, f"constraints[{i}]") for i, c in enumerate(constraints))
    if kind == "pareto":
        return Formulation("pareto", metrics, bounds)
    if kind == "scalar":
        w = tuple(float(x) for x in (weights or [1.0] * len(metrics)))
        s = tuple(float(x) for x in (scales or [1.0] * len(metrics)))
        if len(w) != len(metrics) or len(s) != len(metrics):
            raise ConfigError("formulation.weights/scales: one per objective")
        if any(x <= 0 for x in s):
            raise ConfigError("formulation.scales: must be > 0")
        return Formulation("scalar", metrics, bounds, w, s)
    if kind == "mnas":
        if len(metrics) != 2 or metrics[0].name not in ("accuracy", "accuracy_lb") or not metrics[1].cheap:
            raise ConfigError("formulation mnas: objectives must be [accuracy, one cost metric]")
        if not target or target <= 0:
            raise ConfigError("formulation.target: mnas needs a positive target for the cost metric")
        return Formulation("mnas", metrics, bounds, target=float(target), exponent=float(exponent))
    raise UnknownNameError("formulation", kind, ["mnas", "pareto", "scalar"])
