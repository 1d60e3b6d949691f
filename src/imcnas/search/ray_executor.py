"""A Ray executor: trials run as Ray tasks, on a local cluster this process starts or on an existing one.

``executor: {kind: ray, workers: 2, address: auto, resources_per_trial: {cpu: 1, gpu: 0}}`` in the experiment
YAML. Ray is imported when the executor is built, never at module import, so ``imcnas`` does not need it; a
missing ray is a one-line :class:`~imcnas.errors.ConfigError` (``pip install imcnas[ray]``).

- ``address=None``: start a local cluster of ``workers * cpu`` CPUs (``include_dashboard=False``);
- ``address="auto"`` (default): join the cluster that ``ray start`` runs on this machine, else start a local one;
- ``address="ray://host:10001"`` or ``"host:6379"``: connect to that cluster (an error if it cannot).

If Ray is already initialised in this process (a notebook, a test fixture) the executor uses that cluster and
leaves it running. Each task reserves ``resources_per_trial`` (``cpu``, ``gpu``, other keys are custom Ray
resources); on a cluster, how many trials run at once is set by its resources, not by ``workers``. Each task
imports the driver's plug-in modules (:func:`imcnas.plugins.active`) and limits torch to its CPUs. Tasks are
never retried: a worker that dies (killed, out of memory) makes its future fail with Ray's
``WorkerCrashedError``, which the study records as a failed trial.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import threading
from typing import Any, Callable, Mapping, Sequence

from imcnas import plugins
from imcnas.errors import ConfigError

MISSING = "executor kind 'ray' needs the ray extra: pip install imcnas[ray]"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(MISSING) from None
    return ray


def _run(fn: Callable[[Any], Any], task: Any, modules: Sequence[str], threads: int) -> Any:
    """The body of every Ray task: limit torch's threads, import the driver's plug-ins, run ``fn(task)``."""
    import torch

    torch.set_num_threads(max(1, threads))
    plugins.worker_init(modules)
    return fn(task)


def _split_resources(resources: Mapping[str, float] | None) -> tuple[float, float, dict[str, float]]:
    res = {"cpu": 1.0, "gpu": 0.0, **{str(k).lower(): float(v) for k, v in (resources or {}).items()}}
    for k, v in res.items():
        if not (v >= 0 and math.isfinite(v)):
            raise ConfigError(f"executor.resources_per_trial.{k}: must be a finite number >= 0, got {v}")
    cpu, gpu = res.pop("cpu"), res.pop("gpu")
    return cpu, gpu, {k: v for k, v in res.items() if v > 0}


class RayExecutor:
    """Trials as Ray tasks with ``resources_per_trial`` each, on the cluster at ``address`` (see the module)."""

    def __init__(self, workers: int = 2, address: str | None = "auto",
                 resources_per_trial: Mapping[str, float] | None = None,
                 modules: Sequence[str] | None = None) -> None:
        ray = self._ray = _import_ray()
        self.workers = max(1, int(workers))
        self.cpu, self.gpu, self.custom = _split_resources(resources_per_trial)
        self._owns = False
        if not ray.is_initialized():
            self._connect(address)
        mods = tuple(plugins.active() if modules is None else modules)
        self._remote = ray.remote(_run).options(num_cpus=self.cpu, num_gpus=self.gpu, resources=self.custom or None,
                                                max_retries=0)
        self._args = (mods, max(1, int(self.cpu)))
        self._refs: dict[cf.Future, Any] = {}  # futures not yet finished -> their ObjectRef
        self._lock = threading.Lock()

    def _connect(self, address: str | None) -> None:
        ray = self._ray
        quiet = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address not in (None, "", "local", "auto"):
            try:
                ray.init(address=address, **quiet)
            except Exception as err:  # noqa: BLE001 - a one-line configuration error
                first = (str(err).strip().splitlines() or [""])[0]
                raise ConfigError(f"executor.address: cannot connect to the Ray cluster at {address!r}: "
                                  f"{type(err).__name__}: {first}") from None
            return
        if address == "auto":
            try:
                ray.init(address="auto", **quiet)
                return
            except ConnectionError:  # no cluster on this machine: start one
                pass
        ray.init(address="local", num_cpus=max(1, math.ceil(self.workers * max(self.cpu, 1.0))),
                 num_gpus=math.ceil(self.workers * self.gpu) if self.gpu else None, **quiet)
        self._owns = True

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future:
        """Start ``fn(task)`` as a Ray task; its future completes as soon as that task does."""
        ref = self._remote.remote(fn, task, *self._args)
        out: cf.Future = cf.Future()
        with self._lock:
            self._refs[out] = ref
        ref.future().add_done_callback(lambda f, out=out: self._deliver(f, out))
        return out

    def _deliver(self, f: cf.Future, out: cf.Future) -> None:
        with self._lock:
            self._refs.pop(out, None)
        if out.done():  # cancelled at shutdown
            return
        try:
            if f.cancelled():
                out.cancel()
                return
            err = f.exception()
            if err is None:
                out.set_result(f.result())
            else:  # a task's own exception, not Ray's wrapper (whose text is a traceback)
                cause = getattr(err, "cause", None)
                out.set_exception(cause if isinstance(cause, BaseException) else err)
        except cf.InvalidStateError:  # cancelled meanwhile
            pass

    def wait_any(self, futures: Sequence[cf.Future], timeout: float | None = None) -> list[cf.Future]:
        """Block until at least one future is done; return the done ones."""
        done, _ = cf.wait(list(futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def shutdown(self, kill: bool = False) -> None:
        """Cancel unfinished tasks (``kill``: force, ending their worker processes at once) and, if this executor
        started the cluster, shut it down. Their futures end cancelled."""
        ray = self._ray
        with self._lock:
            pending = list(self._refs.items())
            self._refs.clear()
        for out, ref in pending:
            try:
                ray.cancel(ref, force=kill)
            except Exception:  # noqa: BLE001 - finished meanwhile, or the cluster is gone
                pass
            out.cancel()
        if self._owns and ray.is_initialized():
            ray.shutdown()
        self._owns = False


plugins.register("executor", "ray", RayExecutor, description="Ray tasks on a local or remote cluster (needs the "
                 "ray extra)")
