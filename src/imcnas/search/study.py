"""The search loop: ask -> build -> cheap cost model -> constraint filter -> expensive evaluation (at the
configured fidelity) -> tell -> persist -> progress -> stop?

Persistence and resume: every finished trial goes to the optuna storage, then the strategy's state snapshot
(with the next trial number) is written after each tell. On ``resume`` the snapshot is restored and trials
stored after it are matched to the strategy's re-asked samples by number and sample, so in sequential mode no
finished trial is lost or evaluated twice. A failed evaluation is recorded with its reason and the search
goes on. Same seed and config give the same trials in sequential (in-process) mode.

Ctrl-C (SIGINT, and SIGTERM alike): evaluation stops at once; every finished trial of the running batch is stored, the ones still
running are stored as FAILED with ``info["interrupted"]`` (they do not count towards the budget) and
``KeyboardInterrupt`` propagates. On ``resume`` they are evaluated again under their numbers. Storage writes
are never cut half-way: a Ctrl-C that arrives during one takes effect after it.

Before the first trial, :func:`imcnas.search.preflight.preflight` checks the config against the hardware, the
family and the cost model. One process writes a study at a time (:class:`imcnas.search.lock.StudyLock`). A
finished study is extended by resuming it with a larger ``budget`` (the budget and executor sections may
change on resume; nothing else may).
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from imcnas.accuracy.graphs import example_input, is_graph, refuse_non_graph
from imcnas.config import ExperimentConfig, load_plugins
from imcnas.errors import ConfigError
from imcnas.search.evaluate import Task, cheap_metrics, dataset_for
from imcnas.search.executors import make_executor
from imcnas.search.lock import StudyLock
from imcnas.search.objectives import Formulation
from imcnas.search.preflight import preflight
from imcnas.search.rungs import Finished, FidelityRungs, Job
from imcnas.search.status import StudyStatus
from imcnas.search.storage import StudyStorage, storage_url
from imcnas.search.strategies import get_strategy
from imcnas.search.trial import Trial, TrialState, sample_key
from imcnas.space.build import build, search_space

ACCURACY_METRICS = ("accuracy", "accuracy_lb", "error", "digital_accuracy")
RESUMABLE_SECTIONS = ("budget", "executor")  # may differ on resume (extend a study, more workers)
INTERRUPTED = "interrupted by Ctrl-C before it finished; --resume evaluates it again"
Progress = Callable[["StudyStatus"], None]


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
        and t.info.get("duplicate_of") is None and not t.info.get("interrupted")


class Study(FidelityRungs):
    """One co-search experiment bound to an output folder."""

    def __init__(self, cfg: ExperimentConfig, out_dir: str | Path, *, resume: bool = False,
                 progress: Progress | None = None) -> None:
        self.cfg, self.out = cfg, Path(out_dir)
        load_plugins(cfg.plugins)  # (already imported when cfg came from a file) handed to the workers
        self.form = cfg.formulation_obj()
        _check_config(cfg, self.form)
        self.progress = progress
        self.data = dataset_for(cfg)
        self.shape, self.classes = tuple(self.data.input_shape), self.data.num_classes
        refuse_non_graph(cfg.model.family, self.data)
        if is_graph(self.data) and cfg.fidelity.kind != "full":
            raise ConfigError(f"fidelity.kind: '{cfg.fidelity.kind}' uses a zero-cost proxy, which graph datasets "
                              "do not support yet; use 'full'")
        # traced by the cost model: one dataset input (dtype included: token ids), or one graph's arguments
        self.example = example_input(self.data) if is_graph(self.data) else self.data.train[:1][0]
        self.space = search_space(cfg, self.shape, self.classes)
        self.objectives = self.form.objectives()
        # the strategy (name and options checked) before anything is written to the output folder
        self.strategy = get_strategy(cfg.strategy.name, **cfg.strategy.options)
        self.strategy.setup(self.space, self.objectives, cfg.seed)
        if resume and cfg.storage is None and not self.out.is_dir():
            raise ConfigError(f"{self.out}: no study to resume there (no such folder); run without --resume to "
                              "start one")
        self.preflight = preflight(cfg, self.space, self.shape, self.classes, self.example)
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = StudyLock(self.out).acquire()
        try:
            self._open_storage(resume)
        except BaseException:
            self._lock.release()
            raise
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
            if t.number < self.next_number:
                self._remember(t)
        self.status = StudyStatus(budget=cfg.budget.trials)
        self._stop, self._interruptible, self._presses = False, False, 0
        self._recount()

    def _open_storage(self, resume: bool) -> None:
        cfg = self.cfg
        if resume and cfg.storage is None and not (self.out / "study.db").exists():
            raise ConfigError(f"{self.out}: no study to resume there (no study.db); run without --resume to "
                              "start one")
        self.storage = StudyStorage(storage_url(self.out, cfg.storage))
        cfg_dict = cfg.model_dump(mode="json")
        if self.storage.exists():
            if not resume:
                raise ConfigError(f"{self.out}: already holds a study; pass --resume to continue it or choose "
                                  "another --out")
            self.storage.open()
            stored = self.storage.config
            if "plugins" not in stored and not cfg_dict["plugins"]:  # stored before the plugins: list existed
                stored = {"plugins": [], **stored}
            fixed = {k: v for k, v in cfg_dict.items() if k not in RESUMABLE_SECTIONS}
            if json.dumps({k: v for k, v in stored.items() if k not in RESUMABLE_SECTIONS}) != json.dumps(fixed):
                diff = sorted(k for k in fixed if stored.get(k) != fixed[k])  # key order matters (sampling order)
                raise ConfigError(f"{self.out}: the stored study was run with a different config "
                                  f"(section '{diff[0] if diff else '?'}'); resume needs the same config "
                                  f"(only {' and '.join(RESUMABLE_SECTIONS)} may change)")
            if stored.get("budget", {}).get("batch") != cfg_dict["budget"]["batch"]:
                raise ConfigError(f"{self.out}: budget.batch was {stored.get('budget', {}).get('batch')}; "
                                  "resume needs the same batch size (the strategy asks in batches)")
            if json.dumps(stored) != json.dumps(cfg_dict):
                self.storage.set_config(cfg_dict)  # extended budget or another executor
                (self.out / "config.yaml").write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
        elif resume:
            raise ConfigError(f"{self.out}: the storage holds no study to resume; run without --resume")
        else:
            self.storage.create(self.objectives, cfg_dict)
            (self.out / "config.yaml").write_text(yaml.safe_dump(cfg_dict, sort_keys=False))

    def close(self) -> None:
        """Release the study's writer lock (also done at the end of :meth:`run`)."""
        self._lock.release()

    def __enter__(self) -> "Study":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        self.trials = [t for t in self.trials if t.number != trial.number]  # an interrupted record, replaced
        self.trials.append(trial)
        self._remember(trial)

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
            values, info = cheap_metrics(cand, self.shape, self.example)
        except Exception as err:  # noqa: BLE001 - a sample that cannot be built is a failed trial
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            return Trial(number, sample, {}, TrialState.FAILED, {"reason": reason, "stage": "build"}), {}, {}
        info.update({"input_shape": list(self.shape), "num_classes": self.classes, "family": self.cfg.model.family,
                     "cost": dict(values)})
        if is_graph(self.data):  # the priced graph's size (export rebuilds an example input of that size)
            x, edge_index = self.example[:2]
            info["graph"] = {"nodes": int(x.shape[0]), "edges": int(edge_index.shape[1]),
                             "task": self.data.task}
        ok, why = self.form.feasible(values)
        if not ok:
            return Trial(number, sample, values, TrialState.INFEASIBLE, {**info, "reason": why,
                                                                         "stage": "constraints"}), values, info
        return None, values, info

    def _batch(self, samples: list[dict[str, Any]]) -> list[Trial]:
        """Evaluate one asked batch and return what to tell the strategy, in ask order (then stored trials a
        re-asked batch did not match). A sample whose design was already evaluated, failed or rejected (or
        appears earlier in the batch) is a duplicate: it gets no number, is not stored and not evaluated, and
        is told with the original's result and ``info["duplicate_of"]``."""
        finished: dict[int, Finished] = {}
        reused: set[int] = set()
        jobs: list[Job] = []
        order: list[int | tuple[dict[str, Any], Trial | int]] = []  # numbers, or (sample, original) pairs
        first: dict[str, int] = {}  # key -> number of its first occurrence in this batch
        for s in samples:
            key = sample_key(s)
            orig = self._seen.get(key) or first.get(key)
            if orig is not None:
                order.append((s, orig))
                continue
            number = self.next_number
            self.next_number += 1
            first[key] = number
            order.append(number)
            if self._pending and self._pending[0].number == number:
                stored = self._pending.pop(0)
                if sample_key(stored.sample) == key:
                    if not stored.info.get("interrupted"):
                        finished[number] = (stored, None)  # evaluated before the process stopped: reuse it
                        reused.add(number)
                        continue
                    # interrupted by Ctrl-C: evaluated again under its number below
                else:
                    self._pending.insert(0, stored)  # asks diverged (parallel run): keep stored trials as data
                    number = self.next_number = max(t.number for t in self.trials) + 1
                    self.next_number += 1
                    first[key] = number
                    order[-1] = number
            rejected, cheap, info = self._cheap(number, s)
            if rejected is not None:
                finished[number] = (rejected, None)
            else:
                jobs.append((number, s, cheap, info))
        self.status.in_batch = 0
        try:
            self._expensive(jobs, finished)
        except KeyboardInterrupt:
            self._interruptible = False  # the records below are written whole
            for n, s, cheap, info in jobs:
                if n not in finished:
                    finished[n] = (Trial(n, s, cheap, TrialState.FAILED,
                                         {**info, "reason": INTERRUPTED, "stage": "interrupted",
                                          "interrupted": True}), None)
            self._store(finished, reused)
            raise
        self._interruptible = False
        self._store(finished, reused)
        told = []
        for item in order:
            if isinstance(item, int):
                told.append(finished[item][0])
                continue
            s, orig = item
            o = finished[orig][0] if isinstance(orig, int) else orig
            told.append(Trial(o.number, s, dict(o.values), o.state, {**dict(o.info), "duplicate_of": o.number}))
            self.status.duplicates += 1
        leftovers = [t for t in self._pending if t.number < self.next_number]
        self._pending = [t for t in self._pending if t.number >= self.next_number]
        for t in leftovers:  # stored trials the re-asked batch did not match: data for duplicates, too
            self._remember(t)
        return told + leftovers

    def _remember(self, trial: Trial) -> None:
        """Make a stored trial's design known for duplicate detection: every outcome counts (a failed design
        is not evaluated again unless ``budget.retry_failed``), except an interrupted one."""
        if trial.info.get("interrupted") or trial.info.get("duplicate_of") is not None:
            return
        if trial.state is TrialState.FAILED and self.cfg.budget.retry_failed:
            return
        self._seen.setdefault(sample_key(trial.sample), trial)

    def _store(self, finished: dict[int, Finished], reused: set[int]) -> list[Trial]:
        new = []
        for number in sorted(finished):
            trial, weights = finished[number]
            if number not in reused:
                self._record(trial, weights)
            else:  # reused after a resume
                self._remember(trial)
            new.append(trial)
        self.status.done_this_run += sum(_counts(t) for n, (t, _) in finished.items() if n not in reused)
        self.status.in_batch = 0
        return new

    # ------------------------------------------------------------------------------------------------ run
    def _on_sigint(self, signum: int, frame: Any) -> None:
        self._stop = True
        self._presses += 1
        if self._interruptible or self._presses >= 3:  # a third press leaves even a storage write
            raise KeyboardInterrupt

    def run(self) -> StudyStatus:
        """Run until the budget of evaluated trials or the time limit is reached. Ctrl-C stores what finished,
        records the running trials as interrupted and raises KeyboardInterrupt (``status.interrupted``)."""
        b = self.cfg.budget
        deadline = time.time() + b.time_s if b.time_s else math.inf
        self._stop, self._presses = False, 0
        if not self._lock.held:  # run again after an earlier run released it
            self._lock.acquire()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():  # SIGTERM (a scheduler's stop) as Ctrl-C
            previous = {sig: signal.signal(sig, self._on_sigint) for sig in (signal.SIGINT, signal.SIGTERM)}
        self._executor = make_executor(self.cfg.executor)
        rejected_streak, duplicates, last_reason = 0, 0, ""
        try:
            self._recount()
            self._notify()
            while self.status.evaluated < b.trials and time.time() < deadline and not self._stop:
                # as the original run asked: trials stored after the snapshot are part of this (re-asked) batch
                pending = sum(_counts(t) for t in self._pending)
                n = min(b.batch, b.trials - (self.status.evaluated - pending))
                self._interruptible = True
                asked = self.strategy.ask(n)
                if not asked:
                    self.status.message = "stopped: the strategy has no new design to ask (the space is exhausted)"
                    break
                told = self._batch(asked)
                self._interruptible = False
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
            if self._stop:
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            self._interruptible = False
            self.status.interrupted = True
            self.trials = self.storage.trials()
            self._recount()
            running = sum(bool(t.info.get("interrupted")) for t in self.trials)
            self.status.message = (f"interrupted: {self.status.evaluated} evaluated trials are stored"
                                   + (f", {running} that were running are marked interrupted" if running else ""))
            raise
        finally:
            self._interruptible = False
            self._executor.shutdown(kill=self.status.interrupted)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()
        return self.status

    def _notify(self) -> None:
        if self.progress is not None:
            self.progress(self.status)


