"""Objectives, hard constraints and formulations."""
from __future__ import annotations

import math

import pytest

from imcnas.errors import ConfigError, UnknownNameError
from imcnas.search.objectives import bound, formulation, metric, parse_time


def test_time_parsing() -> None:
    assert parse_time("1d") == 86400.0
    assert parse_time("30 days") == 30 * 86400.0
    assert parse_time("1h") == 3600.0
    assert parse_time(60) == 60.0
    with pytest.raises(ConfigError, match="cannot read time"):
        parse_time("soon")


def test_metric_directions_and_aliases() -> None:
    assert metric("energy").key == "energy_pj" and metric("energy").minimize
    acc = metric({"name": "accuracy", "time": "30d", "k_sigma": 1})
    assert not acc.minimize and acc.time_s == 30 * 86400 and acc.k_sigma == 1 and not acc.cheap
    assert metric("area_mm2").cheap
    with pytest.raises(UnknownNameError, match="unknown objective 'speed'.*energy_pj"):
        metric("speed")
    with pytest.raises(ConfigError, match="objectives.colour: unknown field"):
        metric({"name": "accuracy", "colour": 1})


def test_bounds_parse_and_check() -> None:
    b = bound("area_mm2 <= 40")
    assert b.ok({"area_mm2": 39.0}) and not b.ok({"area_mm2": 41.0}) and not b.ok({})
    assert b.violation({"area_mm2": 50.0}) == pytest.approx(0.25)
    assert bound("latency <= 1e6").metric == "latency_ns"
    with pytest.raises(ConfigError, match="known only after training"):
        bound("accuracy >= 90")
    with pytest.raises(ConfigError, match="expected 'metric <= number'"):
        bound("area is small")


def test_pareto_formulation_and_feasibility() -> None:
    f = formulation([{"name": "accuracy"}, "energy_pj"], ["area_mm2 <= 2", "latency_ns <= 100"])
    assert [o.name for o in f.objectives()] == ["accuracy", "energy_pj"]
    assert [o.minimize for o in f.objectives()] == [False, True]
    ok, why = f.feasible({"area_mm2": 3.0, "latency_ns": 50.0})
    assert not ok and "area_mm2 <= 2" in why and "latency" not in why


def test_scalar_and_mnas_scores() -> None:
    s = formulation(["accuracy", "energy_pj"], kind="scalar", weights=[1.0, 0.5], scales=[1.0, 1e6])
    assert s.objectives()[0].name == "score" and not s.objectives()[0].minimize
    assert s.score({"accuracy": 90.0, "energy_pj": 2e6}) == pytest.approx(90.0 - 1.0)
    m = formulation(["accuracy", "latency_ns"], kind="mnas", target=1000.0)
    assert m.score({"accuracy": 80.0, "latency_ns": 1000.0}) == pytest.approx(80.0)
    assert m.score({"accuracy": 80.0, "latency_ns": 2000.0}) == pytest.approx(80.0 * 2 ** -0.07)
    with pytest.raises(ConfigError, match="mnas needs a positive target"):
        formulation(["accuracy", "latency_ns"], kind="mnas")
    with pytest.raises(UnknownNameError, match="formulation"):
        formulation(["accuracy"], kind="lexicographic")
    assert math.isfinite(s.strategy_values({"accuracy": 1.0, "energy_pj": 1.0})["score"])
