"""Evaluation of a batch's candidates at the configured fidelity, as a mixin of :class:`~imcnas.search.study.Study`.

``full``: every candidate is trained and evaluated once. ``proxy``: the zero-cost proxy only.
``successive_halving``: the proxy for the whole batch, short training for the best 1/eta, full training for the
best 1/eta^2; candidates dropped on the way are stored as PRUNED with their last rung's values. Outcomes reach
the study one by one as they arrive, so a Ctrl-C keeps every trial that had finished.
"""
from __future__ import annotations

import concurrent.futures as cf
import concurrent.futures.process  # noqa: F401 - cf.process.BrokenProcessPool
import math
import time
from typing import Any, Callable

from imcnas.search.evaluate import Outcome, run_task
from imcnas.search.trial import Trial, TrialState

Job = tuple[int, dict, dict, dict]  # (number, sample, cheap values, info)
Finished = tuple[Trial, "bytes | None"]  # (trial, weights)


class FidelityRungs:
    """The expensive half of a batch; needs ``cfg``, ``form``, ``status``, ``_executor``, ``_task`` and
    ``_notify`` from the study."""

    cfg: Any
    form: Any
    status: Any
    _executor: Any
    _task: Callable[..., Any]
    _notify: Callable[[], None]

    def _expensive(self, jobs: list[Job], finished: dict[int, Finished]) -> None:
        """Evaluate (number, sample, cheap values, info) jobs at the configured fidelity; each trial goes into
        ``finished`` as soon as its outcome is final (so a Ctrl-C keeps it)."""
        kind = self.cfg.fidelity.kind
        rungs = ["proxy"] if kind == "proxy" else ["full"] if kind == "full" else ["proxy", "short", "full"]
        alive = list(jobs)
        for r, fidelity in enumerate(rungs):
            last = r == len(rungs) - 1
            scored: list[tuple[float, int, Job]] = []
            tentative: dict[int, Finished] = {}

            def done(i: int, job: Job, o: Outcome, last: bool = last, scored: list = scored,
                     tentative: dict = tentative) -> None:
                n, s, cheap, info = job
                if not o.ok:
                    finished[n] = (Trial(n, s, cheap, TrialState.FAILED, {**info, **o.info}), None)
                elif last:
                    values = self.form.strategy_values({**cheap, **o.values})
                    finished[n] = (Trial(n, s, values, TrialState.COMPLETE, {**info, **o.info}), o.weights)
                else:
                    values = {**cheap, **o.values}
                    tentative[n] = (Trial(n, s, values, TrialState.PRUNED, {**info, **o.info}), o.weights)
                    scored.append((-self._rung_score(values), i, job))
                self.status.in_batch += 1 if (not o.ok or last) else 0
                self._notify()

            self._run_all(alive, fidelity, done)
            if not last:
                keep = max(1, math.ceil(len(alive) / self.cfg.fidelity.eta))
                scored.sort(key=lambda p: (p[0], p[1]))  # by score, ties in ask order (deterministic)
                alive = [job for _, _, job in scored[:keep]]
                for _, _, job in scored[keep:]:
                    finished[job[0]] = tentative[job[0]]
                    self.status.in_batch += 1

    def _rung_score(self, values: dict[str, float]) -> float:
        """Higher is better: the proxy, else the first accuracy-like objective, else minus the first objective."""
        if "proxy" in values:
            return values["proxy"]
        for m in self.form.metrics:
            if m.key in values:
                v = values[m.key]
                return v if not m.minimize else -v
        return 0.0

    def _run_all(self, jobs: list[Job], fidelity: str, done: Callable[[int, Job, Outcome], None]) -> None:
        """Submit every job, hand each outcome to ``done`` as it arrives. On Ctrl-C, outcomes that had arrived
        are handed over before the interrupt propagates.

        Workers that die (killed, out of memory) break a process pool and lose every job in flight. Those
        jobs become *suspects* and run again on fresh workers one suspect at a time, beside the other jobs; a
        suspect that breaks the pool twice while it is the only suspect in flight is the culprit and is recorded
        FAILED (its worker died twice), the others go on. A job running past ``executor.trial_timeout_s`` is stopped
        (the workers are replaced, the other jobs in flight resubmitted) and recorded FAILED."""
        ex = self._executor
        limit = self.cfg.executor.trial_timeout_s
        futures: dict[cf.Future, int] = {}
        gen: dict[cf.Future, int] = {}  # the executor generation a future was submitted to
        started: dict[cf.Future, float] = {}  # when a future got a worker
        seen: dict[cf.Future, float] = {}  # when a future was first seen running
        suspects: list[int] = []  # jobs lost with a dead worker, waiting to run one at a time
        suspect_live: set[int] = set()
        strikes: dict[int, int] = {}  # pool breaks while a job was the only suspect in flight
        pending: set[cf.Future] = set()
        handled: set[cf.Future] = set()

        def submit(i: int) -> None:
            f = ex.submit(run_task, self._task(jobs[i][0], jobs[i][1], fidelity))
            futures[f], gen[f] = i, getattr(ex, "generation", 0)
            pending.add(f)

        def next_suspect() -> None:
            if suspects and not suspect_live:
                i = suspects.pop(0)
                suspect_live.add(i)
                submit(i)

        def lose_all(extra: cf.Future | None = None) -> list[cf.Future]:
            """Every future of the current pool (all lost when it is replaced), removed from ``pending``."""
            now_gen = getattr(ex, "generation", 0)
            lost = [f for f in pending if gen[f] == now_gen] + ([extra] if extra is not None else [])
            for f in lost:
                pending.discard(f)
                handled.add(f)
            return lost

        try:
            for i in range(len(jobs)):
                submit(i)
            while pending or suspects:
                next_suspect()
                now = time.monotonic()
                # a pool marks one queued call "running" ahead of a free worker: only the first ``workers``
                # running futures (in the order they were seen running) hold a worker; their clocks start then
                for f in pending:
                    if f not in seen and f.running():
                        seen[f] = now
                running = sorted((f for f in pending if f in seen), key=seen.__getitem__)
                for f in running[:getattr(ex, "workers", len(running))]:
                    started.setdefault(f, now)
                late = {f for f in pending if limit and f in started and now - started[f] > limit and not f.done()}
                if late and hasattr(ex, "restart"):
                    lost = lose_all()
                    ex.restart()  # the only way to stop a running task in a process pool
                    for f in lost:
                        i = futures[f]
                        suspect_live.discard(i)
                        if f in late:
                            done(i, jobs[i], Outcome(jobs[i][0], False, info={
                                "reason": f"timed out after {limit:g} s (executor.trial_timeout_s)"}))
                        else:  # bystanders: run again on the fresh workers
                            submit(i)
                    continue
                for f in ex.wait_any(list(pending), timeout=0.5):
                    if f not in pending:  # lost with its pool above
                        continue
                    i = futures[f]
                    if (_worker_died(f) or f.cancelled()) and not hasattr(ex, "restart"):
                        # workers fail one task at a time (ray): only this job was lost; it runs once more
                        pending.discard(f)
                        handled.add(f)
                        if i not in strikes:
                            strikes[i] = 1
                            submit(i)
                        else:
                            out = _outcome(f, jobs[i][0])
                            out.info["reason"] = "worker died twice: " + str(out.info.get("reason", ""))
                            done(i, jobs[i], out)
                        continue
                    if _worker_died(f) or f.cancelled():
                        if gen[f] != getattr(ex, "generation", 0):  # its pool was already replaced
                            pending.discard(f)
                            submit(i)
                            continue
                        lost = lose_all()
                        if hasattr(ex, "restart"):
                            ex.restart()
                        in_flight = [futures[g] for g in lost]
                        culprit = [j for j in in_flight if j in suspect_live]
                        suspect_live.clear()
                        if len(culprit) == 1:  # it ran alone among suspects: a strike against it
                            strikes[culprit[0]] = strikes.get(culprit[0], 0) + 1
                        for j in in_flight:
                            if len(culprit) == 1 and j == culprit[0] and strikes[j] >= 2:
                                out = _outcome(f, jobs[j][0])
                                out.info["reason"] = ("worker died twice (killed or out of memory): "
                                                      + str(out.info.get("reason", "")))
                                done(j, jobs[j], out)
                            elif j not in suspects:
                                suspects.append(j)
                        continue
                    pending.discard(f)
                    handled.add(f)
                    suspect_live.discard(i)
                    done(i, jobs[i], _outcome(f, jobs[i][0]))
        except KeyboardInterrupt:
            for f, i in futures.items():
                if f not in handled and f.done() and not f.cancelled() and f.exception() is None:
                    done(i, jobs[i], f.result())
            raise


def _worker_died(f: cf.Future) -> bool:
    """Whether a future failed because its worker process died (not because the trial raised)."""
    if f.cancelled() or f.exception() is None:
        return False
    err = f.exception()
    return isinstance(err, cf.process.BrokenProcessPool) or type(err).__name__ in (
        "WorkerCrashedError", "RayActorError", "NodeDiedError", "OutOfMemoryError")


def _outcome(f: cf.Future, number: int) -> Outcome:
    """A future's Outcome; a worker that died or could not return one becomes a failed Outcome."""
    try:
        return f.result()
    except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool after a killed worker
        text = str(err).strip().splitlines()
        return Outcome(number, False, info={"reason": f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")})
