"""Evaluating one sample: the cheap part (cost model, in the study process) and the expensive part
(training and drift-time accuracy, in a stateless worker). Workers get a picklable :class:`Task` and return
an :class:`Outcome`; they never touch the storage.
"""
from __future__ import annotations

import io
import json
import time
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch

from imcnas.accuracy.data import Dataset, load_dataset
from imcnas.accuracy.proxies import proxy_score
from imcnas.accuracy.train import EvalConfig, evaluate, resolve_device, train
from imcnas.config import ExperimentConfig, load_plugins
from imcnas.errors import ImcnasError
from imcnas.hardware.report import estimate
from imcnas.search.objectives import Metric, parse_time
from imcnas.search.trial import sample_key  # noqa: F401 - re-exported (one key for every duplicate check)
from imcnas.space.build import Candidate, build, crossbar_layers
from imcnas.workload.tracer import trace

FIDELITIES = ("proxy", "short", "full")


@dataclass(frozen=True)
class Task:
    """What a worker needs: the sample, the experiment config (as JSON-able dict) and the fidelity."""

    number: int
    sample: dict[str, Any]
    config: dict[str, Any]
    fidelity: str = "full"
    seed: int = 0
    save_weights: bool = False


@dataclass
class Outcome:
    """A worker's result. ``ok`` False carries the reason; values are objective metrics."""

    number: int
    ok: bool
    values: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    weights: bytes | None = None


@lru_cache(maxsize=4)
def _dataset(name: str, root: str | None, options_json: str) -> Dataset:
    return load_dataset(name, root=root, **json.loads(options_json))


def dataset_for(cfg: ExperimentConfig) -> Dataset:
    """The experiment's dataset, loaded once per process."""
    d = cfg.data
    return _dataset(d.dataset, d.root, json.dumps(d.options, sort_keys=True))


def cheap_metrics(cand: Candidate, input_shape: tuple[int, ...], example: torch.Tensor | None = None
                  ) -> tuple[dict[str, float], dict[str, Any]]:
    """Cost-model metrics of a built candidate (per-layer bits and pruning included) and report details.
    ``example`` is one input of the dataset, batch of 1 (its dtype matters: token ids are integers); without
    it, a float zero input of ``input_shape``."""
    model = cand.model
    was = model.training
    model.eval()
    try:
        work = trace(model, example if example is not None else torch.zeros((1, *input_shape)))
    finally:
        model.train(was)
    if cand.layer_bits:
        work = work.with_layer_bits({k: v for k, v in cand.layer_bits.items()
                                     if k in {o.name for o in work.matrix_ops}})
    rep = estimate(work, cand.chip)
    values = {k: float(v) for k, v in rep.totals.items()}
    values["params"] = float(cand.params)
    values["crossbars"] = float(sum(layer["crossbars"] for layer in rep.layers))
    info = {"breakdown": {"energy_pj": rep.energy_breakdown_pj, "area_mm2": rep.area_breakdown_mm2},
            "chip": cand.chip.model_dump(mode="json", exclude_none=True),
            "layer_bits": cand.layer_bits, "crossbar_layers": crossbar_layers(model),
            "unsupported": list(getattr(work, "unsupported", ()) or ())}
    return values, info


def accuracy_values(metrics: list[Metric], res: Any) -> dict[str, float]:
    """Objective values from an AccuracyResult (accuracy at each metric's time and lower bound)."""
    out: dict[str, float] = {"digital_accuracy": float(res.digital)}
    for m in metrics:
        if m.name in ("accuracy", "accuracy_lb", "error"):
            k = m.k_sigma if m.name != "accuracy_lb" else max(m.k_sigma, 1.0)
            acc = res.at(m.time_s, k)
            out[m.key] = 100.0 - acc if m.name == "error" else acc
    return out


def run_task(task: Task) -> Outcome:
    """Build, train and evaluate one sample at the task's fidelity. Never raises: failures come back as an
    Outcome with ``ok=False`` and the reason (a user error's one-line message, or the exception's last line)."""
    start = time.perf_counter()
    try:
        out = _run(task)
    except ImcnasError as err:
        out = Outcome(task.number, False, info={"reason": str(err)})
    except Exception as err:  # noqa: BLE001 - a broken candidate must not stop the search
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        out = Outcome(task.number, False, info={"reason": last})
    out.info["elapsed_s"] = time.perf_counter() - start
    out.info["fidelity"] = task.fidelity
    return out


def _run(task: Task) -> Outcome:
    load_plugins(task.config.get("plugins"))  # a worker of a plug-in executor that did not import them
    cfg = ExperimentConfig.model_validate(task.config)
    data = dataset_for(cfg)
    cand = build(task.sample, cfg, tuple(data.input_shape), data.num_classes, seed=task.seed)
    metrics = list(cfg.formulation_obj().metrics)
    if task.fidelity == "proxy":
        x, y = data.train[:64]
        score = proxy_score(cfg.fidelity.proxy, cand.model, x, y)
        return Outcome(task.number, True, {"proxy": score}, {"proxy_name": cfg.fidelity.proxy})
    tcfg = cand.train
    if task.fidelity == "short":
        tcfg = tcfg.model_copy(update={"epochs": min(cfg.fidelity.short_epochs, tcfg.epochs)})
    tcfg = tcfg.model_copy(update={"seed": task.seed})
    tr = train(cand.model, data, tcfg, cand.chip if tcfg.hwa else None, cand.layer_bits)
    if not tr.ok:
        return Outcome(task.number, False, info={"reason": tr.reason, "train_seconds": tr.seconds})
    times = sorted({parse_time(t) for t in cfg.evaluation.times} | {m.time_s for m in metrics
                                                                    if m.name in ("accuracy", "accuracy_lb", "error")})
    ecfg = EvalConfig(times_s=times, repeats=cfg.evaluation.repeats, seed=task.seed, split=cfg.evaluation.split,
                      device=tcfg.device)
    res = evaluate(tr.model, cand.chip, data, ecfg, cand.layer_bits)
    if not res.ok:
        return Outcome(task.number, False, info={"reason": res.reason})
    info = {"accuracy": res.to_dict(), "train_seconds": tr.seconds, "final_loss": tr.losses[-1] if tr.losses
            else float("nan"), "device": str(resolve_device(tcfg.device))}
    weights = None
    if task.save_weights:
        buf = io.BytesIO()
        from imcnas.accuracy.train import _digital_copy

        torch.save(_digital_copy(tr.model).state_dict(), buf)
        weights = buf.getvalue()
    return Outcome(task.number, True, accuracy_values(metrics, res), info, weights)
