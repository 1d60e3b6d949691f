"""The search methods of ``imcnas bench`` and one run of a method on a problem.

Methods (``METHODS``):

* imcnas strategies with default options (``random``, ``evolution``, ``nsga2``, ``tpe``, ``surrogate``,
  ``reinforce``), asked in batches of ``BATCH``;
* plain baselines under the same counting: ``pymoo-nsga2`` (``pymoo.optimize.minimize`` with NSGA2: pymoo's
  integer recipe on choice indices for discrete problems, its defaults on the pymoo problem for continuous
  ones) and ``optuna`` (the sampler ``optuna.create_study`` picks when given none, with its defaults and a
  seed, one trial at a time);
* the search schemes of published IMC NAS methods, written as configurations of our strategies (``*-style``;
  the scheme only, not the original code, surrogate model or hyper-parameters).

Counting: an evaluation is a *distinct* design (``problem.key``); a repeated ask is told its stored values
and costs nothing. A run stops at ``budget`` evaluations, after ``max_asks`` samples asked, or after
``PATIENCE`` asks in a row without a new design.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from imcnas.analysis.indicators import extend_front, hypervolume
from imcnas.benchmarks.problems import BenchProblem
from imcnas.errors import UnknownNameError

__all__ = ["BATCH", "METHODS", "Method", "PATIENCE", "Run", "Tracker", "run_method"]

BATCH = 20
PATIENCE = 2000


@dataclass(frozen=True)
class Method:
    """A search method: an imcnas strategy with options, or a plain library baseline (``kind``)."""

    name: str
    label: str
    kind: str = "strategy"  # "strategy" | "pymoo" | "optuna"
    strategy: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    slow: bool = False  # optuna-based: capped at the slow ask limit (TPE's cost grows with the trials squared)
    note: str = ""


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("random", "`random`", strategy="random"),
    Method("evolution", "`evolution`", strategy="evolution"),
    Method("nsga2", "`nsga2`", strategy="nsga2"),
    Method("tpe", "`tpe`", strategy="tpe", slow=True),
    Method("surrogate", "`surrogate`", strategy="surrogate"),
    Method("reinforce", "`reinforce`", strategy="reinforce"),
    Method("pymoo-nsga2", "pymoo NSGA-II (plain)", kind="pymoo",
           note="pymoo.optimize.minimize with NSGA2, pop_size 100; discrete problems: IntegerRandomSampling, "
                "SBX(prob=1, eta=3) and PM(prob=1, eta=3) with RoundingRepair, eliminate_duplicates=True "
                "(pymoo's integer recipe); continuous problems: NSGA2's defaults"),
    Method("optuna", "optuna default sampler (plain)", kind="optuna", slow=True,
           note="the sampler optuna.create_study(directions=[...]) uses when given none (TPESampler in optuna "
                "4), built with its defaults and the seed; one trial at a time, suggest_categorical / "
                "suggest_float / suggest_int per parameter"),
    Method("analognas-style", "AnalogNAS-style surrogate-ranked evolution", strategy="surrogate",
           options={"n_initial": 50, "n_candidates": 500, "n_parents": 10, "random_fraction": 0.0},
           note="AnalogNAS (Benmeziane et al. 2023) ranks mutated candidates with a surrogate model and "
                "evaluates the best: our surrogate strategy (kernel ridge, not their XGBoost ranker) with a "
                "larger random start (50), 500 ranked candidates from the 10 best, no random fraction"),
    Method("nacim-style", "NACIM-style RL controller", strategy="reinforce",
           options={"lr": 0.5, "baseline_decay": 0.95, "entropy": 0.0},
           note="NACIM (Jiang et al. 2020) trains a REINFORCE controller on the reward of each design: our "
                "reinforce strategy (a factorised softmax policy, not their RNN controller), slower learning "
                "rate, long baseline, no entropy bonus"),
    Method("cimnas-style", "CIMNAS-style GA", strategy="nsga2", options={"pop_size": 100},
           note="CIMNAS (2025) searches network and CIM parameters jointly with a multi-objective genetic "
                "algorithm: our nsga2 strategy with a population of 100"),
    Method("gibbon-style", "Gibbon-style predictor-assisted evolution", strategy="surrogate",
           options={"n_initial": 20, "n_candidates": 1000, "n_parents": 40, "random_fraction": 0.05},
           note="Gibbon (Sun et al. 2022) runs an evolutionary search whose offspring are screened by "
                "accuracy/hardware predictors: our surrogate strategy with 1,000 screened offspring from 40 "
                "parents and 5 % random designs"),
)}


class Tracker:
    """Distinct designs in evaluation order, their objective rows and the HV ratio after each."""

    def __init__(self, problem: BenchProblem) -> None:
        self.p = problem
        self.seen: dict[Any, np.ndarray] = {}
        self.rows: list[np.ndarray] = []
        self.ratio: list[float] = []
        self.asks = 0
        self.since_new = 0
        self._front = np.zeros((0, len(problem.objectives)))
        self._hv = 0.0

    @property
    def evals(self) -> int:
        return len(self.rows)

    def add(self, sample: Mapping[str, Any]) -> np.ndarray:
        """The objective vector of ``sample``; a new design is counted, a repeat is answered for free."""
        self.asks += 1
        self.since_new += 1
        key = self.p.key(sample)
        if key in self.seen:
            return self.seen[key]
        y = np.asarray(self.p.evaluate(sample), dtype=float)
        self.seen[key] = y
        self.since_new = 0
        self.rows.append(y)
        front = extend_front(self._front, y)
        if front is not None:  # not weakly dominated: the HV may grow
            self._front, self._hv = front, hypervolume(front, self.p.ref)
        self.ratio.append(self._hv / self.p.true_hv)
        return y


@dataclass
class Run:
    """One (problem, method, seed) run: the HV ratio after each distinct evaluation, the objective rows,
    samples asked and wall seconds."""

    problem: str
    method: str
    seed: int
    ratio: list[float]
    F: np.ndarray
    asks: int
    seconds: float


def _strategy(m: Method, p: BenchProblem, t: Tracker, budget: int, seed: int, max_asks: int) -> None:
    from imcnas.search.strategies import get_strategy
    from imcnas.search.trial import Objective, Trial, TrialState

    s = get_strategy(m.strategy, **dict(m.options))
    s.setup(p.space, [Objective(o) for o in p.objectives], seed)
    number = 0
    while t.evals < budget and t.asks < max_asks and t.since_new < PATIENCE:
        samples = s.ask(min(BATCH, budget - t.evals, max_asks - t.asks))
        if not samples:
            return
        trials = []
        for sample in samples:
            y = t.add(sample)
            trials.append(Trial(number, sample, dict(zip(p.objectives, map(float, y))), TrialState.COMPLETE))
            number += 1
        s.tell(trials)


def _pymoo(p: BenchProblem, t: Tracker, budget: int, seed: int, max_asks: int) -> None:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.core.termination import Termination
    from pymoo.optimize import minimize

    class Budget(Termination):
        def _update(self, algorithm: Any) -> float:
            return max(t.evals / budget, t.asks / max_asks, t.since_new / PATIENCE)

    names = p.space.names
    if p.discrete:
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        values = [p.choices()[n] for n in names]
        hi = np.array([len(v) - 1 for v in values])

        def to_sample(x: np.ndarray) -> dict[str, Any]:
            idx = np.clip(np.rint(x).astype(int), 0, hi)
            return {n: v[i] for n, v, i in zip(names, values, idx)}

        algorithm = NSGA2(sampling=IntegerRandomSampling(),
                          crossover=SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                          mutation=PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                          eliminate_duplicates=True)
        xl, xu = 0, hi
    else:
        pp = p.pymoo_problem
        if pp is None:
            raise UnknownNameError("plain pymoo encoding for problem", p.name, ["discrete or pymoo problems"])

        def to_sample(x: np.ndarray) -> dict[str, Any]:
            return {n: float(v) for n, v in zip(names, x)}

        algorithm = NSGA2()
        xl, xu = pp.xl, pp.xu

    class Wrapped(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=len(names), n_obj=len(p.objectives), xl=xl, xu=xu)

        def _evaluate(self, X: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
            out["F"] = np.array([t.add(to_sample(x)) for x in X])

    minimize(Wrapped(), algorithm, Budget(), seed=seed, verbose=False)


def _optuna(p: BenchProblem, t: Tracker, budget: int, seed: int, max_asks: int) -> None:
    import optuna

    from imcnas.space.params import Choice, Float, Int

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dirs = ["minimize"] * len(p.objectives)
        sampler_cls = type(optuna.create_study(directions=dirs).sampler)
        study = optuna.create_study(directions=dirs, sampler=sampler_cls(seed=seed))
        while t.evals < budget and t.asks < max_asks and t.since_new < PATIENCE:
            trial = study.ask()
            sample: dict[str, Any] = {}
            for n, prm in p.space.params.items():
                if isinstance(prm, Choice):
                    sample[n] = trial.suggest_categorical(n, list(prm.values))
                elif isinstance(prm, Float):
                    sample[n] = trial.suggest_float(n, prm.low, prm.high, log=prm.log)
                elif isinstance(prm, Int):
                    sample[n] = trial.suggest_int(n, prm.low, prm.high, step=prm.step, log=prm.log)
            study.tell(trial, [float(v) for v in t.add(sample)])


def run_method(method: str, problem: BenchProblem, budget: int, seed: int, *, max_asks: int) -> Run:
    """Run ``method`` on ``problem`` for ``budget`` distinct evaluations (or until ``max_asks`` samples)."""
    if method not in METHODS:
        raise UnknownNameError("benchmark method", method, list(METHODS))
    m = METHODS[method]
    t = Tracker(problem)
    t0 = time.perf_counter()
    if m.kind == "pymoo":
        _pymoo(problem, t, budget, seed, max_asks)
    elif m.kind == "optuna":
        _optuna(problem, t, budget, seed, max_asks)
    else:
        _strategy(m, problem, t, budget, seed, max_asks)
    n = min(len(t.rows), budget)  # pymoo evaluates whole generations: keep the first ``budget`` designs
    F = np.array(t.rows[:n]).reshape(n, len(problem.objectives))
    return Run(problem.name, method, int(seed), t.ratio[:n], F, t.asks, time.perf_counter() - t0)
