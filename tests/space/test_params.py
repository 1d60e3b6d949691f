"""Search-space parameters: sampling, encoding, conditions, YAML round trip, constraints, errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from imcnas.errors import ConfigError
from imcnas.space import Choice, Constraint, Float, Int, SearchSpace

SPACE_DICT = {
    "xbar.rows": {"choice": [64, 128, 256]},
    "lr": {"float": [1e-4, 1e-1], "log": True},
    "depth": {"int": [1, 4]},
    "width": {"int": [8, 64], "step": 8, "when": {"depth": [2, 3, 4]}},
    "channels": {"int": [4, 512], "log": True},
    "act": {"choice": ["relu", "gelu"]},
    "gelu.approx": {"choice": [True, False], "when": {"act": "gelu"}},
    "adc.bits": {"int": [4, 10]},
}


@pytest.fixture()
def space() -> SearchSpace:
    return SearchSpace.from_dict({"params": SPACE_DICT,
                                  "constraints": [{"expr": "adc.bits >= log2(xbar.rows)"}]})


def test_samples_respect_ranges_steps_and_conditions(space: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(500)]
    for s in samples:
        space.validate(s)
        assert json.loads(json.dumps(s)) == s
        assert all(type(v) in (int, float, str, bool) for v in s.values())
        assert ("width" in s) == (s["depth"] >= 2)
        assert ("gelu.approx" in s) == (s["act"] == "gelu")
        assert s["width"] % 8 == 0 if "width" in s else True
        assert s["adc.bits"] >= math.log2(s["xbar.rows"])
    lrs = np.array([s["lr"] for s in samples])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    assert 0.25 < np.mean(lrs < 10 ** -2.5) < 0.75  # log-uniform: half the mass below the geometric middle
    ch = np.array([s["channels"] for s in samples])
    assert np.mean(ch < 45) > 0.35  # log-uniform ints: 4..45 is half the log range
    assert set(s["depth"] for s in samples) == {1, 2, 3, 4}
    assert list(samples[0]) == [k for k in SPACE_DICT if k in samples[0]]  # flat, in declaration order


def test_same_seed_same_samples(space: SearchSpace) -> None:
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


def test_encode_decode_round_trip(space: SearchSpace) -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        s = space.sample(rng)
        x = space.encode(s)
        assert x.shape == (space.dim,) and ((0 <= x) & (x <= 1)).all()
        back = space.decode(x)
        assert set(back) == set(s)
        for k, v in s.items():
            assert type(back[k]) is type(v)
            assert back[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v)
    assert space.encode({"depth": 1})[space.names.index("width")] == 0.5  # inactive -> 0.5


def test_decode_snaps_any_vector_to_a_valid_sample(space: SearchSpace) -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        s = space.decode(rng.uniform(-0.2, 1.2, space.dim))
        space.validate(s)
    assert space.decode(np.zeros(space.dim))["depth"] == 1
    assert space.decode(np.ones(space.dim))["width"] == 64


def test_yaml_round_trip(space: SearchSpace) -> None:
    text = yaml.safe_dump(space.to_dict(), sort_keys=False)
    again = SearchSpace.from_dict(yaml.safe_load(text))
    assert again == space and again.names == space.names
    assert again.to_dict() == space.to_dict()
    # YAML 1.1 reads 1e-4 as a string: bounds accept numeric strings
    assert SearchSpace.from_dict(yaml.safe_load("lr: {float: [1e-4, 1e-1], log: true}")).params["lr"] == \
        Float(1e-4, 1e-1, log=True)


def test_python_api_equals_yaml_form() -> None:
    api = SearchSpace({"depth": Int(1, 4), "width": Int(8, 64, step=8, condition=("depth", [2, 3, 4])),
                       "xbar.rows": Choice([64, 128, 256])})
    assert api == SearchSpace.from_dict({k: SPACE_DICT[k] for k in ("depth", "width", "xbar.rows")})


@pytest.mark.parametrize("expr, sample, ok", [
    ("adc.bits >= log2(xbar.rows)", {"adc.bits": 8, "xbar.rows": 256}, True),
    ("adc.bits >= log2(xbar.rows)", {"adc.bits": 7, "xbar.rows": 256}, False),
    ("depth * 16 >= width and not act == 'gelu'", {"depth": 2, "width": 32, "act": "relu"}, True),
    ("max(depth, 3) ** 2 - ceil(2.5) == 6 or act in ('gelu',)", {"depth": 1, "act": "relu"}, True),
    ("1 < depth <= 3", {"depth": 4}, False),
    ("width <= 16", {"depth": 1}, True),  # width inactive: the constraint does not apply
    ("adc.bits / (depth - 1) > 1", {"adc.bits": 4, "depth": 1}, False),  # division by zero: infeasible
])
def test_constraint_expressions(expr: str, sample: dict, ok: bool) -> None:
    space = SearchSpace({"adc.bits": Int(4, 10), "xbar.rows": Choice([64, 128, 256]), "depth": Int(1, 4),
                         "width": Int(8, 64, step=8, condition=("depth", [2, 3, 4])),
                         "act": Choice(["relu", "gelu"])}, [Constraint.expr(expr)])
    feasible, message = space.is_feasible(sample)
    assert feasible is ok
    assert (message == "") is ok


def test_python_constraint_and_its_message() -> None:
    c = Constraint(lambda s: s["a"] + s["b"] <= 10, "a + b must not exceed 10")
    space = SearchSpace({"a": Int(0, 10), "b": Int(0, 10)}, [c])
    assert space.is_feasible({"a": 7, "b": 5}) == (False, "a + b must not exceed 10")
    rng = np.random.default_rng(0)
    assert all(sum(space.sample(rng).values()) <= 10 for _ in range(100))
    with pytest.raises(ConfigError, match="Python callable"):
        space.to_dict()


@pytest.mark.parametrize("expr, match", [
    ("__import__('os').system('true')", "unsupported syntax"),
    ("depth.__class__ > 1", "unknown key 'depth.__class__'"),
    ("depth >= ", "invalid syntax"),
    ("[x for x in (1, 2)]", "unsupported syntax"),
    ("lambda: 1", "unsupported syntax"),
    ("nope > 1", "unknown key 'nope'"),
    ("open(depth)", "call to open"),
])
def test_bad_constraint_expression_is_a_one_line_config_error(expr: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        SearchSpace.from_dict({"params": {"depth": {"int": [1, 4]}}, "constraints": [{"expr": expr}]})
    assert "\n" not in str(err.value)


def test_huge_power_is_rejected_not_computed() -> None:
    space = SearchSpace({"d": Int(1, 4)}, [Constraint.expr("10 ** (d * 1000) > 1")])
    assert space.is_feasible({"d": 2})[0] is False


@pytest.mark.parametrize("d, match", [
    ({"depth": {"categorical": [1, 2]}}, "param 'depth': needs exactly one type"),
    ({"depth": {"int": [1, 4], "stepp": 2}}, "param 'depth': unknown field 'stepp'"),
    ({"depth": {"int": [4, 1]}}, "param 'depth'"),
    ({"depth": {"int": [1, "x"]}}, "param 'depth': bound must be a number"),
    ({"lr": {"float": [0, 1], "log": True}}, "param 'lr'"),
    ({"w": {"int": [1, 4], "when": {"nope": [1]}}}, "param 'w': condition names unknown parent 'nope'"),
    ({"a": {"int": [1, 4]}, "w": {"int": [1, 4], "when": {"a": [9]}}}, "condition value 9 is not valid for 'a'"),
    ({"a": {"int": [1, 4], "when": {"b": [1]}}, "b": {"int": [1, 4], "when": {"a": [1]}}}, "cycle"),
    ({"c": {"choice": []}}, "param 'c'"),
    ({"c": 3}, "param 'c': expected a mapping"),
])
def test_bad_param_is_a_one_line_error_naming_the_key(d: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        SearchSpace.from_dict(d)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("sample, match", [
    ({"depth": 2, "width": 8, "xbar.rows": 64, "bogus": 1}, "unknown search-space key 'bogus'"),
    ({"depth": 2, "xbar.rows": 64}, "missing key 'width'"),
    ({"depth": 1, "width": 8, "xbar.rows": 64}, "key 'width' is inactive"),
    ({"depth": 2, "width": 12, "xbar.rows": 64}, "key 'width': 12 is not in"),
    ({"depth": 2, "width": 8, "xbar.rows": 100}, "key 'xbar.rows': 100 is not one of"),
    ({"depth": 2.5, "width": 8, "xbar.rows": 64}, "key 'depth': 2.5 is not an integer"),
])
def test_validate_names_the_bad_key(sample: dict, match: str) -> None:
    space = SearchSpace({"depth": Int(1, 4), "width": Int(8, 64, step=8, condition=("depth", [2, 3, 4])),
                         "xbar.rows": Choice([64, 128, 256])})
    with pytest.raises(ConfigError, match=match):
        space.validate(sample)


def test_choice_does_not_confuse_bool_int_and_str() -> None:
    c = Choice([1, True, "1"])
    assert [c.encode(v) for v in (1, True, "1")] == [0.5 / 3, 1.5 / 3, 2.5 / 3]
    assert c.check(1.5) is not None


def test_unsatisfiable_constraints_fail_clearly() -> None:
    space = SearchSpace({"a": Int(0, 3)}, [Constraint.expr("a > 5")])
    with pytest.raises(ConfigError, match="constraints rejected 50 random samples"):
        space.sample(np.random.default_rng(0), max_tries=50)


def test_grids_and_prune() -> None:
    assert Float(0.0, 1.0).grid(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert Int(1, 4).grid(16) == [1, 2, 3, 4]
    g = Float(1e-4, 1e-1, log=True).grid(4)
    assert g[0] == 1e-4 and g[-1] == 1e-1 and g[1] == pytest.approx(1e-3)
    space = SearchSpace({"depth": Int(1, 4), "width": Int(8, 64, step=8, condition=("depth", [2, 3, 4]))})
    assert space.prune({"depth": 1, "width": 16}) == {"depth": 1}
    assert space.prune({"depth": 3, "width": 16}) == {"depth": 3, "width": 16}
