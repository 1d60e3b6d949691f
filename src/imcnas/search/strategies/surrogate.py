"""Surrogate-assisted evolution: a learned predictor ranks mutated candidates (as AnalogNAS does).

The first ``n_initial`` asks are random. Afterwards, on every ``ask(n)``: a predictor is fitted on the complete
trials (at most ``max_train``, the best by Pareto rank and crowding): RBF kernel ridge regression, one weight
vector per objective (targets standardised), on features of the samples (the encoded coordinate of Int and
Float parameters, a one-hot vector for Choice ones; length scale by the median heuristic; ridge ``alpha``).
In tests it ranked candidates far better than random forests (HV ratio on ZDT2 ~1.0 vs ~0.3) at the same
cost. ``n_candidates`` new candidates are made by mutating the ``n_parents`` best trials (Pareto rank,
then crowding; Int/Float coordinates move by ``sigma`` in the encoded [0, 1] space) and a fraction
``random_fraction`` are fresh random samples; designs the strategy already knows (asked, running or told) and
samples the constraints reject are dropped. ``selection="hvi"`` (default) then picks the batch greedily, each
time the candidate whose *predicted* objectives add the most hypervolume to the observed front and the
candidates already picked (a Monte-Carlo estimate on ``mc_points`` uniform points, any number of objectives);
when no candidate is predicted to add any, the rest of the batch is filled as with ``selection="rank"``: by
the Pareto rank of the predicted objectives pooled with the observed front (ties: predicted crowding
distance). Against rank selection (with ``sigma`` 0.1), hypervolume selection (with ``sigma`` 0.2) moved the
conformance suite's 5-seed medians (imcnas.search.testing) on ZDT1 / ZDT2 / DTLZ2 / mixed from 0.968 / 0.971 /
0.598 / 0.779 to 0.986 / 0.987 / 0.831 / 0.791 (categorical: 1.000 both); too coarse an estimate (4,096
points) lost ZDT2 on two seeds of five.

State: the complete trials, the ask counter and the random generator; the predictor is refitted from them
(deterministically), so a restored strategy asks exactly what the original would.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.strategies.base import (Strategy, crowding_distance, mutate, nondominated_rank, rng_state,
                                           sample_key, select_best, set_rng_state)
from imcnas.search.trial import Sample, Trial
from imcnas.space.params import Choice
from imcnas.space.searchspace import SearchSpace


def features(space: SearchSpace, samples: Sequence[Sample]) -> np.ndarray:
    """Encoded coordinates of Int/Float parameters (0.5 when inactive) and one-hot Choice values (scaled so
    that two different values are at distance 1; all zero when inactive)."""
    X = np.array([space.encode(s) for s in samples]).reshape(len(samples), space.dim)
    cols = []
    for j, (name, p) in enumerate(space.params.items()):
        if isinstance(p, Choice):
            k = len(p.values)
            onehot = np.zeros((len(samples), k))
            active = np.array([name in s for s in samples], dtype=bool)
            idx = np.minimum((X[:, j] * k).astype(int), k - 1)
            onehot[np.flatnonzero(active), idx[active]] = np.sqrt(0.5)
            cols.append(onehot)
        else:
            cols.append(X[:, j:j + 1])
    return np.hstack(cols)


class KernelRidge:
    """RBF kernel ridge regression with a median-heuristic length scale; several outputs share the kernel."""

    def __init__(self, alpha: float = 1e-3) -> None:
        self.alpha = alpha

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
        return np.exp(-np.maximum(d2, 0.0) / self.scale)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "KernelRidge":
        d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        positive = d2[d2 > 0]
        self.scale = float(np.median(positive)) if positive.size else 1.0
        self.X, self.mean = X, Y.mean(0)
        K = self._kernel(X, X) + self.alpha * np.eye(len(X))
        with _one_thread():  # small solves: OpenBLAS threads only add overhead (30x on 2 cores)
            self.coef = np.linalg.solve(K, Y - self.mean)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._kernel(X, self.X) @ self.coef + self.mean


def _one_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


class SurrogateEvolution(Strategy):
    """Mutation-based evolution whose offspring are pre-screened by a kernel-ridge predictor."""

    name = "surrogate"

    def __init__(self, *, n_initial: int = 20, n_candidates: int = 200, n_parents: int = 20, max_train: int = 500,
                 alpha: float = 1e-3, random_fraction: float = 0.1, sigma: float = 0.2,
                 selection: str = "hvi", mc_points: int = 16384) -> None:
        super().__init__()
        if n_initial < 2 or min(n_candidates, n_parents) < 1 or max_train < 2 or alpha <= 0 \
                or not 0 <= random_fraction <= 1 or selection not in ("rank", "hvi") or mc_points < 1:
            raise ConfigError("surrogate needs n_initial >= 2, n_candidates and n_parents >= 1, max_train >= 2, "
                              "alpha > 0, 0 <= random_fraction <= 1, selection 'rank' or 'hvi', mc_points >= 1")
        self.selection, self.mc_points = selection, int(mc_points)
        self.n_initial, self.n_candidates, self.n_parents = int(n_initial), int(n_candidates), int(n_parents)
        self.max_train, self.alpha = int(max_train), float(alpha)
        self.random_fraction, self.sigma = float(random_fraction), float(sigma)

    def _setup(self) -> None:
        self.history: list[tuple[Sample, list[float]]] = []
        self.n_asked = 0

    def _candidates(self, parents: list[Sample]) -> list[Sample]:
        out: list[Sample] = []
        keys: set[str] = set()
        for _ in range(self.n_candidates):
            if self.rng.random() < self.random_fraction:
                c = self.space.sample(self.rng)
            else:
                parent = parents[int(self.rng.integers(len(parents)))]
                c = mutate(self.space, parent, self.rng, sigma=self.sigma)
            key = sample_key(c)
            if key not in keys and not self.known(c) and self.space.is_feasible(c)[0]:
                keys.add(key)
                out.append(c)
        return out

    def _ask(self, n: int) -> list[Sample]:
        n_random = max(0, min(n, self.n_initial - self.n_asked))
        if len(self.history) < 2:
            n_random = n
        out = [self.space.sample(self.rng) for _ in range(n_random)]
        if n > n_random:
            out += self._predicted_best(n - n_random)
        self.n_asked += n
        return out

    def _predicted_best(self, n: int) -> list[Sample]:
        F = np.array([f for _, f in self.history])
        mu, sd = F.mean(0), F.std(0) + 1e-12
        best = select_best(F, max(self.max_train, self.n_parents))
        train = best[:self.max_train]
        model = KernelRidge(self.alpha).fit(features(self.space, [self.history[i][0] for i in train]),
                                            (F[train] - mu) / sd)
        parents = [self.history[i][0] for i in best[:self.n_parents]]
        cands = self._candidates(parents)
        if not cands:
            return [self.space.sample(self.rng) for _ in range(n)]
        pred = model.predict(features(self.space, cands)).reshape(len(cands), -1)
        front = ((F - mu) / sd)[nondominated_rank(F) == 0]
        rank = nondominated_rank(np.vstack([front, pred]))[len(front):]
        crowd = np.zeros(len(cands))
        for r in np.unique(rank):
            idx = np.flatnonzero(rank == r)
            crowd[idx] = crowding_distance(pred[idx])
        order = [int(i) for i in np.lexsort((-crowd, rank))]
        if self.selection == "hvi":
            first = self._greedy_hvi(front, pred, (F - mu) / sd, n)
            order = first + [i for i in order if i not in set(first)]
        chosen = [cands[i] for i in order[:n]]
        return chosen + [self.space.sample(self.rng) for _ in range(n - len(chosen))]

    def _greedy_hvi(self, front: np.ndarray, pred: np.ndarray, seen: np.ndarray, n: int) -> list[int]:
        """Up to ``n`` candidates chosen one by one for the largest predicted hypervolume improvement over the
        observed front and the candidates already chosen, estimated on ``mc_points`` uniform points of the box
        from the best values seen or predicted to the front's nadir plus 10 % of its range (per objective where
        the front has no range yet: the worst value seen)."""
        lo = np.minimum(front.min(0), pred.min(0))
        span = front.max(0) - front.min(0)
        hi = np.where(span > 1e-9, front.max(0) + 0.1 * span, np.maximum(seen.max(0), front.max(0) + 1e-9))
        U = lo + (hi - lo) * self.rng.random((self.mc_points, front.shape[1]))
        covered = np.zeros(len(U), dtype=bool)
        for f in front:
            covered |= (f <= U).all(1)
        gains = (pred[:, None, :] <= U[None, :, :]).all(2)  # candidate x point: the candidate dominates it
        chosen: list[int] = []
        free = np.ones(len(pred), dtype=bool)
        while len(chosen) < n:
            gain = (gains & ~covered).sum(1) * free
            j = int(np.argmax(gain))
            if gain[j] <= 0:
                break
            chosen.append(j)
            free[j] = False
            covered |= gains[j]
        return chosen

    def _tell(self, trials: Sequence[Trial]) -> None:
        for t in trials:
            f = t.minimised(self.objectives)
            if f is not None:
                self.history.append((dict(t.sample), f))

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "n_asked": self.n_asked, "history": [[s, f] for s, f in self.history]}

    def _load(self, d: dict[str, Any]) -> None:
        set_rng_state(self.rng, d["rng"])
        self.n_asked = int(d["n_asked"])
        self.history = [(dict(s), [float(v) for v in f]) for s, f in d["history"]]
