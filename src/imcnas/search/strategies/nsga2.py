"""NSGA-II (Deb et al., 2002) from pymoo, driven through pymoo's ask/tell interface.

pymoo searches the encoded cube [0, 1]^dim (SBX crossover, polynomial mutation); samples are
``space.decode(x)``, so choices and integers are snapped and inactive parameters are carried as hidden genes.
A generation is buffered: ``ask(n)`` hands out its members ``n`` at a time, and pymoo's ``tell`` runs once every
member has been told (failed, pruned and infeasible trials count as constraint violations). If ``ask`` needs
more samples while some are still out, pymoo is asked for more offspring of the same parents and the
generation grows (ask in batches that divide ``pop_size`` to avoid that). Samples that pymoo proposes but the
space's constraints reject are told to pymoo as violations at once and not handed out.

State: pymoo's objects do not serialise to JSON, so the state is the ask/tell log (``ReplayStrategy``); loading
replays it on a fresh, equally seeded algorithm, which reproduces pymoo's random stream exactly.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.strategies.base import ReplayStrategy, sample_key
from imcnas.search.trial import Sample, Trial

_VIOLATION = 1.0


class NSGA2Strategy(ReplayStrategy):
    """pymoo's NSGA2 on the encoded space, with a generation buffer so any ``ask(n)`` works."""

    name = "nsga2"

    def __init__(self, *, pop_size: int = 40, n_offsprings: int | None = None) -> None:
        super().__init__()
        if pop_size < 2:
            raise ConfigError("nsga2 needs pop_size >= 2")
        self.pop_size, self.n_offsprings = int(pop_size), n_offsprings

    def _reset(self) -> None:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.problem import Problem

        m = len(self.objectives)
        self._problem = Problem(n_var=self.space.dim, n_obj=m, n_ieq_constr=1, xl=0.0, xu=1.0)
        self._algo = NSGA2(pop_size=self.pop_size, n_offsprings=self.n_offsprings)
        self._algo.setup(self._problem, termination=("n_gen", 2 ** 62), seed=self.seed, verbose=False)
        self._gen_X: list[np.ndarray] = []        # every member of the current generation
        self._gen_F: list[list[float] | None] = []  # its results (None: not told yet)
        self._queue: list[int] = []                # members not handed out yet
        self._out: dict[str, list[int]] = defaultdict(list)  # handed-out members by sample key

    def _extend(self) -> None:
        """Ask pymoo for a new generation (or more offspring of the current parents)."""
        pop = self._algo.ask()
        for x in pop.get("X"):
            i = len(self._gen_X)
            self._gen_X.append(np.asarray(x, dtype=float))
            self._gen_F.append(None)
            sample = self.space.decode(x)
            if self.space.is_feasible(sample)[0]:
                self._queue.append(i)
            else:
                self._gen_F[i] = self._violated()

    def _violated(self) -> list[float]:
        return [0.0] * len(self.objectives) + [_VIOLATION]

    def _advance_if_done(self) -> None:
        if not self._gen_X or self._queue or any(f is None for f in self._gen_F):
            return
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.population import Population
        from pymoo.problems.static import StaticProblem

        m = len(self.objectives)
        FG = np.array(self._gen_F, dtype=float)
        pop = Population.new("X", np.array(self._gen_X))
        Evaluator().eval(StaticProblem(self._problem, F=FG[:, :m], G=FG[:, m:]), pop)
        self._algo.tell(infills=pop)
        self._gen_X, self._gen_F, self._out = [], [], defaultdict(list)

    def _ask(self, n: int) -> list[Sample]:
        out: list[Sample] = []
        for _ in range(10 * n + 10):
            if len(out) == n:
                break
            if not self._queue:
                self._advance_if_done()
                self._extend()
                continue
            i = self._queue.pop(0)
            sample = self.space.decode(self._gen_X[i])
            self._out[sample_key(sample)].append(i)
            out.append(sample)
        while len(out) < n:  # the constraints reject nearly everything pymoo proposes
            out.append(self.space.sample(self.rng))
        return out

    def _tell(self, trials: Sequence[Trial]) -> None:
        for t in trials:
            waiting = self._out.get(sample_key(t.sample))
            if not waiting:
                continue  # not asked by this generation (e.g. a warm-start trial): pymoo cannot use it
            f = t.minimised(self.objectives)
            self._gen_F[waiting.pop(0)] = self._violated() if f is None else f + [0.0]
        self._advance_if_done()
