"""Where evaluations run. An executor submits a function on a task and hands back futures; the study loop
waits on them. In-process runs each task at submission (deterministic, no pickling); the process pool runs
tasks in worker processes (``spawn``, so torch's threads are never forked). Ray will be a third module,
imported lazily.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from typing import Any, Callable, Protocol, Sequence

from imcnas.errors import UnknownNameError


class Executor(Protocol):
    """Submit work, wait for some of it, shut down."""

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future: ...

    def wait_any(self, futures: Sequence[cf.Future], timeout: float | None = None) -> list[cf.Future]: ...

    def shutdown(self, kill: bool = False) -> None: ...


class InProcessExecutor:
    """Runs each task immediately in the calling process (the deterministic, sequential mode)."""

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


def _init_worker(threads: int) -> None:
    import signal

    import torch

    # Ctrl-C is the study process's business: it records the trials and stops the pool, so a worker never
    # dies half-way through sending a result back
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


class ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes; each limits torch to ``threads`` threads."""

    def __init__(self, workers: int = 2, threads: int = 1) -> None:
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                            initializer=_init_worker, initargs=(threads,))

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


def make_executor(kind: str, workers: int = 2) -> Executor:
    """An executor by name: ``inprocess`` or ``process``."""
    if kind == "inprocess":
        return InProcessExecutor()
    if kind == "process":
        return ProcessPoolExecutor(workers)
    raise UnknownNameError("executor", kind, ["inprocess", "process"])
