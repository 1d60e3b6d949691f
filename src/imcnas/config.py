"""The experiment config (one YAML file): data, model family, base hardware, search space, objectives,
constraints, formulation, strategy, budget, training, evaluation, fidelity, executor and storage.

Validation is pydantic with ``extra="forbid"``; every error names its YAML path in one line. The ``plugins:``
list names plug-in modules (:mod:`imcnas.plugins`); they are imported before anything else is validated, so the
converters, devices, families, strategies and executors they register are valid names in the rest of the file,
and imported again in every worker process.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from imcnas.accuracy.train import EvalConfig, TrainConfig
from imcnas.errors import ConfigError, ImcnasError, UnknownNameError
from imcnas.yamlio import load_yaml
from imcnas.search.objectives import Formulation, bound, formulation, metric, parse_time


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DataConfig(_Strict):
    """Which dataset (see ``imcnas.accuracy.data``) and its options."""

    dataset: str = "digits"
    root: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Strict):
    """Which architecture family builds the networks (see ``imcnas.space.families``)."""

    family: str = "cnn"
    ignore_unsupported: bool = Field(False, description="search even when the cost model cannot price some "
                                     "operations of the network (they then cost nothing)")


class SpaceConfig(_Strict):
    """Search-space parameters (``imcnas.space.params`` YAML form) and constraints between them. With
    ``family_defaults`` the family's own architecture space is included; ``params`` add to or override it."""

    family_defaults: bool = True
    params: dict[str, Any] = Field(default_factory=dict)
    constraints: list[Any] = Field(default_factory=list)


class FormulationConfig(_Strict):
    """pareto | scalar (weights, scales) | mnas (target, exponent)."""

    kind: Literal["pareto", "scalar", "mnas"] = "pareto"
    weights: list[float] | None = None
    scales: list[float] | None = None
    target: float | None = None
    exponent: float = -0.07


class StrategyConfig(_Strict):
    """A strategy from ``imcnas.search.strategies`` and its keyword options."""

    name: str = "surrogate"  # see docs/benchmarks.md ("Verdict", conformance); nsga2 before
    options: dict[str, Any] = Field(default_factory=dict)


class BudgetConfig(_Strict):
    """When the search stops: evaluated trials, wall time, or too many rejected samples in a row."""

    trials: int = Field(24, ge=1)
    batch: int = Field(4, ge=1, description="samples asked at once (one generation / one SH bracket)")
    time_s: float | None = Field(None, gt=0)
    max_rejected: int = Field(500, ge=1, description="stop after this many consecutive samples rejected by "
                              "constraints or repeating evaluated designs (nothing new satisfies them)")
    retry_failed: bool = Field(False, description="evaluate a design again when the strategy asks it after its "
                               "evaluation failed (default: it is told the failure again, at no cost)")


class FidelityConfig(_Strict):
    """``full``: every candidate gets the configured training. ``proxy``: a zero-cost proxy only (no
    training; accuracy objectives are then unavailable). ``successive_halving``: proxy for the whole batch,
    ``short_epochs`` training for the best 1/eta, full training for the best 1/eta^2."""

    kind: Literal["full", "proxy", "successive_halving"] = "full"
    proxy: Literal["synflow", "grad_norm", "jacob_cov"] = "synflow"
    short_epochs: int = Field(1, ge=1)
    eta: int = Field(3, ge=2)


class ExecutorConfig(_Strict):
    """Where evaluations run: in this process, a pool of worker processes, or a plug-in executor."""

    kind: str = Field("inprocess", description="a registered executor (imcnas.plugins kind 'executor'): "
                      "inprocess, process, or a plug-in's")
    workers: int = Field(2, ge=1, le=256)
    address: str | None = Field(None, description="ray only: 'auto' (the cluster `ray start` runs here, else a "
                                "local one), 'ray://host:10001' or 'host:6379'; unset: the executor's default")
    resources_per_trial: dict[str, float] | None = Field(None, description="ray only: what each trial reserves, "
                                                         "e.g. {cpu: 1, gpu: 0}; other keys are custom resources")

    @field_validator("resources_per_trial")
    @classmethod
    def _resources(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for k, x in (v or {}).items():
            if not k.strip() or not 0 <= x < float("inf"):
                raise ValueError(f"{k!r}: must be a name and a finite number >= 0, got {x}")
        return v

    trial_timeout_s: float | None = Field(None, gt=0, description="a trial running longer is stopped and "
                                          "recorded FAILED (needs worker processes: kind process)")

    @model_validator(mode="after")
    def _timeout_needs_workers(self) -> "ExecutorConfig":
        if self.trial_timeout_s is not None and self.kind in ("inprocess", "ray"):
            raise ValueError(f"trial_timeout_s needs an executor that can stop a running trial (kind: process); "
                             f"'{self.kind}' cannot")
        return self

    def options(self) -> dict[str, Any]:
        """The executor's constructor options set in the YAML (beyond ``workers``)."""
        return {k: v for k in ("address", "resources_per_trial") if (v := getattr(self, k)) is not None}


class EvaluationConfig(_Strict):
    """Drift times ('1s', '1h', '1d', '30d' or seconds) and Monte-Carlo repeats of the accuracy evaluation."""

    times: list[Any] = Field(default_factory=lambda: ["1d"])
    repeats: int = Field(3, ge=1, le=1000)
    split: Literal["val", "test"] = "val"

    @field_validator("times")
    @classmethod
    def _times(cls, v: list[Any]) -> list[Any]:
        for t in v:
            parse_time(t, "evaluation.times")
        return v

    def eval_config(self, seed: int, device: str) -> EvalConfig:
        """The accuracy module's EvalConfig."""
        return EvalConfig(times_s=[parse_time(t) for t in self.times], repeats=self.repeats, seed=seed,
                          split=self.split, device=device)


class ExperimentConfig(_Strict):
    """A whole co-search experiment."""

    plugins: list[str] = Field(default_factory=list, description="plug-in modules imported before the rest "
                               "of the config is validated, and in every worker process")
    name: str = "experiment"
    seed: int = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    hardware: str = Field("pcm-14nm", description="base chip: preset name or YAML path")
    hardware_set: list[str] = Field(default_factory=list, description="fixed overrides of the base chip")
    space: SpaceConfig = SpaceConfig()
    objectives: list[Any] = Field(default_factory=lambda: [{"name": "accuracy", "time": "1d"}, "energy_pj"])
    constraints: list[str] = Field(default_factory=list)
    formulation: FormulationConfig = FormulationConfig()
    strategy: StrategyConfig = StrategyConfig()
    budget: BudgetConfig = BudgetConfig()
    training: TrainConfig = TrainConfig(epochs=4, hwa=True)
    evaluation: EvaluationConfig = EvaluationConfig()
    fidelity: FidelityConfig = FidelityConfig()
    executor: ExecutorConfig = ExecutorConfig()
    storage: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in the output folder")
    save_weights: bool = True

    def formulation_obj(self) -> Formulation:
        """The checked formulation (objectives, hard constraints, scalarisation)."""
        f = self.formulation
        return formulation(self.objectives, self.constraints, f.kind, f.weights, f.scales, f.target, f.exponent)


def _format(err: ValidationError, origin: str) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(root)"
    msg = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    return f"{origin}: {path}: {msg}"


def config_from_dict(data: dict[str, Any], origin: str = "config") -> ExperimentConfig:
    """Validate a dict; errors are one-line ConfigErrors naming the YAML path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    load_plugins(data.get("plugins"), origin)
    try:
        cfg = ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, origin)) from None
    except ImcnasError as err:  # raised by a field validator (e.g. evaluation.times)
        raise ConfigError(f"{origin}: {err}") from None
    _check_names(cfg, origin)
    _check_values(cfg, origin)
    try:
        cfg.formulation_obj()
    except ImcnasError as err:
        raise ConfigError(f"{origin}: {err}") from None
    return cfg


def load_plugins(modules: Any, origin: str = "config") -> list[str]:
    """Import the ``plugins:`` modules (:func:`imcnas.plugins.load`); a module that cannot be imported is a
    one-line ConfigError naming it."""
    from imcnas import plugins

    if modules is None:
        return []
    if not isinstance(modules, list):
        raise ConfigError(f"{origin}: plugins: a list of module names, got {type(modules).__name__}")
    done = []
    for i, mod in enumerate(modules):
        try:
            done += plugins.load([mod])
        except ImcnasError as err:
            why = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ConfigError(f"{origin}: {why}" if f"'{mod}'" in why else
                              f"{origin}: plugins[{i}]: '{mod}': {why}") from None
        except Exception as err:  # noqa: BLE001 - a broken plug-in module is a user error, not a traceback
            last = (str(err).splitlines() or [""])[0]
            raise ConfigError(f"{origin}: plugins[{i}]: importing '{mod}' failed: {type(err).__name__}: "
                              f"{last}") from None
    return done


def _check_values(cfg: ExperimentConfig, origin: str) -> None:
    """Settings that validate one by one but make no sense for a search."""
    f = cfg.formulation
    if f.kind == "scalar" and not f.weights:
        raise ConfigError(f"{origin}: formulation.weights: kind 'scalar' needs one weight per objective "
                          f"({len(cfg.objectives)} objectives)")
    if cfg.fidelity.kind != "proxy" and cfg.training.epochs < 1:
        raise ConfigError(f"{origin}: training.epochs: must be at least 1 (0 would evaluate untrained networks; "
                          "use fidelity.kind: proxy to rank designs without training)")


def _check_names(cfg: ExperimentConfig, origin: str) -> None:
    """Unknown strategy, family, executor, objective or constraint metric: the YAML path and the known names."""
    from imcnas import plugins
    from imcnas.search.strategies import list_strategies
    from imcnas.space.families import list_families

    checks = [("strategy.name", cfg.strategy.name, "strategy", list_strategies),
              ("model.family", cfg.model.family, "architecture family", list_families),
              ("executor.kind", cfg.executor.kind, "executor", lambda: plugins.names("executor"))]
    for path, name, what, known in checks:
        if name not in known():
            raise ConfigError(f"{origin}: {path}: {UnknownNameError(what, name, known())}")
    for section, items, parse in (("objectives", cfg.objectives, metric), ("constraints", cfg.constraints, bound)):
        for i, item in enumerate(items):
            try:
                parse(item, f"{section}[{i}]")
            except UnknownNameError as err:
                raise ConfigError(f"{origin}: {section}[{i}]: {err}") from None
            except ImcnasError as err:  # already names its path
                raise ConfigError(f"{origin}: {err}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read and validate an experiment YAML file, with optional ``path.to.field=value`` overrides."""
    from imcnas.hardware.spec import apply_overrides, parse_override

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: cannot read: {err}") from None
    data = load_yaml(text, str(p))
    if data is None:
        raise ConfigError(f"{p}: the config file is empty (see examples/quickstart.yaml for a complete one)")
    if overrides:
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected a mapping at the top level")
        data = apply_overrides(data, [o for o in overrides if not o.strip().startswith("space.params.")])
        for text in overrides:  # a search-space key holds dots itself: space.params.hw.adc.bits={int: [3, 8]}
            if text.strip().startswith("space.params."):
                path, value = parse_override(text)
                space = data.setdefault("space", {})
                if not isinstance(space, dict) or not isinstance(space.setdefault("params", {}), dict):
                    raise ConfigError(f"override '{text}': space.params is not a section")
                space["params"][".".join(path[2:])] = value
    return config_from_dict(data, str(p))
