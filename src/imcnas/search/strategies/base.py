"""The Strategy contract (ask/tell, no I/O, no threads); the shared operators (Pareto rank, crowding, mutation)
live in ``strategies.ops`` and are re-exported here.

Life cycle: ``s = get_strategy(name, **options)``; ``s.setup(space, objectives, seed)``; then any sequence of
``ask(n)`` and ``tell(trials)``. Every objective is minimised internally (maximised ones are negated).
``state_dict()`` is JSON-able; to resume, build a fresh strategy with the same options, call ``setup`` with the
same space, objectives and seed, then ``load_state_dict(d)``: later asks equal those the original would give.

No duplicate asks (one mechanism for every strategy, here in the base class): ``ask(n)`` returns only designs
that this strategy has never asked or been told before (so none that is still running either) and no two
alike; designs are compared by :func:`imcnas.search.trial.sample_key`. Implementations write ``_ask(k)``
(proposals, which may repeat known designs) and ``_tell(trials)``; ``ask`` calls ``_ask`` for what is missing
up to ``propose_rounds`` times, hands every repeated proposal back through ``_discard(sample)``, and then fills
the rest with *substitutes*: mutations of the repeated proposals (a new design next to the one the strategy
wanted), failing that random samples, and on a finite space (at most ``FINITE_LIMIT`` combinations) any
design not yet known. Substitutes reach the implementation through ``_adopt(sample)`` before they are handed
out. ``ask(n)`` returns fewer than ``n`` samples only when no new design was found (on a finite space: every
feasible design is known), and then sets ``exhausted``; an empty list means the space is exhausted: stop.

Strategies whose library objects cannot be serialised (pymoo, optuna) subclass ``ReplayStrategy``: their state
is the log of ask/tell calls, and loading replays it on a freshly seeded instance.
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.strategies.ops import (crowding_distance, mutate, nondominated_rank,  # noqa: F401 (re-exported)
                                          rng_state, select_best, set_rng_state)
from imcnas.search.trial import Objective, Sample, Trial, sample_key
from imcnas.space.params import Choice, Float, Int
from imcnas.space.searchspace import SearchSpace

STATE_VERSION = 1
FINITE_LIMIT = 20_000  # spaces with at most this many raw combinations are enumerated when asks run dry


def design_id(sample: Sample) -> str:
    """A short digest of ``sample_key(sample)``: what strategies remember of the designs they know."""
    return hashlib.blake2b(sample_key(sample).encode(), digest_size=12).hexdigest()


class Strategy(ABC):
    """Base class of search strategies. Options are keyword-only constructor arguments."""

    name: ClassVar[str] = ""
    propose_rounds: ClassVar[int] = 3   # calls of ``_ask`` per ``ask`` while proposals repeat known designs
    substitute_tries: ClassVar[int] = 20  # tries per missing sample to find a new design by mutation
    _seen_in_state: ClassVar[bool] = True  # False where the state rebuilds the known designs (a replay)

    def __init__(self) -> None:
        self._space: SearchSpace | None = None
        self.objectives: tuple[Objective, ...] = ()
        self.seed = 0
        self.rng = np.random.default_rng(0)
        self._seen: set[str] = set()
        self._finite: list[tuple[Sample, str]] | None = None
        self._finite_checked = False
        self.exhausted = False

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
        if space is not self._space:
            self._finite, self._finite_checked = None, False
        self._space, self.objectives, self.seed = space, tuple(objectives), int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._seen, self.exhausted = set(), False
        self._setup()

    def _setup(self) -> None:
        """Hook: reset implementation state after ``setup``."""

    # ------------------------------------------------------------------------------------------ ask / tell
    def known(self, sample: Sample) -> bool:
        """Whether this strategy has asked (running or told since) or been told this design."""
        return design_id(sample) in self._seen

    @property
    def n_known(self) -> int:
        """How many distinct designs this strategy has asked or been told."""
        return len(self._seen)

    def ask(self, n: int) -> list[Sample]:
        """Up to ``n`` new samples to evaluate: designs never asked or told before, no two alike. Fewer than
        ``n`` (then ``exhausted`` is True) only when no new design could be found; ``[]``: stop searching."""
        n = self._check_n(n)
        self._log_ask(n)
        left = self._unknown_designs() if n else None
        if left is not None and not left:  # a finite space, every design known: do not even ask
            self.exhausted = True
            return []
        out: list[Sample] = []
        repeated: list[Sample] = []
        for _ in range(self.propose_rounds):
            if len(out) >= n:
                break
            proposals = self._ask(n - len(out))
            for s in proposals:
                d = design_id(s)
                if d in self._seen or len(out) >= n:
                    repeated.append(s)
                    self._discard(s)
                else:
                    self._seen.add(d)
                    out.append(s)
            if not proposals:
                break
        if len(out) < n:
            out += self._substitutes(n - len(out), repeated or out)
        self.exhausted = len(out) < n
        return out

    def tell(self, trials: Sequence[Trial]) -> None:
        """Results of evaluated (or failed / rejected) samples; their designs count as known from now on."""
        self.space  # noqa: B018 - raises unless set up
        trials = list(trials)
        self._log_tell(trials)
        for t in trials:
            self._seen.add(design_id(t.sample))
        self._tell(trials)

    @abstractmethod
    def _ask(self, n: int) -> list[Sample]:
        """At most ``n`` proposals (``ask`` drops those that repeat known designs, see the module docstring)."""

    @abstractmethod
    def _tell(self, trials: Sequence[Trial]) -> None:
        """Results of evaluated (or failed / rejected) samples."""

    def _discard(self, sample: Sample) -> None:
        """Hook: a proposal of the last ``_ask`` repeats a known design and is not handed out."""

    def _adopt(self, sample: Sample) -> None:
        """Hook: ``sample`` (a substitute, not proposed by ``_ask``) is handed out."""

    def _log_ask(self, n: int) -> None:
        """Hook: called by ``ask`` before anything else (ReplayStrategy logs the call)."""

    def _log_tell(self, trials: list[Trial]) -> None:
        """Hook: called by ``tell`` before anything else."""

    def _substitutes(self, k: int, near: list[Sample]) -> list[Sample]:
        """Up to ``k`` new feasible designs: mutations of ``near`` (the first half of the tries), random samples
        (the second half), and on a finite space whatever designs are left."""
        out: list[Sample] = []
        left = self._unknown_designs()
        if left is not None and len(left) <= k:  # (nearly) exhausted: hand out the rest, in random order
            picks = [left[i] for i in self.rng.permutation(len(left))]
        else:
            picks = []
            tries = self.substitute_tries * k
            for t in range(tries):
                if len(out) == k:
                    break
                try:
                    if near and t < tries // 2:
                        s = mutate(self.space, near[int(self.rng.integers(len(near)))], self.rng)
                    else:
                        s = self.space.sample(self.rng)
                except ConfigError:  # the constraints reject (nearly) every random sample
                    continue
                d = design_id(s)
                if d not in self._seen and self.space.is_feasible(s)[0]:
                    self._seen.add(d)
                    self._adopt(s)
                    out.append(s)
            if len(out) < k and left is not None:
                left = [s for s in left if not self.known(s)]
                picks = [left[i] for i in self.rng.permutation(len(left))[:k - len(out)]]
        for s in picks[:k - len(out)]:
            self._seen.add(design_id(s))
            self._adopt(s)
            out.append(s)
        return out

    def _unknown_designs(self) -> list[Sample] | None:
        """Every feasible design not known yet, in enumeration order; None unless the space is finite and
        small (at most ``FINITE_LIMIT`` raw combinations)."""
        if not self._finite_checked:
            self._finite_checked = True
            self._finite = finite_designs(self.space)
        if self._finite is None:
            return None
        return [s for s, d in self._finite if d not in self._seen]

    # ----------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: header, the known designs (digests) and ``_state()``."""
        seen = {"seen": sorted(self._seen)} if self._seen_in_state else {}
        return {"strategy": self.name, "version": STATE_VERSION, "options": self.options(), "seed": self.seed,
                "objectives": [o.name for o in self.objectives], **seen, **self._state()}

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
        if "seen" in d:  # states written before duplicate checks lack it
            self._seen = {str(k) for k in d["seen"]}

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
    """A strategy whose state is the log of its ask/tell calls; loading replays them on a fresh instance
    (which also rebuilds the set of known designs)."""

    _seen_in_state = False

    def _setup(self) -> None:
        self._log: list[list[Any]] = []
        self._reset()

    @abstractmethod
    def _reset(self) -> None:
        """Build fresh library objects seeded from ``self.seed``."""

    def _log_ask(self, n: int) -> None:
        self._log.append(["ask", n])

    def _log_tell(self, trials: list[Trial]) -> None:
        self._log.append(["tell", [t.to_dict() for t in trials]])

    def _state(self) -> dict[str, Any]:
        return {"log": json.loads(json.dumps(self._log))}

    def _load(self, d: dict[str, Any]) -> None:
        self.setup(self.space, self.objectives, self.seed)
        for kind, arg in d["log"]:
            if kind == "ask":
                self.ask(int(arg))
            else:
                self.tell([Trial.from_dict(t) for t in arg])


def finite_designs(space: SearchSpace, limit: int = FINITE_LIMIT) -> list[tuple[Sample, str]] | None:
    """Every feasible design of a space of Choice and Int parameters (with their ``design_id``), in a fixed
    order; None if a parameter is a (non-degenerate) Float or there are more than ``limit`` raw combinations."""
    grids: list[list[Any]] = []
    for p in space.params.values():
        if isinstance(p, Choice):
            grids.append(list(p.values))
        elif isinstance(p, Int):
            grids.append([p.low + i * p.step for i in range(p.n)])
        elif isinstance(p, Float) and p.low == p.high:
            grids.append([p.low])
        else:
            return None
    if math.prod(len(g) for g in grids) > limit:
        return None
    out: list[tuple[Sample, str]] = []
    ids: set[str] = set()
    for values in itertools.product(*grids):
        s = space.prune(dict(zip(space.names, values)))
        d = design_id(s)
        if d not in ids and space.is_feasible(s)[0]:
            ids.add(d)
            out.append((s, d))
    return out


def accepts_options(cls: type[Strategy], options: dict[str, Any]) -> None:
    """ConfigError naming the first option ``cls`` does not take."""
    known = [k for k in inspect.signature(cls.__init__).parameters if k != "self"]
    for k in options:
        if k not in known:
            raise ConfigError(f"strategy '{cls.name}': unknown option '{k}'; known: {', '.join(known) or 'none'}")
