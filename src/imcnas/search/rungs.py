"""Evaluation of a batch's candidates at the configured fidelity, as a mixin of :class:`~imcnas.search.study.Study`.

``full``: every candidate is trained and evaluated once. ``proxy``: the zero-cost proxy only.
``successive_halving``: the proxy for the whole batch, short training for the best 1/eta, full training for the
best 1/eta^2; candidates dropped on the way are stored as PRUNED with their last rung's values. Outcomes reach
the study one by one as they arrive, so a Ctrl-C keeps every trial that had finished.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
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
        are handed over before the interrupt propagates."""
        ex = self._executor
        futures: dict[cf.Future, int] = {}
        handled: set[cf.Future] = set()
        try:
            for i, job in enumerate(jobs):
                futures[ex.submit(run_task, self._task(job[0], job[1], fidelity))] = i
            pending = set(futures)
            while pending:
                for f in ex.wait_any(list(pending), timeout=0.5):
                    pending.discard(f)
                    handled.add(f)
                    i = futures[f]
                    done(i, jobs[i], _outcome(f, jobs[i][0]))
        except KeyboardInterrupt:
            for f, i in futures.items():
                if f not in handled and f.done() and not f.cancelled() and f.exception() is None:
                    done(i, jobs[i], f.result())
            raise


def _outcome(f: cf.Future, number: int) -> Outcome:
    """A future's Outcome; a worker that died or could not return one becomes a failed Outcome."""
    try:
        return f.result()
    except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool after a killed worker
        text = str(err).strip().splitlines()
        return Outcome(number, False, info={"reason": f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")})
