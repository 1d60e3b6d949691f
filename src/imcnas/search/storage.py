"""Persistent studies through optuna's storage: a SQLite file by default, any SQLAlchemy URL (PostgreSQL, ...)
otherwise, so a study opens in optuna-dashboard.

Every finished trial is one optuna trial: its objective values (COMPLETE), FAIL (evaluation failed) or PRUNED
(rejected by a constraint, or stopped at a low fidelity), its active parameters with their distributions, and
the full imcnas record (sample, values, state, info) as the JSON user attribute ``imcnas``. The experiment
config and the strategy's state snapshot are study user attributes. Only the study process writes.
"""
from __future__ import annotations

import logging
import math
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Sequence

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState as OptunaState

from imcnas.errors import ConfigError
from imcnas.search.trial import Objective, Trial, TrialState
from imcnas.space.params import Choice, Float, Int
from imcnas.space.searchspace import SearchSpace

DB_FILE = "study.db"
STUDY_NAME = "imcnas"
_STATE = {TrialState.COMPLETE: OptunaState.COMPLETE, TrialState.FAILED: OptunaState.FAIL,
          TrialState.INFEASIBLE: OptunaState.PRUNED, TrialState.PRUNED: OptunaState.PRUNED}

optuna.logging.set_verbosity(optuna.logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)


def storage_url(out_dir: str | Path, url: str | None = None) -> str:
    """The SQLAlchemy URL of a study: ``url`` when given, else the SQLite file in ``out_dir``."""
    if url:
        return url
    return f"sqlite:///{(Path(out_dir) / DB_FILE).resolve()}"


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """optuna distributions of the space's parameters (for the dashboard's parameter views)."""
    out: dict[str, BaseDistribution] = {}
    for name in space.names:
        p = space.params[name]
        if isinstance(p, Choice):
            out[name] = CategoricalDistribution(list(p.values))
        elif isinstance(p, Int):
            out[name] = IntDistribution(int(p.low), int(p.high), log=bool(p.log), step=1 if p.log else int(p.step))
        elif isinstance(p, Float):
            out[name] = FloatDistribution(float(p.low), float(p.high), log=bool(p.log))
    return out


def _json(value: Any) -> Any:
    """JSON-safe copy, value by value: non-finite floats become the strings "nan", "inf", "-inf", mapping keys
    become strings, numpy scalars and arrays become numbers and lists, anything else its ``str``. Text that
    merely contains "NaN" is left alone (optuna stores attributes as JSON)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(tolist):
        try:
            return _json(tolist())
        except Exception:  # noqa: BLE001 - fall back to the text form
            pass
    if isinstance(value, Enum):
        return _json(value.value)
    return str(value)


class StudyStorage:
    """One study in an optuna storage."""

    def __init__(self, url: str, name: str = STUDY_NAME) -> None:
        self.url, self.name = url, name
        try:
            self._storage = optuna.storages.RDBStorage(url)
        except Exception as err:  # noqa: BLE001 - any driver/URL problem is a user error here
            raise ConfigError(f"storage '{url}': cannot open: {str(err).splitlines()[0]}") from None
        self._study: optuna.Study | None = None

    # ------------------------------------------------------------------------------------------- study
    def exists(self) -> bool:
        """True when the study is already in the storage."""
        return self.name in {s.study_name for s in optuna.get_all_study_summaries(self._storage)}

    def create(self, objectives: Sequence[Objective], config: Mapping[str, Any]) -> None:
        """Create the study (it must not exist yet) and store the experiment config."""
        directions = ["minimize" if o.minimize else "maximize" for o in objectives]
        self._study = optuna.create_study(storage=self._storage, study_name=self.name, directions=directions)
        self._study.set_user_attr("imcnas.config", _json(dict(config)))
        self._study.set_user_attr("imcnas.objectives", [o.name for o in objectives])

    def open(self) -> None:
        """Open an existing study."""
        if not self.exists():
            raise ConfigError(f"storage '{self.url}': no study '{self.name}' to resume or report")
        self._study = optuna.load_study(study_name=self.name, storage=self._storage)

    @property
    def study(self) -> optuna.Study:
        """The underlying optuna study."""
        if self._study is None:
            self.open()
        assert self._study is not None
        return self._study

    @property
    def config(self) -> dict[str, Any]:
        """The experiment config stored at creation."""
        return dict(self.study.user_attrs.get("imcnas.config", {}))

    @property
    def objective_names(self) -> list[str]:
        """Names of the objectives optuna stores values for, in order."""
        return list(self.study.user_attrs.get("imcnas.objectives", []))

    # ----------------------------------------------------------------------------------------- records
    def save(self, trial: Trial, space: SearchSpace) -> None:
        """Persist one finished trial."""
        names = self.objective_names
        state = _STATE.get(trial.state)
        if state is None:
            raise ValueError(f"cannot store a {trial.state.value} trial")
        values = None
        if state is OptunaState.COMPLETE:
            values = [trial.values.get(n, float("nan")) for n in names]
            if not all(isinstance(v, float) and math.isfinite(v) for v in values):
                state, values = OptunaState.FAIL, None
        dists = distributions(space)
        params = {k: v for k, v in trial.sample.items() if k in dists}
        record = {**trial.to_dict(), "info": _json(dict(trial.info))}
        frozen = optuna.trial.create_trial(state=state, values=values, params=params,
                                           distributions={k: dists[k] for k in params},
                                           user_attrs={"imcnas": _json(record)})
        self.study.add_trial(frozen)

    def trials(self) -> list[Trial]:
        """Every stored imcnas trial, in trial-number order. A number stored twice (a trial interrupted by
        Ctrl-C, then evaluated on resume) is the later record."""
        out: dict[int, Trial] = {}
        for t in self.study.get_trials(deepcopy=False):
            rec = t.user_attrs.get("imcnas")
            if rec:
                trial = Trial.from_dict(rec)
                out[trial.number] = trial
        return [out[n] for n in sorted(out)]

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Replace the stored experiment config (a study extended with a larger budget)."""
        self.study.set_user_attr("imcnas.config", _json(dict(config)))

    def save_state(self, state: Mapping[str, Any]) -> None:
        """Snapshot of the study loop and the strategy (JSON), written after each tell."""
        self.study.set_user_attr("imcnas.state", _json(dict(state)))

    def load_state(self) -> dict[str, Any] | None:
        """The latest snapshot, or None."""
        s = self.study.user_attrs.get("imcnas.state")
        return dict(s) if s else None
