"""Operators the strategies share: Pareto rank, crowding distance, NSGA-II selection, mutation in the
encoded space, and the JSON-able state of a numpy random generator (re-exported by ``strategies.base``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from imcnas.search.trial import Sample
from imcnas.space.params import Choice
from imcnas.space.searchspace import SearchSpace

def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON-able state of a numpy Generator."""
    return dict(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state


def nondominated_rank(F: np.ndarray) -> np.ndarray:
    """Pareto rank of each row of F (0 = non-dominated), all objectives minimised (pymoo's non-dominated
    sorting: about 300x faster than a dense dominance matrix at 6,000 rows, which made it the surrogate's
    main cost on long runs)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    if len(F) == 1:
        return np.zeros(1, dtype=int)
    _, rank = NonDominatedSorting().do(F.reshape(len(F), -1), return_rank=True)
    return np.asarray(rank, dtype=int)


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row (boundary points get inf)."""
    F = np.asarray(F, dtype=float)
    n, m = F.shape
    if n <= 2:
        return np.full(n, np.inf)
    d = np.zeros(n)
    for k in range(m):
        order = np.argsort(F[:, k], kind="stable")
        span = F[order[-1], k] - F[order[0], k]
        d[order[0]] = d[order[-1]] = np.inf
        if span > 0:
            d[order[1:-1]] += (F[order[2:], k] - F[order[:-2], k]) / span
    return d


def select_best(F: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` rows chosen NSGA-II style: by Pareto rank, ties by crowding distance (descending)."""
    rank = nondominated_rank(F)
    crowd = np.zeros(len(F))
    for r in np.unique(rank):
        idx = np.flatnonzero(rank == r)
        crowd[idx] = crowding_distance(F[idx])
    return np.lexsort((-crowd, rank))[:k]


def mutate(space: SearchSpace, sample: Sample, rng: np.random.Generator, *, rate: float | None = None,
           sigma: float = 0.1, local: float = 0.8) -> Sample:
    """Resample a few parameters of ``sample`` (each active one with probability ``rate``, default 1/#active;
    at least one). Choice: another value. Int/Float: with probability ``local`` a Gaussian step of ``sigma``
    in the encoded [0, 1] coordinate (clipped), else a uniform redraw. Inactive coordinates get random values,
    so parameters that a mutation switches on start from a random value."""
    x = space.encode(sample)
    names = space.names
    active = np.array([n in sample for n in names])
    x[~active] = rng.random(int((~active).sum()))
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return space.decode(rng.random(space.dim))
    for _ in range(10):
        y = x.copy()
        p = rate if rate is not None else 1.0 / idx.size
        chosen = idx[rng.random(idx.size) < p]
        if chosen.size == 0:
            chosen = idx[rng.integers(idx.size)][None]
        for i in chosen:
            param = space.params[names[i]]
            if isinstance(param, Choice):
                k = len(param.values)
                j = int(y[i] * k) if k > 1 else 0
                j = (j + 1 + int(rng.integers(max(k - 1, 1)))) % k if k > 1 else 0
                y[i] = (j + 0.5) / k
            elif rng.random() < local:
                y[i] = min(max(y[i] + sigma * rng.standard_normal(), 0.0), 1.0)
            else:
                y[i] = rng.random()
        child = space.decode(y)
        if child != sample:
            return child
    return child
