"""Pareto fronts of trials, and the results of a stored study.

Everything here works in *minimisation form*: each objective's value times its sign (+1 minimise, -1
maximise), so "smaller is better" in every column. A point dominates another when it is no worse in every
objective and strictly better in at least one; equal points do not dominate each other, so ties stay on the
front together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.objectives import Metric, metric
from imcnas.search.trial import Objective, Trial, TrialState, sample_key

MetricLike = Union[Metric, Objective, str, Mapping[str, Any]]

__all__ = ["MetricLike", "StudyResults", "as_matrix", "front_trials", "load_results", "metric_key", "minimize_of",
           "nondominated", "resolve_metrics"]


# ------------------------------------------------------------------------------------------ metrics
def resolve_metrics(metrics: Sequence[MetricLike]) -> list[Metric]:
    """Metrics from Metric/Objective records, names (``"energy"``) or config mappings, in order."""
    out: list[Metric] = []
    for i, m in enumerate(metrics):
        if isinstance(m, Metric):
            out.append(m)
        elif isinstance(m, Objective):
            out.append(Metric(m.name, m.minimize))
        else:
            out.append(metric(m, f"objectives[{i}]"))
    return out


def metric_key(m: Metric) -> str:
    """The key of a metric in ``Trial.values``."""
    return m.key


def minimize_of(metrics: Sequence[MetricLike]) -> np.ndarray:
    """Direction signs of the metrics: +1 for minimise, -1 for maximise."""
    return np.array([1.0 if m.minimize else -1.0 for m in resolve_metrics(metrics)])


# ------------------------------------------------------------------------------------------ fronts
def nondominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (n x m, minimisation form).

    Exact: rows are visited in lexicographic order, in which a dominating row always comes before the rows
    it dominates, and each is compared with the front found so far (O(n x front size)). Duplicate points are
    all kept; rows with a NaN or infinite value are never on the front (and dominate nothing).
    """
    F = np.asarray(points, dtype=float)
    if F.ndim == 1:
        F = F[:, None]
    if F.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n x m), got shape {F.shape}")
    mask = np.zeros(len(F), dtype=bool)
    idx = np.flatnonzero(np.isfinite(F).all(axis=1))
    if idx.size == 0:
        return mask
    G = F[idx]
    front = np.empty_like(G)
    k = 0
    for i in np.lexsort(G.T[::-1]):
        p = G[i]
        if k and bool(((front[:k] <= p).all(axis=1) & (front[:k] < p).any(axis=1)).any()):
            continue
        front[k] = p
        k += 1
        mask[idx[i]] = True
    return mask


def as_matrix(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> np.ndarray:
    """Objective values of ``trials`` (one row each, in order) in minimisation form; NaN where a value is
    missing. Trial states are not looked at: filter first (see :func:`complete_trials`)."""
    ms = resolve_metrics(metrics)
    out = np.full((len(trials), len(ms)), np.nan)
    for i, t in enumerate(trials):
        for j, m in enumerate(ms):
            v = t.values.get(m.key)
            if v is not None:
                out[i, j] = v if m.minimize else -v
    return out


def complete_trials(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> list[Trial]:
    """COMPLETE trials with a finite value for every metric, in the given order."""
    ms = resolve_metrics(metrics)
    return [t for t in trials if t.state is TrialState.COMPLETE
            and all(math.isfinite(t.values.get(m.key, math.nan)) for m in ms)]


def front_trials(trials: Sequence[Trial], metrics: Sequence[MetricLike]) -> list[Trial]:
    """The non-dominated COMPLETE trials (directions from ``metrics``), in the given order; ties kept. A design
    appears once: duplicate-sample records are left out, and of trials with the same sample (a design evaluated
    again with ``retry_failed`` or by parallel runs) the first one stands for it."""
    seen: set[str] = set()
    unique = []
    for t in trials:
        key = sample_key(t.sample)
        if t.info.get("duplicate_of") is None and not (t.state is TrialState.COMPLETE and key in seen):
            unique.append(t)
            if t.state is TrialState.COMPLETE:
                seen.add(key)
    done = complete_trials(unique, metrics)
    if not done:
        return []
    mask = nondominated(as_matrix(done, metrics))
    return [t for t, on in zip(done, mask) if on]


# ------------------------------------------------------------------------------------------ stored study
@dataclass
class StudyResults:
    """What a study directory holds: its config, the objectives as metrics, and every trial by number."""

    out_dir: Path
    config: dict[str, Any]
    metrics: list[Metric]
    trials: list[Trial]
    weights_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.weights_dir = self.out_dir / "weights"

    @property
    def complete(self) -> list[Trial]:
        """COMPLETE trials with every objective value."""
        return complete_trials(self.trials, self.metrics)

    @property
    def front(self) -> list[Trial]:
        """The Pareto-optimal trials."""
        return front_trials(self.trials, self.metrics)

    def trial(self, number: int) -> Trial:
        """The trial with this number (ConfigError when there is none)."""
        for t in self.trials:
            if t.number == number:
                return t
        raise ConfigError(f"{self.out_dir}: no trial {number} in the study (trials "
                          f"{self.trials[0].number}..{self.trials[-1].number})" if self.trials else
                          f"{self.out_dir}: no trial {number}: the study has no trials")

    def counts(self) -> dict[str, int]:
        """Number of trials per state (every state listed, zeros included)."""
        out = {s.value: 0 for s in TrialState}
        for t in self.trials:
            out[t.state.value] += 1
        return out


def _study_metrics(config: Mapping[str, Any], names: Sequence[str], directions: Sequence[Any]) -> list[Metric]:
    specs = config.get("objectives")
    if specs:
        if isinstance(specs, (str, Mapping)):
            specs = [specs]
        return resolve_metrics(list(specs))
    # no objectives in the config: the names and directions optuna stores
    out = []
    for name, d in zip(names, directions):
        out.append(Metric(name, minimize="MINIMIZE" in str(d).upper()))
    return out


def load_results(out_dir: str | Path, url: str | None = None) -> StudyResults:
    """Open the study in ``out_dir`` (``out_dir/study.db``, or ``url``) read-only and load its trials.

    A missing directory, database or study is a one-line ConfigError; so is a study without trials.
    """
    from imcnas.search.storage import DB_FILE, StudyStorage, storage_url  # optuna only when a study is read

    out = Path(out_dir)
    missing = ConfigError(f"{out}: no study found (expected {out / DB_FILE})")
    if url is None and not (out / DB_FILE).is_file():
        raise missing  # before opening: sqlite would create an empty file
    store = StudyStorage(storage_url(out, url))
    if not store.exists():
        raise missing
    store.open()
    trials = store.trials()
    if not trials:
        raise ConfigError(f"{out}: the study has no finished trials yet")
    config = store.config
    metrics = _study_metrics(config, store.objective_names, store.study.directions)
    return StudyResults(out, config, metrics, trials)
