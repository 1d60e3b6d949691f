"""The problems of ``imcnas bench``, behind one interface: a search space, minimised objectives, a
hypervolume reference point, the true front and its hypervolume.

* ``imcbench``: :class:`~imcnas.benchmarks.IMCBenchProblem` (``error_1d``, ``energy_pj``): hardware changes
  accuracy; true front by enumerating the table.
* ``analognas``: :class:`~imcnas.benchmarks.AnalogNASProblem` (``error_1d``, ``energy_pj``): AnalogNAS-Bench
  accuracy x the cost model (needs the ``bench`` extra); accuracy does not depend on the chip.
* ``nasbench-graph``: :class:`~imcnas.benchmarks.nasbenchgraph.NASBenchGraphProblem` (``error``, ``energy_pj``):
  NAS-Bench-Graph (Cora) x the cost model (needs the ``bench`` extra); accuracy does not depend on the chip;
  isomorphic architectures are one design (key and size count bench architectures x chips).
* ``categorical``: the conformance suite's 5 x 4-label categorical problem (1,024 designs, enumerated front).
* ``zdt1``, ``dtlz2``: pymoo's continuous test problems with their closed-form fronts (no finite space, so no
  "1 % of the space" budget).

A problem that cannot be built here (missing extra or data) is reported by :func:`unavailable` with the reason,
and the benchmark skips it saying so.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np

from imcnas.errors import ConfigError, UnknownNameError
from imcnas.search.trial import sample_key
from imcnas.space.params import Choice
from imcnas.space.searchspace import SearchSpace

__all__ = ["BenchProblem", "PROBLEMS", "get_problem", "unavailable"]


@dataclass
class BenchProblem:
    """A benchmark problem: ``evaluate(sample)`` gives the objective vector (minimised, in ``objectives``
    order); ``key(sample)`` names the design (duplicates share it); ``size`` is the number of designs (None
    for a continuous space)."""

    name: str
    label: str
    space: SearchSpace
    objectives: tuple[str, ...]
    evaluate: Callable[[Mapping[str, Any]], np.ndarray]
    key: Callable[[Mapping[str, Any]], Any]
    ref: np.ndarray
    true_front: np.ndarray
    true_hv: float
    size: int | None
    notes: str = ""
    pymoo_problem: Any = None  # the pymoo problem itself (continuous problems), for the plain NSGA-II baseline
    # "table": the problem object; "warm": (function, args) that fills a worker process's caches with what
    # building the problem here computed (picklable; ``imcnas bench`` calls it in each worker)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def discrete(self) -> bool:
        """Every parameter is a Choice (the plain pymoo baseline then works on choice indices)."""
        return all(isinstance(p, Choice) for p in self.space.params.values())

    def choices(self) -> dict[str, list[Any]]:
        """Parameter -> values, for a discrete problem."""
        if not self.discrete:
            raise ConfigError(f"problem '{self.name}' is not discrete")
        return {n: list(p.values) for n, p in self.space.params.items()}


def _tabular(name: str, label: str, problem: Any, notes: str) -> BenchProblem:
    objectives = tuple(problem.objectives)
    Y = np.asarray(problem.objective_matrix(objectives), dtype=float)
    return BenchProblem(
        name=name, label=label, space=problem.space(), objectives=objectives,
        evaluate=lambda s: Y[problem.index(s)], key=problem.index,
        ref=np.asarray(problem.reference_point(objectives), dtype=float),
        true_front=np.asarray(problem.true_front(objectives), dtype=float),
        true_hv=float(problem.true_hypervolume(objectives)), size=int(problem.size), notes=notes,
        extra={"table": problem})


def _imcbench() -> BenchProblem:
    from imcnas.benchmarks.imcbench import IMCBenchProblem

    p = IMCBenchProblem()
    return _tabular("imcbench", "IMC-Bench", p,
                    f"{p.n_archs} cnn architectures x {p.n_chips} chips = {p.size:,} designs; accuracy on each "
                    "chip after 1 d of drift (hardware-aware trained, Monte-Carlo mean), energy from the cost "
                    "model")


def _analognas() -> BenchProblem:
    from imcnas.benchmarks.analognas import AnalogNASProblem

    p = AnalogNASProblem()
    return _tabular("analognas", "AnalogNAS-Bench x HW", p,
                    f"{p.size // p.n_chips:,} NAS-Bench-201 cells x {p.n_chips} chips = {p.size:,} designs; "
                    "accuracy from AnalogNAS-Bench (one PCM chip: independent of the hardware), energy from the "
                    "cost model")


def _nasbench_graph() -> BenchProblem:
    mod = importlib.import_module("imcnas.benchmarks.nasbenchgraph")  # ImportError: not built yet / no extra
    p = mod.NASBenchGraphProblem()
    bp = _tabular("nasbench-graph", "NAS-Bench-Graph x HW", p, getattr(p, "description", ""))
    if hasattr(p, "design_key"):  # isomorphic architectures are one design: asking another is a repeat
        bp.key, bp.size = p.design_key, int(p.n_designs)
    if hasattr(mod, "seed_cost_cache"):  # worker processes take the costs priced here instead of pricing again
        bp.extra["warm"] = (mod.seed_cost_cache, mod.cost_cache(p))
    return bp


def _conformance(name: str) -> BenchProblem:
    from imcnas.search.testing import make_problem

    p = make_problem(name)
    objectives = tuple(o.name for o in p.objectives)
    if name == "categorical":
        import itertools

        keys = p.space.names
        F = np.array([[p.evaluate(dict(zip(keys, v)))[o] for o in objectives]
                      for v in itertools.product(*(p.space.params[k].values for k in keys))])
        from imcnas.search.strategies.base import nondominated_rank

        front = np.unique(F[nondominated_rank(F) == 0], axis=0)
        size: int | None = len(F)
        notes = ("5 Choice parameters of 4 unordered labels (1,024 designs); two place a design along a "
                 "ZDT1-shaped front, three push it away; front enumerated")
        pymoo_problem = None
    else:
        pymoo_problem = p.problem
        if name == "dtlz2":
            from pymoo.util.ref_dirs import get_reference_directions

            front = pymoo_problem.pareto_front(get_reference_directions("das-dennis", 3, n_partitions=50))
        else:
            front = pymoo_problem.pareto_front(n_pareto_points=2000)
        size = None
        notes = (f"pymoo {name.upper()} with {pymoo_problem.n_var} Float variables, {pymoo_problem.n_obj} "
                 "objectives; true hypervolume in closed form")

    def evaluate(s: Mapping[str, Any]) -> np.ndarray:
        v = p.evaluate(dict(s))
        return np.array([v[o] for o in objectives], dtype=float)

    return BenchProblem(name=name, label=name.upper() if name != "categorical" else "categorical synthetic",
                        space=p.space, objectives=objectives, evaluate=evaluate, key=sample_key,
                        ref=np.asarray(p.ref_point, dtype=float), true_front=np.asarray(front, dtype=float),
                        true_hv=float(p.true_hv), size=size, notes=notes, pymoo_problem=pymoo_problem)


PROBLEMS: dict[str, Callable[[], BenchProblem]] = {
    "imcbench": _imcbench,
    "analognas": _analognas,
    "nasbench-graph": _nasbench_graph,
    "categorical": lambda: _conformance("categorical"),
    "zdt1": lambda: _conformance("zdt1"),
    "dtlz2": lambda: _conformance("dtlz2"),
}


@lru_cache(maxsize=None)
def get_problem(name: str) -> BenchProblem:
    """A benchmark problem by name (built once per process)."""
    if name not in PROBLEMS:
        raise UnknownNameError("benchmark problem", name, list(PROBLEMS))
    return PROBLEMS[name]()


def unavailable(name: str) -> str | None:
    """Why problem ``name`` cannot be built here (None when it can)."""
    if name not in PROBLEMS:
        raise UnknownNameError("benchmark problem", name, list(PROBLEMS))
    try:
        get_problem(name)
    except ImportError as e:
        if (e.name or "").startswith("imcnas."):
            return f"not part of this version of imcnas ({e.name} does not exist yet)"
        return f"not available here ({e}; see the extras in pyproject.toml)"
    except (ConfigError, FileNotFoundError, OSError) as e:
        return f"not available here ({e})"
    return None
