"""Where evaluations run. An executor submits a function on a task and hands back futures; the study loop
waits on them. In-process runs each task at submission (deterministic, no pickling); the process pool runs
tasks in worker processes (``spawn``, so torch's threads are never forked), each of which imports the driver's
plug-in modules (the experiment's ``plugins:`` list) before its first task.

Executors live on the plug-in registry (:mod:`imcnas.plugins`, kind ``executor``): a plug-in executor is a class
with the :class:`Executor` methods, constructed as ``cls(workers=n)``; a pool of processes should import
:func:`imcnas.plugins.active` in each worker (:func:`imcnas.plugins.worker_init`). Ray will be one, imported
lazily.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from typing import Any, Callable, Protocol, Sequence

from imcnas import plugins
from imcnas.errors import UnknownNameError


class Executor(Protocol):
    """Submit work, wait for some of it, shut down. An executor whose workers are processes may also offer
    ``restart()`` (a fresh set of workers, all work in flight lost) and ``generation`` (restarts so far): the
    study then retries trials whose worker died, and stops trials past ``executor.trial_timeout_s``."""

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future: ...

    def wait_any(self, futures: Sequence[cf.Future], timeout: float | None = None) -> list[cf.Future]: ...

    def shutdown(self, kill: bool = False) -> None: ...


class InProcessExecutor:
    """Runs each task immediately in the calling process (the deterministic, sequential mode)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = 1  # one process: ``workers`` is accepted like every executor's, and ignored

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future:
        """Run ``fn(task)`` now and return a finished future."""
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(task))
        except Exception as err:  # noqa: BLE001 - delivered through the future like a pool would
            fut.set_exception(err)
        # KeyboardInterrupt / SystemExit propagate: Ctrl-C stops the batch at once
        return fut

    def wait_any(self, futures: Sequence[cf.Future], timeout: float | None = None) -> list[cf.Future]:
        """All futures are already done."""
        return [f for f in futures if f.done()]

    def shutdown(self, kill: bool = False) -> None:
        """Nothing to release."""


def _init_worker(threads: int, modules: Sequence[str] = ()) -> None:
    import signal

    import torch

    # Ctrl-C is the study process's business: it records the trials and stops the pool, so a worker never
    # dies half-way through sending a result back
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    plugins.worker_init(modules)  # the driver's plug-ins, so their names validate and price here too


class ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes; each limits torch to ``threads`` threads and imports the plug-in
    ``modules`` (default: those the driver loaded, :func:`imcnas.plugins.active`)."""

    def __init__(self, workers: int = 2, threads: int = 1, modules: Sequence[str] | None = None) -> None:
        self._args = (workers, threads, tuple(plugins.active() if modules is None else modules))
        self.workers = workers
        self.generation = 0  # how many times the pool was replaced (restart)
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        workers, threads, mods = self._args
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                      initializer=_init_worker, initargs=(threads, mods))

    def restart(self) -> None:
        """Replace the pool by a fresh one: after a worker died (the pool is broken), or to stop a trial that ran
        past its timeout. Work still in the old pool is lost; the caller resubmits it."""
        self.shutdown(kill=True)
        self._pool = self._new_pool()
        self.generation += 1

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future:
        """Queue ``fn(task)`` in the pool."""
        return self._pool.submit(fn, task)

    def wait_any(self, futures: Sequence[cf.Future], timeout: float | None = None) -> list[cf.Future]:
        """Block until at least one future is done; return the done ones."""
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def shutdown(self, kill: bool = False) -> None:
        """Stop the workers. Queued tasks are cancelled; with ``kill`` running ones are terminated at once
        (after Ctrl-C: the study has already recorded them as interrupted)."""
        procs = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        if kill:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)


plugins.register("executor", "inprocess", InProcessExecutor, description="every task at submission, in this "
                 "process (deterministic)")
plugins.register("executor", "process", ProcessPoolExecutor, description="a pool of spawned worker processes")


def make_executor(kind: Any, workers: int = 2, **options: Any) -> Executor:
    """An executor by name (``inprocess``, ``process`` or a plug-in's), constructed with ``workers=`` and those
    ``options`` (e.g. ray's ``address``, ``resources_per_trial``) its constructor accepts; ``kind`` may also be
    the config's ``executor`` section (its kind, workers and options)."""
    if hasattr(kind, "kind") and hasattr(kind, "options"):  # an ExecutorConfig
        kind, workers, options = kind.kind, kind.workers, {**kind.options(), **options}
    if not isinstance(kind, str) or not plugins.known("executor", kind):
        raise UnknownNameError("executor", str(kind), plugins.names("executor"))
    cls = plugins.get("executor", kind)
    import inspect

    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return cls(workers=workers, **{k: v for k, v in options.items() if v is not None and (takes_any or k in params)})
