"""The experiment config: loading, one-line errors that name the YAML path, --set overrides, known names."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from imcnas.config import ExperimentConfig, config_from_dict, load_config
from imcnas.errors import ConfigError, ImcnasError
from imcnas.search.strategies import list_strategies
from imcnas.space.families import list_families

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


def error_of(data: object, origin: str = "exp.yaml") -> str:
    """The one-line message of the ConfigError that ``data`` raises."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, origin)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{origin}: "), msg
    return msg


# ------------------------------------------------------------------------------------------------ valid configs
def test_quickstart_loads() -> None:
    cfg = load_config(QUICKSTART)
    assert cfg.name == "quickstart" and cfg.data.dataset == "digits" and cfg.model.family == "cnn"
    assert cfg.constraints == ["area_mm2 <= 1.0"]
    assert cfg.strategy.name == "surrogate" and cfg.strategy.options == {"n_initial": 8}
    assert cfg.budget.trials == 24 and cfg.budget.batch == 8
    assert cfg.training.epochs == 4 and cfg.training.hwa
    form = cfg.formulation_obj()
    assert [m.name for m in form.metrics] == ["accuracy", "energy_pj"]
    assert [str(b) for b in form.bounds] == ["area_mm2 <= 1"]


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    cfg = config_from_dict({})
    assert cfg == ExperimentConfig()
    dumped = load_config(QUICKSTART).model_dump(mode="json")
    path = tmp_path / "again.yaml"
    path.write_text(yaml.safe_dump(dumped, sort_keys=False))
    assert load_config(path).model_dump(mode="json") == dumped


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_an_empty_file_is_an_error_not_a_default_study(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="empty.yaml: the config file is empty"):
        load_config(path)
    # an explicit empty mapping is a deliberate choice of every default
    path.write_text("{}\n")
    assert load_config(path) == ExperimentConfig()


def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\nbudget:\n  trials: 4\n  trials: 8\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: line 4: key 'trials' appears twice.*first on line 3"):
        load_config(path)


@pytest.mark.parametrize("data, message", [
    ({"formulation": {"kind": "scalar"}}, "formulation.weights: kind 'scalar' needs one weight per objective"),
    ({"training": {"epochs": 0}}, "training.epochs: must be at least 1"),
])
def test_settings_that_make_no_sense_for_a_search(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)
    # a proxy-only search trains nothing, so 0 epochs are fine there
    assert config_from_dict({"training": {"epochs": 0}, "fidelity": {"kind": "proxy"}, "objectives": ["proxy",
                             "energy_pj"]}).training.epochs == 0


def test_every_known_strategy_and_family_is_accepted() -> None:
    for name in list_strategies():
        assert config_from_dict({"strategy": {"name": name}}).strategy.name == name
    for family in list_families():
        assert config_from_dict({"model": {"family": family}}).model.family == family


# ---------------------------------------------------------------------------------------------------- overrides
def test_set_overrides() -> None:
    cfg = load_config(QUICKSTART, ["budget.trials=5", "training.epochs=1", "strategy.name=random",
                                   "evaluation.repeats=1", "strategy.options.pop_size=4", "seed=7"])
    assert cfg.budget.trials == 5 and cfg.training.epochs == 1 and cfg.evaluation.repeats == 1
    assert cfg.strategy.name == "random" and cfg.strategy.options == {"n_initial": 8, "pop_size": 4} and cfg.seed == 7
    assert cfg.budget.batch == 8  # untouched fields keep the file's values


def test_bad_overrides_name_the_path() -> None:
    with pytest.raises(ConfigError, match=r"quickstart.yaml: budget.trails: unknown field"):
        load_config(QUICKSTART, ["budget.trails=5"])
    with pytest.raises(ConfigError, match=r"quickstart.yaml: budget.trials: .*integer"):
        load_config(QUICKSTART, ["budget.trials=many"])
    with pytest.raises(ConfigError, match="expected path.to.field=value"):
        load_config(QUICKSTART, ["budget.trials"])


# ------------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("data, needle", [
    ({"budget": {"trails": 3}}, "exp.yaml: budget.trails: unknown field"),
    ({"nmae": "x"}, "exp.yaml: nmae: unknown field"),
    ({"training": {"epoch": 3}}, "exp.yaml: training.epoch: unknown field"),
    ({"fidelity": {"kind": "successive_halving", "etta": 2}}, "exp.yaml: fidelity.etta: unknown field"),
    ({"budget": {"trials": "many"}}, "exp.yaml: budget.trials: Input should be a valid integer"),
    ({"budget": {"trials": 0}}, "exp.yaml: budget.trials: Input should be greater than or equal to 1"),
    ({"budget": {"max_rejected": 0}}, "exp.yaml: budget.max_rejected: Input should be greater than or equal to 1"),
    ({"training": {"lr": "fast"}}, "exp.yaml: training.lr: Input should be a valid number"),
    ({"evaluation": {"repeats": 0}}, "exp.yaml: evaluation.repeats: Input should be greater than or equal to 1"),
    ({"evaluation": {"times": ["1 fortnight"]}}, "exp.yaml: evaluation.times: cannot read time '1 fortnight'"),
    ({"fidelity": {"kind": "cheap"}}, "exp.yaml: fidelity.kind: Input should be 'full', 'proxy' or "
                                      "'successive_halving'"),
    ({"executor": {"kind": "dask"}},
     "exp.yaml: executor.kind: unknown executor 'dask'; known: inprocess, process, ray"),
    ({"formulation": {"kind": "lexicographic"}}, "exp.yaml: formulation.kind: Input should be 'pareto', 'scalar'"),
    ({"space": {"params": [1, 2]}}, "exp.yaml: space.params: Input should be a valid dictionary"),
    ({"hardware_set": "adc.bits=4"}, "exp.yaml: hardware_set: Input should be a valid list"),
    ({"seed": 1.5}, "exp.yaml: seed: Input should be a valid integer"),
    (["a", "b"], "exp.yaml: expected a mapping at the top level"),
])
def test_errors_name_the_yaml_path(data: object, needle: str) -> None:
    assert needle in error_of(data)


def test_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("budget:\n  trials: 4\n  trails: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: budget\.trails: unknown field$"):
        load_config(path)
    path.write_text("budget: {trials: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: cannot read YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"missing\.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_unknown_strategy_lists_the_known_ones() -> None:
    msg = error_of({"strategy": {"name": "nsga3"}})
    assert "strategy.name: unknown strategy 'nsga3'; known: " + ", ".join(list_strategies()) in msg


def test_unknown_family_lists_the_known_ones() -> None:
    msg = error_of({"model": {"family": "vit"}})
    assert "model.family: unknown architecture family 'vit'; known: " + ", ".join(list_families()) in msg


def test_unknown_objective_lists_the_known_ones() -> None:
    msg = error_of({"objectives": ["accuracy", "energy_pjj"]})
    assert "objectives[1]: unknown objective 'energy_pjj'; known: " in msg
    for known in ("accuracy", "energy_pj", "area_mm2", "latency_ns", "proxy"):
        assert known in msg


def test_objective_and_constraint_errors() -> None:
    assert "objectives[0].tim: unknown field; known: k_sigma, minimize, name, time" in \
        error_of({"objectives": [{"name": "accuracy", "tim": "1d"}]})
    assert "objectives: at least one objective is needed" in error_of({"objectives": []})
    assert "objectives: the same metric appears twice" in error_of({"objectives": ["energy", "energy_pj"]})
    assert "constraints[0]: unknown constraint metric 'arae_mm2'; known: area_mm2" in \
        error_of({"constraints": ["arae_mm2 <= 40"]})
    # hard constraints are checked with the cost model before training, so accuracy cannot be one
    assert "constraints[0]: 'accuracy' is known only after training" in error_of({"constraints": ["accuracy >= 90"]})
    assert "constraints[1]: cannot read 'area_mm2 = 4'" in error_of({"constraints": ["area_mm2 <= 40",
                                                                                   "area_mm2 = 4"]})


def test_formulation_errors() -> None:
    assert "formulation.weights/scales: one per objective" in error_of({"formulation": {"kind": "scalar",
                                                                                       "weights": [1.0]}})
    assert "formulation.target: mnas needs a positive target" in error_of({"formulation": {"kind": "mnas"}})
    assert "formulation mnas: objectives must be [accuracy, one cost metric]" in \
        error_of({"objectives": ["energy_pj", "area_mm2"], "formulation": {"kind": "mnas", "target": 1.0}})
    cfg = config_from_dict({"formulation": {"kind": "scalar", "weights": [1.0, 0.5], "scales": [100, 1e6]}})
    assert cfg.formulation_obj().objectives()[0].name == "score"


def test_config_errors_are_user_errors() -> None:
    with pytest.raises(ImcnasError) as info:
        config_from_dict({"budget": {"trails": 3}})
    assert info.value.exit_code == 2


# ------------------------------------------------------------------------------- errors found at Study creation
def test_space_and_fidelity_errors_surface_when_the_study_is_built(tmp_path: Path) -> None:
    """What needs the dataset or the family's space is checked when the study is built, before anything is
    written to the output folder."""
    from imcnas.search.study import Study

    tiny = {"space": {"family_defaults": False, "params": {"arch.width": {"choise": [4, 8]}}},
            "strategy": {"name": "random"}}
    with pytest.raises(ConfigError, match="arch.width"):
        Study(config_from_dict(tiny), tmp_path / "a")
    tiny["space"]["params"] = {"width": {"choice": [4, 8]}}
    with pytest.raises(ConfigError, match=r"space.params.width: a parameter name must start with one of arch\."):
        Study(config_from_dict(tiny), tmp_path / "b")
    with pytest.raises(ConfigError, match="fidelity.kind: 'proxy' trains nothing"):
        Study(config_from_dict({"fidelity": {"kind": "proxy"}}), tmp_path / "c")
    with pytest.raises(ConfigError, match="strategy 'nsga2': unknown option 'popsize'; known: pop_size"):
        Study(config_from_dict({"strategy": {"name": "nsga2", "options": {"popsize": 4}}}), tmp_path / "d")
    assert not any((tmp_path / d).exists() for d in "abcd")


def test_set_reaches_search_space_keys_that_hold_dots(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("space:\n  params:\n    hw.adc.bits: {int: [3, 8]}\n")
    cfg = load_config(path, ["space.params.hw.adc.bits={int: [4, 6]}", "space.params.bits.weights={choice: [4, 8]}",
                             "budget.trials=5"])
    assert cfg.space.params == {"hw.adc.bits": {"int": [4, 6]}, "bits.weights": {"choice": [4, 8]}}
    assert cfg.budget.trials == 5
