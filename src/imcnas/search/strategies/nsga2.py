"""NSGA-II (Deb et al., 2002) from pymoo on the space's own variable types, through pymoo's ask/tell interface.

Encoding (pymoo's mixed-variable support, ``pymoo.core.mixed``): a Choice is a pymoo ``Choice`` over the
indices of its values (uniform crossover, random-reset mutation: no false order between categories); an Int
is a pymoo ``Integer`` over the indices of its values (SBX and polynomial mutation, rounded; log Ints are a
``Real`` in their encoded, logarithmic coordinate); a Float is a ``Real`` in its encoded coordinate [0, 1]
(SBX, polynomial mutation). Every variable mutates with probability 1/dim (pymoo's mixed-variable default
mutates each Choice with probability 1/2, which made children of categorical spaces nearly random). A genome carries every parameter, inactive ones as hidden genes; the sample is
``space.decode`` of it. Selection: binary tournament on rank and crowding; survival: NSGA-II's
``RankAndCrowding``.

Duplicates: pymoo's duplicate elimination (at initialisation and in every mating) compares *designs* (the
``sample_key`` of the decoded genome, so genomes that differ only in hidden genes are the same design) against
the whole history: every design pymoo has proposed, and every design this strategy has asked or been told.
Mating retries (20 rounds, pymoo's default is 100) until it has enough new offspring; when it cannot (a
converged population, a nearly exhausted space), the generation is smaller and ``Strategy.ask`` fills up with substitutes, which join the generation
(pymoo learns from them like from its own offspring).

A generation is buffered: ``ask(n)`` hands out its members ``n`` at a time, and pymoo's ``tell`` runs once every
member has been told (failed, pruned and infeasible trials count as constraint violations). If ``ask`` needs
more samples while some are still out, pymoo is asked for just that many more offspring of the same parents
(more initial samples in the first generation), so the generation grows by what the ask lacks and completes
when the ask's results are told (a generation cut short by duplicates or infeasible proposals does not leave
a remainder that makes every later generation grow). Samples that pymoo proposes but the
space's constraints reject are told to pymoo as violations at once and not handed out.

State: pymoo's objects do not serialise to JSON, so the state is the ask/tell log (``ReplayStrategy``); loading
replays it on a fresh, equally seeded algorithm, which reproduces pymoo's random stream exactly.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Sequence

import numpy as np

from imcnas.errors import ConfigError
from imcnas.search.strategies.base import ReplayStrategy, design_id
from imcnas.search.trial import Sample, Trial
from imcnas.space.params import Choice, Int
from imcnas.space.searchspace import SearchSpace

_VIOLATION = 1.0
_DROPPED = "dropped"  # a generation member that repeats a known design and is not told to pymoo


class Genome:
    """The map between samples and pymoo mixed-variable genomes (dicts ``{param name: gene}``)."""

    def __init__(self, space: SearchSpace) -> None:
        from pymoo.core.variable import Choice as PChoice
        from pymoo.core.variable import Integer, Real

        self.space = space
        self.kinds: dict[str, tuple[str, int]] = {}  # name -> ("index", number of values) or ("real", 0)
        self.vars: dict[str, Any] = {}
        for name, p in space.params.items():
            k = len(p.values) if isinstance(p, Choice) else p.n if isinstance(p, Int) and not p.log else 0
            if isinstance(p, Choice) or (k and k <= 1):
                self.vars[name] = PChoice(options=list(range(max(k, 1))))
                self.kinds[name] = ("index", max(k, 1))
            elif k:
                self.vars[name] = Integer(bounds=(0, k - 1))
                self.kinds[name] = ("index", k)
            else:
                self.vars[name] = Real(bounds=(0.0, 1.0))
                self.kinds[name] = ("real", 0)

    def to_unit(self, genome: dict[str, Any]) -> np.ndarray:
        """The genome as a point of the space's encoded cube."""
        x = np.empty(self.space.dim)
        for i, (name, (kind, k)) in enumerate(self.kinds.items()):
            g = genome[name]
            x[i] = (min(max(round(float(g)), 0), k - 1) + 0.5) / k if kind == "index" else float(g)
        return x

    def decode(self, genome: dict[str, Any]) -> Sample:
        return self.space.decode(self.to_unit(genome))

    def encode(self, sample: Sample) -> dict[str, Any]:
        """A genome of ``sample`` (inactive parameters get the middle gene)."""
        x = self.space.encode(sample)
        out: dict[str, Any] = {}
        for u, (name, (kind, k)) in zip(x, self.kinds.items()):
            out[name] = min(int(u * k), k - 1) if kind == "index" else float(u)
        return out


def history_elimination(decode: Callable[[dict[str, Any]], Sample], known: Callable[[str], bool]) -> Any:
    """A pymoo duplicate eliminator that compares designs (``design_id`` of the decoded genome), also against
    every design ``known`` accepts (the history)."""
    from pymoo.core.duplicate import DuplicateElimination

    class HistoryElimination(DuplicateElimination):
        cache: dict[tuple[Any, ...], str] = {}  # genome -> design id, cleared after every pymoo ask

        def _id(self, genome: dict[str, Any]) -> str:
            key = tuple(genome.values())
            if key not in self.cache:
                self.cache[key] = design_id(decode(genome))
            return self.cache[key]

        def _do(self, pop: Any, other: Any, is_duplicate: np.ndarray) -> np.ndarray:
            ids = [self._id(ind.X) for ind in pop]
            if other is None:
                first: set[str] = set()
                for i, d in enumerate(ids):
                    is_duplicate[i] = d in first or known(d)
                    first.add(d)
            else:
                others = {self._id(ind.X) for ind in other}
                is_duplicate |= np.array([d in others for d in ids], dtype=bool)
            return is_duplicate

    elim = HistoryElimination()
    elim.cache = {}
    return elim


class NSGA2Strategy(ReplayStrategy):
    """pymoo's NSGA-II on mixed (choice / integer / real) variables, without duplicate designs."""

    name = "nsga2"

    def __init__(self, *, pop_size: int = 40, n_offsprings: int | None = None) -> None:
        super().__init__()
        if pop_size < 2:
            raise ConfigError("nsga2 needs pop_size >= 2")
        self.pop_size, self.n_offsprings = int(pop_size), n_offsprings

    def _reset(self) -> None:
        from pymoo.algorithms.moo.nsga2 import binary_tournament
        from pymoo.core.mixed import MixedVariableGA, MixedVariableMating, MixedVariableSampling
        from pymoo.core.problem import Problem
        from pymoo.core.variable import Choice as Choice_
        from pymoo.core.variable import Integer, Real
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.mutation.rm import ChoiceRandomMutation
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.selection.tournament import TournamentSelection
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
        from pymoo.util.display.multi import MultiObjectiveOutput

        self._genome = Genome(self.space)
        self._proposed: set[str] = set()  # every design pymoo has proposed (handed out or not)
        self._elim = elim = history_elimination(self._genome.decode, self._is_known)
        m = len(self.objectives)
        self._problem = Problem(vars=self._genome.vars, n_obj=m, n_ieq_constr=1)
        # pymoo mutates each Choice (a group of its own) with probability 1/2 and each group of Integers or
        # Reals with 1/(group size): on 5 choices that is 2.5 changes per child, a random search. Instead,
        # every variable mutates with probability 1/dim (one change per child on average), as in NSGA-II.
        p = 1.0 / max(self.space.dim, 1)
        mutation = {Choice_: ChoiceRandomMutation(prob_var=p), Real: PM(prob_var=p),
                    Integer: PM(prob_var=p, vtype=float, repair=RoundingRepair())}
        mating = MixedVariableMating(selection=TournamentSelection(func_comp=binary_tournament),
                                     mutation=mutation, eliminate_duplicates=elim, n_max_iterations=20)
        self._algo = MixedVariableGA(pop_size=self.pop_size, n_offsprings=self.n_offsprings,
                                     sampling=MixedVariableSampling(), mating=mating, eliminate_duplicates=elim,
                                     survival=RankAndCrowding(), output=MultiObjectiveOutput(),
                                     advance_after_initial_infill=True)
        self._algo.tournament_type = "comp_by_dom_and_crowding"  # what pymoo's NSGA2 sets for binary_tournament
        self._algo.setup(self._problem, termination=("n_gen", 2 ** 62), seed=self.seed, verbose=False)
        self._gen_X: list[dict[str, Any]] = []      # every member of the current generation (genomes)
        self._gen_F: list[Any] = []                 # its results (None: not told yet; _DROPPED)
        self._queue: list[int] = []                 # members not handed out yet
        self._out: dict[str, list[int]] = defaultdict(list)  # handed-out members by design id

    def _is_known(self, d: str) -> bool:
        return d in self._proposed or d in self._seen

    def _member(self, genome: dict[str, Any]) -> int:
        self._gen_X.append(dict(genome))
        self._gen_F.append(None)
        return len(self._gen_X) - 1

    def _extend(self, k: int | None = None) -> bool:
        """Ask pymoo for a new generation, or for ``k`` more members of the current one (offspring of the same
        parents, or more initial samples); False if pymoo has none."""
        algo = self._algo
        if k is None:
            pop = algo.ask()
        else:
            attr = "n_offsprings" if algo.is_initialized else "pop_size"
            size = getattr(algo, attr)
            setattr(algo, attr, k)
            try:
                pop = algo.ask()
            finally:
                setattr(algo, attr, size)
        algo.termination.force_termination = False  # set by pymoo when mating finds no new design
        self._elim.cache.clear()
        if pop is None or len(pop) == 0:
            return False
        for x in pop.get("X"):
            i = self._member(x)
            sample = self._genome.decode(x)
            self._proposed.add(design_id(sample))
            if self.space.is_feasible(sample)[0]:
                self._queue.append(i)
            else:
                self._gen_F[i] = self._violated()
        return True

    def _violated(self) -> list[float]:
        return [0.0] * len(self.objectives) + [_VIOLATION]

    def _advance_if_done(self) -> None:
        if not self._gen_X or self._queue or any(f is None for f in self._gen_F):
            return
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.population import Population
        from pymoo.problems.static import StaticProblem

        keep = [i for i, f in enumerate(self._gen_F) if not isinstance(f, str)]
        self._gen_X, self._gen_F = [self._gen_X[i] for i in keep], [self._gen_F[i] for i in keep]
        self._out = defaultdict(list)
        if not keep:
            return
        m = len(self.objectives)
        FG = np.array(self._gen_F, dtype=float)
        pop = Population.new("X", np.array(self._gen_X, dtype=object))
        Evaluator().eval(StaticProblem(self._problem, F=FG[:, :m], G=FG[:, m:]), pop)
        self._algo.tell(infills=pop)
        self._gen_X, self._gen_F = [], []

    def _ask(self, n: int) -> list[Sample]:
        out: list[Sample] = []
        extends = 0
        while len(out) < n:
            if not self._queue:
                if extends == 10:  # the constraints reject nearly everything pymoo proposes
                    break
                self._advance_if_done()
                # members still out: just as many more as this ask needs, so the generation can complete
                if not self._extend(n - len(out) if self._gen_X else None):
                    break
                extends += 1
                continue
            i = self._queue.pop(0)
            sample = self._genome.decode(self._gen_X[i])
            self._out[design_id(sample)].append(i)
            out.append(sample)
        return out

    def _discard(self, sample: Sample) -> None:
        """A member that repeats a known design (e.g. one told meanwhile from elsewhere): dropped."""
        self._gen_F[self._out[design_id(sample)].pop()] = _DROPPED

    def _adopt(self, sample: Sample) -> None:
        """A substitute joins the current generation as if pymoo had proposed it."""
        i = self._member(self._genome.encode(sample))
        self._proposed.add(design_id(sample))
        self._out[design_id(sample)].append(i)

    def _tell(self, trials: Sequence[Trial]) -> None:
        for t in trials:
            waiting = self._out.get(design_id(t.sample))
            if not waiting:
                continue  # not asked by this generation (e.g. a warm-start trial): pymoo cannot use it
            f = t.minimised(self.objectives)
            self._gen_F[waiting.pop(0)] = self._violated() if f is None else f + [0.0]
        self._advance_if_done()
