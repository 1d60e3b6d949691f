"""Multi-objective TPE (optuna's ``TPESampler``) on an in-memory optuna study, through optuna's ask/tell.

Defaults: optuna's own (univariate TPE), but 20 random start-up trials. Multivariate TPE is ~3x faster on
three objectives but collapsed onto the f1 = 0 corner of ZDT2 in our conformance runs (HV ratio ~0.16 vs ~0.8).

Choice -> CategoricalDistribution, Int -> IntDistribution (step, log), Float -> FloatDistribution (log).
Conditional parameters: optuna is asked for every parameter with fixed distributions and the inactive ones are
dropped from the sample (optuna still records them, which TPE tolerates).

Constraints: samples that the space's constraints reject are told to optuna at once as PRUNED with a
positive constraint value (``Trial.set_constraint``), which puts them in TPE's "bad" group, and optuna is
asked again; after 5 rejections in a row a random feasible sample is enqueued (``study.enqueue_trial``). Told
trials are matched to optuna's running trials by their sample; INFEASIBLE ones are told like rejected
proposals, FAILED ones as FAIL, PRUNED ones as PRUNED; unknown complete trials (warm starts) are added with
``study.add_trial``.

Duplicates: optuna's TPE proposes the per-parameter favourites almost deterministically, so on discrete spaces
it repeats designs. The base class (``Strategy.ask``) drops such proposals, which are told to optuna as FAIL
(ignored by TPE), and hands out a substitute (a mutation of the repeated design) that is enqueued in optuna
(``study.enqueue_trial``), so optuna's trials are exactly the samples handed out.

State: optuna's in-memory study is not JSON-able, so the state is the ask/tell log (``ReplayStrategy``);
loading replays it on a fresh study whose sampler has the same seed (TPE is deterministic given its seed).
"""
from __future__ import annotations

import contextlib
import warnings
from collections import defaultdict
from typing import Any, Iterator, Sequence

from imcnas.search.strategies.base import ReplayStrategy, sample_key
from imcnas.search.trial import Sample, Trial, TrialState
from imcnas.space.params import Choice, Float, Int, Param

_REJECT_TRIES = 5


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence optuna's INFO logs and experimental warnings for the duration, restoring the user's settings."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


def distribution(p: Param) -> Any:
    """The optuna distribution of a parameter."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(p, Choice):
        return CategoricalDistribution(p.values)
    if isinstance(p, Int):
        return IntDistribution(p.low, p.low + (p.n - 1) * p.step, log=p.log, step=p.step)
    assert isinstance(p, Float)
    return FloatDistribution(p.low, p.high, log=p.log)


class TPEStrategy(ReplayStrategy):
    """optuna's TPESampler (multi-objective when there are several objectives)."""

    name = "tpe"
    propose_rounds = 1  # a repeated proposal is TPE's favourite, which asking again mostly repeats

    def __init__(self, *, n_startup_trials: int = 20, n_ei_candidates: int = 24, multivariate: bool = False,
                 constant_liar: bool = True) -> None:
        super().__init__()
        self.n_startup_trials, self.n_ei_candidates = int(n_startup_trials), int(n_ei_candidates)
        self.multivariate, self.constant_liar = bool(multivariate), bool(constant_liar)

    def _reset(self) -> None:
        import optuna

        self._dists = {n: distribution(p) for n, p in self.space.params.items()}
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.n_startup_trials,
                                             n_ei_candidates=self.n_ei_candidates, multivariate=self.multivariate,
                                             constant_liar=self.constant_liar)
        with _quiet():
            self._study = optuna.create_study(directions=["minimize"] * len(self.objectives), sampler=sampler)
        self._running: dict[str, list[Any]] = defaultdict(list)

    def _ask(self, n: int) -> list[Sample]:

        out: list[Sample] = []
        with _quiet():
            for _ in range(n):
                for _ in range(_REJECT_TRIES):
                    trial = self._study.ask(self._dists)
                    sample = self.space.prune(trial.params)
                    if self.space.is_feasible(sample)[0]:
                        break
                    self._reject(trial)
                else:
                    self._study.enqueue_trial(self._random_params())
                    trial = self._study.ask(self._dists)
                    sample = self.space.prune(trial.params)
                self._running[sample_key(sample)].append(trial)
                out.append(sample)
        return out

    def _discard(self, sample: Sample) -> None:
        """A proposal that repeats a known design: told to optuna as FAIL (which TPE ignores)."""
        import optuna

        trial = self._running[sample_key(sample)].pop()
        with _quiet():
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _adopt(self, sample: Sample) -> None:
        """A substitute handed out instead: enqueued, so that optuna runs (and later learns from) it."""
        params = {n: sample[n] if n in sample else p.sample(self.rng) for n, p in self.space.params.items()}
        with _quiet():
            self._study.enqueue_trial(params)
            trial = self._study.ask(self._dists)
        self._running[sample_key(sample)].append(trial)

    def _reject(self, trial: Any) -> None:
        import optuna

        trial.set_constraint("imcnas.space", 1.0)
        self._study.tell(trial, state=optuna.trial.TrialState.PRUNED)

    def _random_params(self) -> dict[str, Any]:
        """A random feasible sample, with random values for its inactive parameters too (optuna wants all)."""
        sample = self.space.sample(self.rng)
        return {n: sample[n] if n in sample else p.sample(self.rng) for n, p in self.space.params.items()}

    def _tell(self, trials: Sequence[Trial]) -> None:
        import optuna

        with _quiet():
            for t in trials:
                f = t.minimised(self.objectives)
                waiting = self._running.get(sample_key(t.sample))
                if waiting:
                    trial = waiting.pop(0)
                    if f is not None:
                        self._study.tell(trial, f)
                    elif t.state is TrialState.INFEASIBLE:
                        self._reject(trial)
                    else:
                        state = "PRUNED" if t.state is TrialState.PRUNED else "FAIL"
                        self._study.tell(trial, state=getattr(optuna.trial.TrialState, state))
                elif f is not None:
                    dists = {k: self._dists[k] for k in t.sample if k in self._dists}
                    self._study.add_trial(optuna.trial.create_trial(params=dict(t.sample), distributions=dists,
                                                                    values=f))
