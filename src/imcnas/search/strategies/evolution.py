"""Regularised (aging) evolution (Real et al., 2019), multi-objective by Pareto rank and crowding.

The first ``population_size`` asks are random. Afterwards each child comes from a tournament of
``tournament_size`` members drawn from the population: the winner has the best Pareto rank (ties: largest
crowding distance, both computed over the whole population) and is mutated (a few parameters resampled, see
``base.mutate``). Told complete trials join the population; the oldest member dies when it is full.
Failed, pruned and infeasible trials are dropped.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.strategies.base import (Strategy, crowding_distance, mutate, nondominated_rank, rng_state,
                                           set_rng_state)
from imcnas.search.trial import Sample, Trial


class RegularizedEvolution(Strategy):
    """Aging evolution with tournament selection and mutation only."""

    name = "evolution"

    def __init__(self, *, population_size: int = 40, tournament_size: int = 8, sigma: float = 0.1,
                 mutation_rate: float | None = None) -> None:
        super().__init__()
        if population_size < 2 or tournament_size < 1:
            raise ConfigError("evolution needs population_size >= 2 and tournament_size >= 1")
        self.population_size, self.tournament_size = int(population_size), int(tournament_size)
        self.sigma, self.mutation_rate = float(sigma), mutation_rate

    def _setup(self) -> None:
        self.population: list[tuple[Sample, list[float]]] = []
        self.n_asked = 0

    def _ask(self, n: int) -> list[Sample]:
        out: list[Sample] = []
        if self.population:
            F = np.array([f for _, f in self.population])
            rank, crowd = nondominated_rank(F), np.zeros(len(F))
            for r in np.unique(rank):
                idx = np.flatnonzero(rank == r)
                crowd[idx] = crowding_distance(F[idx])
        for _ in range(n):
            if self.n_asked < self.population_size or not self.population:
                out.append(self.space.sample(self.rng))
            else:
                k = min(self.tournament_size, len(self.population))
                group = self.rng.choice(len(self.population), size=k, replace=False)
                best = group[np.lexsort((-crowd[group], rank[group]))[0]]
                parent = self.population[best][0]
                out.append(self.feasible(lambda: mutate(self.space, parent, self.rng, rate=self.mutation_rate,
                                                        sigma=self.sigma)))
            self.n_asked += 1
        return out

    def _tell(self, trials: Sequence[Trial]) -> None:
        for t in trials:
            f = t.minimised(self.objectives)
            if f is not None:
                self.population.append((dict(t.sample), f))
        del self.population[:max(0, len(self.population) - self.population_size)]

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "n_asked": self.n_asked,
                "population": [[s, f] for s, f in self.population]}

    def _load(self, d: dict[str, Any]) -> None:
        set_rng_state(self.rng, d["rng"])
        self.n_asked = int(d["n_asked"])
        self.population = [(dict(s), [float(v) for v in f]) for s, f in d["population"]]
