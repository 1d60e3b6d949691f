"""The Strategy contract (ask/tell, no I/O, no threads) and helpers shared by the implementations.

Life cycle: ``s = get_strategy(name, **options)``; ``s.setup(space, objectives, seed)``; then any sequence of
``ask(n)`` and ``tell(trials)``. Every objective is minimised internally (maximised ones are negated).
``state_dict()`` is JSON-able; to resume, build a fresh strategy with the same options, call ``setup`` with the
same space, objectives and seed, then ``load_state_dict(d)``: later asks equal those the original would give.

Strategies whose library objects cannot be serialised (pymoo, optuna) subclass ``ReplayStrategy``: their state
is the log of ask/tell calls, and loading replays it on a freshly seeded instance.
"""
from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.trial import Objective, Sample, Trial
from imcnas.space.params import Choice
from imcnas.space.searchspace import SearchSpace

STATE_VERSION = 1


class Strategy(ABC):
    """Base class of search strategies. Options are keyword-only constructor arguments."""

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self._space: SearchSpace | None = None
        self.objectives: tuple[Objective, ...] = ()
        self.seed = 0
        self.rng = np.random.default_rng(0)

    def options(self) -> dict[str, Any]:
        """The constructor options (JSON-able), read back from attributes of the same names."""
        params = inspect.signature(type(self).__init__).parameters
        return {k: getattr(self, k) for k in params if k != "self"}

    @property
    def space(self) -> SearchSpace:
        if self._space is None:
            raise ConfigError(f"strategy '{self.name}': call setup(space, objectives, seed) first")
        return self._space

    def setup(self, space: SearchSpace, objectives: Sequence[Objective], seed: int) -> None:
        """Bind the strategy to a space and objectives; resets all state."""
        if not objectives:
            raise ConfigError(f"strategy '{self.name}': needs at least one objective")
        self._space, self.objectives, self.seed = space, tuple(objectives), int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._setup()

    def _setup(self) -> None:
        """Hook: reset implementation state after ``setup``."""

    @abstractmethod
    def ask(self, n: int) -> list[Sample]:
        """``n`` new samples to evaluate."""

    @abstractmethod
    def tell(self, trials: Sequence[Trial]) -> None:
        """Results of evaluated (or failed / rejected) samples."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: header plus ``_state()``."""
        return {"strategy": self.name, "version": STATE_VERSION, "options": self.options(), "seed": self.seed,
                "objectives": [o.name for o in self.objectives], **self._state()}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore a state from ``state_dict`` (after ``setup`` with the same space, objectives and seed)."""
        self.space  # noqa: B018 - raises unless set up
        if d.get("strategy") != self.name or d.get("version") != STATE_VERSION:
            raise ConfigError(f"state is for strategy '{d.get('strategy')}' v{d.get('version')}, "
                              f"not '{self.name}' v{STATE_VERSION}")
        names = [o.name for o in self.objectives]
        if d.get("objectives") != names:
            raise ConfigError(f"state is for objectives {d.get('objectives')}, not {names}")
        if int(d.get("seed", -1)) != self.seed:
            self.setup(self.space, self.objectives, int(d["seed"]))
        self._load(d)

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """Implementation state (JSON-able)."""

    @abstractmethod
    def _load(self, d: dict[str, Any]) -> None:
        """Restore the implementation state written by ``_state``."""

    def _check_n(self, n: int) -> int:
        if int(n) != n or n < 0:
            raise ConfigError(f"ask(n) needs a non-negative integer, got {n!r}")
        self.space  # noqa: B018
        return int(n)

    def feasible(self, make: Any, tries: int = 50) -> Sample:
        """``make()`` until the space's constraints accept a sample (at most ``tries``), else a random sample."""
        for _ in range(tries):
            s = make()
            if self.space.is_feasible(s)[0]:
                return s
        return self.space.sample(self.rng)


class ReplayStrategy(Strategy):
    """A strategy whose state is the log of its ask/tell calls; loading replays them on a fresh instance."""

    def _setup(self) -> None:
        self._log: list[list[Any]] = []
        self._reset()

    @abstractmethod
    def _reset(self) -> None:
        """Build fresh library objects seeded from ``self.seed``."""

    @abstractmethod
    def _ask(self, n: int) -> list[Sample]: ...

    @abstractmethod
    def _tell(self, trials: Sequence[Trial]) -> None: ...

    def ask(self, n: int) -> list[Sample]:
        n = self._check_n(n)
        self._log.append(["ask", n])
        return self._ask(n)

    def tell(self, trials: Sequence[Trial]) -> None:
        self.space  # noqa: B018
        self._log.append(["tell", [t.to_dict() for t in trials]])
        self._tell(list(trials))

    def _state(self) -> dict[str, Any]:
        return {"log": json.loads(json.dumps(self._log))}

    def _load(self, d: dict[str, Any]) -> None:
        self._setup()
        for kind, arg in d["log"]:
            if kind == "ask":
                self.ask(int(arg))
            else:
                self.tell([Trial.from_dict(t) for t in arg])


# ------------------------------------------------------------------------------------------------ helpers
def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON-able state of a numpy Generator."""
    return dict(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state


def sample_key(sample: Sample) -> str:
    """A canonical string for a sample (to match told trials to asked samples, or spot duplicates)."""
    return json.dumps(sample, sort_keys=True)


def nondominated_rank(F: np.ndarray) -> np.ndarray:
    """Pareto rank of each row of F (0 = non-dominated), all objectives minimised."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    if n == 0:
        return np.zeros(0, dtype=int)
    weak, strict = np.ones((n, n), dtype=bool), np.zeros((n, n), dtype=bool)
    for k in range(F.shape[1]):
        a = F[:, k]
        weak &= a[:, None] <= a[None, :]
        strict |= a[:, None] < a[None, :]
    dom = weak & strict  # dom[i, j]: i dominates j
    count = dom.sum(0)
    rank = np.full(n, -1)
    r, current = 0, np.flatnonzero(count == 0)
    while current.size:
        rank[current] = r
        count = count - dom[current].sum(0)
        count[current] = -1
        current = np.flatnonzero(count == 0)
        r += 1
    return rank


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


def accepts_options(cls: type[Strategy], options: dict[str, Any]) -> None:
    """ConfigError naming the first option ``cls`` does not take."""
    known = [k for k in inspect.signature(cls.__init__).parameters if k != "self"]
    for k in options:
        if k not in known:
            raise ConfigError(f"strategy '{cls.name}': unknown option '{k}'; known: {', '.join(known) or 'none'}")
