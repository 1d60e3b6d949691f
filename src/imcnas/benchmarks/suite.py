"""``imcnas bench``: methods x problems x seeds, scored against each problem's true front.

Per run: the HV ratio (hypervolume of everything evaluated so far / the true front's, pymoo ``HV``, the
problem's reference point) after every distinct evaluation, and IGD+ (pymoo ``IGDPlus``) of the evaluated
non-dominated set at each checkpoint, both fronts normalised by the true front's ideal and nadir points so that
objectives in % and pJ weigh alike. Checkpoints: 100, 300 and 1,000 evaluations and 1 % of the space (finite
spaces), capped at the space's size. The optuna-based methods are capped at ``slow_asks`` samples asked.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from imcnas.benchmarks.problems import PROBLEMS, BenchProblem, get_problem, unavailable
from imcnas.benchmarks.runners import METHODS, run_method
from imcnas.errors import ConfigError, UnknownNameError

__all__ = ["BenchConfig", "TARGETS", "checkpoints", "default_methods", "load_results", "one_percent", "read_journal",
           "run_bench", "run_job", "save_results"]

TARGETS = (0.95, 0.98)
SPACE_FRACTION = 0.01
DEFAULT_PROBLEMS = ("imcbench", "analognas", "nasbench-graph", "categorical", "zdt1", "dtlz2")


def default_methods() -> list[str]:
    """Every method: our strategies, the plain baselines, the published-method configurations."""
    return list(METHODS)


@dataclass
class BenchConfig:
    """What ``imcnas bench`` runs. ``quick``: 2 seeds, checkpoints 100 and 300, optuna capped at 300 asks."""

    problems: Sequence[str] = DEFAULT_PROBLEMS
    methods: Sequence[str] = field(default_factory=default_methods)
    seeds: int = 10
    quick: bool = False
    jobs: int = 0  # 0: every core
    slow_asks: int = 1000
    reask_factor: int = 20

    def __post_init__(self) -> None:
        for p in self.problems:
            if p not in PROBLEMS:
                raise UnknownNameError("benchmark problem", p, list(PROBLEMS))
        for m in self.methods:
            if m not in METHODS:
                raise UnknownNameError("benchmark method", m, list(METHODS))
        if self.seeds < 1:
            raise ConfigError("bench: --seeds must be at least 1")
        if self.quick:
            self.slow_asks = min(self.slow_asks, 300)


def one_percent(size: int | None) -> int | None:
    """1 % of a finite space, rounded up (None for a continuous one)."""
    return None if size is None else max(1, math.ceil(SPACE_FRACTION * size))


def checkpoints(problem: BenchProblem, quick: bool) -> list[int]:
    """The evaluation counts reported for a problem (ascending; the last is the run's budget)."""
    base = [100, 300] if quick else [100, 300, 1000]
    pct = one_percent(problem.size)
    pts = set(base) | ({pct} if pct is not None and (not quick or pct <= base[-1]) else set())
    if problem.size is not None:
        pts = {min(c, problem.size) for c in pts}
    return sorted(pts)


def _normalised(F: np.ndarray, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = front.min(axis=0), front.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (F - lo) / span, (front - lo) / span


def igd_plus(F: np.ndarray, true_front: np.ndarray) -> float:
    """IGD+ of the non-dominated rows of F to the true front, both normalised by the true front's range."""
    from pymoo.indicators.igd_plus import IGDPlus

    from imcnas.search.strategies.base import nondominated_rank

    if len(F) == 0:
        return math.nan
    Fn, Tn = _normalised(np.asarray(F, dtype=float), np.asarray(true_front, dtype=float))
    return float(IGDPlus(Tn)(Fn[nondominated_rank(Fn) == 0]))


def evals_to(ratio: Sequence[float], target: float) -> int | None:
    """The first evaluation count whose HV ratio reaches ``target`` (None if the run never does)."""
    for i, r in enumerate(ratio):
        if r >= target - 1e-12:
            return i + 1
    return None


def run_job(problem: str, method: str, seed: int, budget: int, max_asks: int, points: Sequence[int]) -> dict:
    """One run, summarised for the report (JSON-able; runs in a worker process)."""
    p = get_problem(problem)
    r = run_method(method, p, budget, seed, max_asks=max_asks)
    return {"problem": problem, "method": method, "seed": seed, "budget": budget, "max_asks": max_asks,
            "asks": r.asks, "seconds": round(r.seconds, 3), "ratio": [round(float(x), 6) for x in r.ratio],
            "igd": {str(c): (igd_plus(r.F[:c], p.true_front) if len(r.F) >= c else None) for c in points},
            "to_target": {str(t): evals_to(r.ratio, t) for t in TARGETS}}


def _init_worker(warm: Sequence[tuple[Callable[..., None], tuple]] = ()) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    for fn, args in warm:  # caches the parent filled while building the problems (BenchProblem.extra["warm"])
        fn(*args)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def problem_meta(p: BenchProblem, quick: bool) -> dict[str, Any]:
    """What the report says about a problem."""
    return {"name": p.name, "label": p.label, "size": p.size, "objectives": list(p.objectives),
            "ref": p.ref.tolist(), "true_hv": p.true_hv, "front_size": int(len(p.true_front)),
            "notes": p.notes, "checkpoints": checkpoints(p, quick), "one_percent": one_percent(p.size),
            "params": len(p.space.names)}


def machine() -> str:
    """CPU model, cores and OS of this machine."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _job_key(problem: str, method: str, seed: int, budget: int, max_asks: int) -> tuple:
    return (problem, method, int(seed), int(budget), int(max_asks))


def read_journal(path: str | Path) -> dict[tuple, dict]:
    """Finished runs recorded in a journal (JSON lines), by (problem, method, seed, budget, max_asks); a line
    cut short by a kill is ignored."""
    done: dict[tuple, dict] = {}
    p = Path(path)
    if not p.exists():
        return done
    for line in p.read_text().splitlines():
        try:
            r = json.loads(line)
            done[_job_key(r["problem"], r["method"], r["seed"], r["budget"], r["max_asks"])] = r
        except (ValueError, KeyError, TypeError):
            continue
    return done


def run_bench(cfg: BenchConfig, progress: Callable[[dict, int, int], None] | None = None,
              journal: str | Path | None = None) -> dict[str, Any]:
    """Run the benchmark; returns ``{"meta": ..., "results": [run_job dicts]}``. With ``journal``, every
    finished run is appended to that JSON-lines file at once, and runs already in it are not run again (an
    interrupted benchmark resumes where it stopped)."""
    import optuna
    import pymoo

    t0 = time.perf_counter()
    problems, skipped = {}, {}
    for name in cfg.problems:
        why = unavailable(name)
        if why is None:
            problems[name] = problem_meta(get_problem(name), cfg.quick)
        else:
            skipped[name] = why
    jobs = []
    for name, pm in problems.items():
        budget = pm["checkpoints"][-1]
        for m in cfg.methods:
            max_asks = cfg.slow_asks if METHODS[m].slow else cfg.reask_factor * budget
            jobs += [(name, m, s, budget, max_asks, pm["checkpoints"]) for s in range(cfg.seeds)]
    jobs.sort(key=lambda j: (-(j[3] * (3 if METHODS[j[1]].slow or "surrogate" in j[1] else 1))))
    done = read_journal(journal) if journal else {}
    results = [done[_job_key(*j[:5])] for j in jobs if _job_key(*j[:5]) in done]
    reused = len(results)
    todo = [j for j in jobs if _job_key(*j[:5]) not in done]
    n_jobs = cfg.jobs or os.cpu_count() or 1
    log = open(journal, "a") if journal else None  # noqa: SIM115 - closed in finally

    def finish(r: dict) -> None:
        results.append(r)
        if log is not None:
            log.write(json.dumps(r) + "\n")
            log.flush()
        if progress:
            progress(r, len(results), len(jobs))

    try:
        if n_jobs == 1 or len(todo) <= 1:
            for j in todo:
                finish(run_job(*j))
        else:
            import multiprocessing as mp

            warm = [w for name in problems if (w := get_problem(name).extra.get("warm")) is not None]
            with ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                     initargs=(warm,)) as pool:
                futures = [pool.submit(run_job, *j) for j in todo]
                try:
                    for f in as_completed(futures):
                        finish(f.result())
                except KeyboardInterrupt:
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.terminate()  # a run in progress is lost; finished ones are in the journal
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        if log is not None:
            log.close()
    meta = {"quick": cfg.quick, "seeds": cfg.seeds, "methods": list(cfg.methods), "problems": problems,
            "skipped": skipped, "slow_asks": cfg.slow_asks, "reask_factor": cfg.reask_factor, "jobs": n_jobs,
            "targets": list(TARGETS), "machine": machine(), "resumed_runs": reused,
            "versions": {"python": platform.python_version(), "numpy": np.__version__, "pymoo": pymoo.__version__,
                         "optuna": optuna.__version__},
            "total_s": time.perf_counter() - t0, "run_s": float(sum(r["seconds"] for r in results))}
    return {"meta": meta, "results": results}


def save_results(data: dict[str, Any], path: str | Path) -> Path:
    """Write a bench result (``run_bench``'s dict) as JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data))
    return p


def load_results(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Read one or more saved results and merge them: problems, methods and runs united, runtimes added; a run
    (problem, method, seed) in a later file replaces the same run of an earlier one."""
    merged: dict[str, Any] | None = None
    for path in paths:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
            data["meta"], data["results"]  # noqa: B018 - the two keys a result file must have
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{p}: not a results.json written by 'imcnas bench' ({e})") from None
        if merged is None:
            merged = data
            continue
        m, n = merged["meta"], data["meta"]
        if m["quick"] != n["quick"] or m["seeds"] != n["seeds"]:
            raise ConfigError(f"{p}: cannot merge a run with {n['seeds']} seeds (quick={n['quick']}) into one "
                              f"with {m['seeds']} (quick={m['quick']})")
        m["problems"].update(n["problems"])
        m["skipped"] = {k: v for k, v in {**m["skipped"], **n["skipped"]}.items() if k not in m["problems"]}
        m["methods"] += [x for x in n["methods"] if x not in m["methods"]]
        m["total_s"] += n["total_s"]
        m["run_s"] = m.get("run_s", 0.0) + n.get("run_s", 0.0)
        newer = {(r["problem"], r["method"], r["seed"]) for r in data["results"]}
        merged["results"] = [r for r in merged["results"] if (r["problem"], r["method"], r["seed"]) not in newer]
        merged["results"] += data["results"]
    if merged is None:
        raise ConfigError("bench --load: no file given")
    return merged
