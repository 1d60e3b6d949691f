"""The search loop: ask -> build -> cheap cost model -> constraint filter -> expensive evaluation (at the
configured fidelity) -> tell -> persist -> progress -> stop?

Persistence and resume: every finished trial goes to the optuna storage, then the strategy's state snapshot
(with the next trial number) is written after each tell. On ``resume`` the snapshot is restored and trials
stored after it are matched to the strategy's re-asked samples by number and sample, so in sequential mode no
finished trial is lost or evaluated twice. A failed evaluation is recorded with its reason and the search
goes on. Same seed and config give the same trials in sequential (in-process) mode.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from imcnas.config import ExperimentConfig
from imcnas.errors import ConfigError
from imcnas.search.evaluate import Outcome, Task, cheap_metrics, dataset_for, run_task, sample_key
from imcnas.search.executors import make_executor
from imcnas.search.objectives import Formulation
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.strategies import get_strategy
from imcnas.search.trial import Trial, TrialState
from imcnas.space.build import build, search_space

ACCURACY_METRICS = ("accuracy", "accuracy_lb", "error", "digital_accuracy")
Progress = Callable[["StudyStatus"], None]


@dataclass
class StudyStatus:
    """What the progress display shows."""

    evaluated: int = 0
    budget: int = 0
    complete: int = 0
    infeasible: int = 0
    failed: int = 0
    trials: list[Trial] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    message: str = ""


def _check_config(cfg: ExperimentConfig, form: Formulation) -> None:
    uses_acc = [m.name for m in form.metrics if m.name in ACCURACY_METRICS]
    if cfg.fidelity.kind == "proxy" and uses_acc:
        raise ConfigError(f"fidelity.kind: 'proxy' trains nothing, so objective '{uses_acc[0]}' is unavailable; "
                          "use the 'proxy' objective or another fidelity")
    if cfg.fidelity.kind != "proxy" and "proxy" in [m.name for m in form.metrics]:
        raise ConfigError("objectives: 'proxy' needs fidelity.kind: proxy")


def _counts(t: Trial) -> bool:
    """True when a trial counts towards the budget (evaluated, not a duplicate or rejected sample)."""
    return t.state in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED) \
        and t.info.get("duplicate_of") is None


class Study:
    """One co-search experiment bound to an output folder."""

    def __init__(self, cfg: ExperimentConfig, out_dir: str | Path, *, resume: bool = False,
                 progress: Progress | None = None) -> None:
        self.cfg, self.out = cfg, Path(out_dir)
        self.form = cfg.formulation_obj()
        _check_config(cfg, self.form)
        self.progress = progress
        self.data = dataset_for(cfg)
        self.shape, self.classes = tuple(self.data.input_shape), self.data.num_classes
        self.space = search_space(cfg, self.shape, self.classes)
        self.objectives = self.form.objectives()
        # the strategy (name and options checked) before anything is written to the output folder
        self.strategy = get_strategy(cfg.strategy.name, **cfg.strategy.options)
        self.strategy.setup(self.space, self.objectives, cfg.seed)
        self.out.mkdir(parents=True, exist_ok=True)
        self.storage = StudyStorage(storage_url(self.out, cfg.storage))
        cfg_dict = cfg.model_dump(mode="json")
        if self.storage.exists():
            if not resume:
                raise ConfigError(f"{self.out}: already holds a study; pass --resume to continue it or choose "
                                  "another --out")
            self.storage.open()
            if json.dumps(self.storage.config) != json.dumps(cfg_dict):  # key order matters (sampling order)
                diff = sorted(k for k in cfg_dict if self.storage.config.get(k) != cfg_dict[k])
                raise ConfigError(f"{self.out}: the stored study was run with a different config "
                                  f"(section '{diff[0] if diff else '?'}'); resume needs the same config")
        else:
            self.storage.create(self.objectives, cfg_dict)
            (self.out / "config.yaml").write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
        self.trials: list[Trial] = self.storage.trials()
        state = self.storage.load_state()
        self.next_number = 0
        if state:
            self.strategy.load_state_dict(state["strategy"])
            self.next_number = int(state["next_number"])
        self._pending = [t for t in self.trials if t.number >= self.next_number]
        # duplicates are detected against trials told before the snapshot, as the original run did; stored
        # trials after it join when their batch is re-asked (see _batch)
        self._seen: dict[str, Trial] = {}
        for t in self.trials:
            if t.state is TrialState.COMPLETE and t.number < self.next_number:
                self._seen.setdefault(sample_key(t.sample), t)
        self.status = StudyStatus(budget=cfg.budget.trials)
        self._recount()

    # --------------------------------------------------------------------------------------- bookkeeping
    def _recount(self) -> None:
        s = self.status
        s.trials = self.trials
        s.complete = sum(t.state is TrialState.COMPLETE for t in self.trials)
        s.failed = sum(t.state is TrialState.FAILED for t in self.trials)
        s.infeasible = sum(t.state is TrialState.INFEASIBLE for t in self.trials)
        s.evaluated = sum(_counts(t) for t in self.trials)

    def _record(self, trial: Trial, weights: bytes | None = None) -> None:
        self.storage.save(trial, self.space)
        if weights is not None:
            wdir = self.out / "weights"
            wdir.mkdir(exist_ok=True)
            (wdir / f"trial_{trial.number}.pt").write_bytes(weights)
        self.trials.append(trial)
        if trial.state is TrialState.COMPLETE:
            self._seen.setdefault(sample_key(trial.sample), trial)

    def _task(self, number: int, sample: dict[str, Any], fidelity: str) -> Task:
        return Task(number, dict(sample), self.cfg.model_dump(mode="json"), fidelity, self.cfg.seed,
                    self.cfg.save_weights and fidelity == "full")

    # ------------------------------------------------------------------------------------------ one batch
    def _cheap(self, number: int, sample: dict[str, Any]) -> tuple[Trial | None, dict[str, float], dict[str, Any]]:
        """Feasibility and cost-model metrics. Returns a finished (rejected/failed) trial, or None to go on."""
        ok, why = self.space.is_feasible(sample)
        if not ok:
            return Trial(number, sample, {}, TrialState.INFEASIBLE, {"reason": why, "stage": "space"}), {}, {}
        try:
            cand = build(sample, self.cfg, self.shape, self.classes, seed=self.cfg.seed)
            values, info = cheap_metrics(cand, self.shape)
        except Exception as err:  # noqa: BLE001 - a sample that cannot be built is a failed trial
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            return Trial(number, sample, {}, TrialState.FAILED, {"reason": reason, "stage": "build"}), {}, {}
        info.update({"input_shape": list(self.shape), "num_classes": self.classes, "family": self.cfg.model.family,
                     "cost": dict(values)})
        ok, why = self.form.feasible(values)
        if not ok:
            return Trial(number, sample, values, TrialState.INFEASIBLE, {**info, "reason": why,
                                                                         "stage": "constraints"}), values, info
        return None, values, info

    def _expensive(self, jobs: list[tuple[int, dict, dict, dict]]) -> dict[int, tuple[Trial, bytes | None]]:
        """Evaluate (number, sample, cheap values, info) jobs at the configured fidelity."""
        kind = self.cfg.fidelity.kind
        if kind == "proxy":
            rungs = ["proxy"]
        elif kind == "full":
            rungs = ["full"]
        else:
            rungs = ["proxy", "short", "full"]
        alive = list(jobs)
        results: dict[int, tuple[Trial, bytes | None]] = {}
        for r, fidelity in enumerate(rungs):
            outs = self._run_all([self._task(n, s, fidelity) for n, s, _, _ in alive])
            scored = []
            for (n, s, cheap, info), o in zip(alive, outs):
                if not o.ok:
                    results[n] = (Trial(n, s, cheap, TrialState.FAILED, {**info, **o.info}), None)
                    continue
                values = self.form.strategy_values({**cheap, **o.values}) if r == len(rungs) - 1 else \
                    {**cheap, **o.values}
                state = TrialState.COMPLETE if r == len(rungs) - 1 else TrialState.PRUNED
                results[n] = (Trial(n, s, values, state, {**info, **o.info}), o.weights)
                scored.append(((n, s, cheap, info), self._rung_score(values)))
            if r < len(rungs) - 1:
                keep = max(1, math.ceil(len(alive) / self.cfg.fidelity.eta))
                scored.sort(key=lambda p: -p[1])
                alive = [job for job, _ in scored[:keep]]
        return results

    def _rung_score(self, values: dict[str, float]) -> float:
        """Higher is better: the proxy, else the first accuracy-like objective, else minus the first objective."""
        if "proxy" in values:
            return values["proxy"]
        for m in self.form.metrics:
            if m.key in values:
                v = values[m.key]
                return v if not m.minimize else -v
        return 0.0

    def _run_all(self, tasks: list[Task]) -> list[Outcome]:
        if not tasks:
            return []
        ex = self._executor
        futures = [ex.submit(run_task, t) for t in tasks]
        pending = set(futures)
        while pending:
            for f in ex.wait_any(list(pending)):
                pending.discard(f)
        return [f.result() for f in futures]

    def _batch(self, samples: list[dict[str, Any]]) -> list[Trial]:
        finished: dict[int, tuple[Trial, bytes | None]] = {}
        jobs = []
        for s in samples:
            number = self.next_number
            self.next_number += 1
            if self._pending and self._pending[0].number == number:
                stored = self._pending.pop(0)
                if sample_key(stored.sample) == sample_key(s):
                    finished[number] = (stored, None)  # evaluated before the process stopped: reuse it
                    continue
                self._pending.insert(0, stored)  # asks diverged (parallel run): keep stored trials as data
                number = self.next_number = max(t.number for t in self.trials) + 1
                self.next_number += 1
            dup = self._seen.get(sample_key(s))
            if dup is not None:
                finished[number] = (Trial(number, s, dict(dup.values), TrialState.COMPLETE,
                                          {**dict(dup.info), "duplicate_of": dup.number}), None)
                continue
            rejected, cheap, info = self._cheap(number, s)
            if rejected is not None:
                finished[number] = (rejected, None)
            else:
                jobs.append((number, s, cheap, info))
        finished.update(self._expensive(jobs))
        new = []
        stored_numbers = {t.number for t in self.trials}
        for number in sorted(finished):
            trial, weights = finished[number]
            if number not in stored_numbers:
                self._record(trial, weights)
            elif trial.state is TrialState.COMPLETE:  # reused after a resume
                self._seen.setdefault(sample_key(trial.sample), trial)
            new.append(trial)
        leftovers = [t for t in self._pending if t.number < self.next_number]
        self._pending = [t for t in self._pending if t.number >= self.next_number]
        for t in leftovers:  # stored trials the re-asked batch did not match: data for duplicates, too
            if t.state is TrialState.COMPLETE:
                self._seen.setdefault(sample_key(t.sample), t)
        return new + leftovers

    # ------------------------------------------------------------------------------------------------ run
    def run(self) -> StudyStatus:
        """Run until the budget of evaluated trials or the time limit is reached."""
        b = self.cfg.budget
        deadline = time.time() + b.time_s if b.time_s else math.inf
        self._executor = make_executor(self.cfg.executor.kind, self.cfg.executor.workers)
        rejected_streak, duplicates, last_reason = 0, 0, ""
        try:
            self._recount()
            self._notify()
            while self.status.evaluated < b.trials and time.time() < deadline:
                # as the original run asked: trials stored after the snapshot are part of this (re-asked) batch
                pending = sum(_counts(t) for t in self._pending)
                n = min(b.batch, b.trials - (self.status.evaluated - pending))
                told = self._batch(self.strategy.ask(n))
                self.strategy.tell(told)
                self.storage.save_state({"strategy": self.strategy.state_dict(), "next_number": self.next_number})
                for t in told:
                    if t.state is TrialState.INFEASIBLE or t.info.get("duplicate_of") is not None:
                        rejected_streak += 1
                        duplicates += t.info.get("duplicate_of") is not None
                        last_reason = str(t.info.get("reason", "duplicate sample"))
                    else:
                        rejected_streak, duplicates = 0, 0
                self._recount()
                self._notify()
                if rejected_streak >= b.max_rejected:
                    why = "nothing in the space seems to satisfy the constraints" if not duplicates else \
                        (f"{duplicates} were duplicates of evaluated designs: the strategy finds no new feasible "
                         "designs (a small space is exhausted, or the constraints leave little of it)")
                    self.status.message = (f"stopped: {rejected_streak} consecutive samples were rejected "
                                           f"(last: {last_reason}); {why}")
                    raise ConfigError(self.status.message)
        finally:
            self._executor.shutdown()
        return self.status

    def _notify(self) -> None:
        if self.progress is not None:
            self.progress(self.status)
