"""Training (plain or hardware-aware) and drift-time Monte-Carlo evaluation on the simulated chip.

Numerical failures (a NaN loss, a diverging loss) never raise: they come back as a failed result with its
reason, so a search loop records them and goes on. Errors the user caused (a model that does not accept the
dataset's inputs) raise a one-line :class:`imcnas.errors.ConfigError`.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.utils.data import DataLoader

from imcnas.accuracy import graphs as G
from imcnas.accuracy import layers as L
from imcnas.accuracy.convert import set_child
from imcnas.accuracy.data import Dataset
from imcnas.errors import ConfigError
from imcnas.hardware.spec import Chip

DRIFT_TIMES_S = (1.0, 3600.0, 86400.0, 30 * 86400.0)  # 1 s, 1 h, 1 day, 30 days
CALIBRATION_BATCHES = 4


class TrainConfig(BaseModel):
    """How a candidate is trained. ``hwa`` injects the chip's quantisation and noise in the forward pass."""

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(5, ge=0, le=10_000)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1', ...")
    hwa: bool = False
    weight_noise: float = Field(0.05, ge=0, le=1, description="HWA weight noise, relative to max |w| "
                                "(AnalogNAS: 5 %)")
    output_noise: float = Field(0.04, ge=0, le=1, description="HWA output noise, relative to the ADC range "
                                "(aihwkit StandardHWATrainingPreset: 0.04)")
    track_momentum: float = Field(0.05, ge=0, le=1, description="EMA of input/ADC ranges while training")
    max_loss: float = Field(1e4, gt=0, description="a loss above this counts as diverged")
    datapath: Literal["auto", "bit_level", "one_read"] = Field(
        "auto", description="how simulated layers read their partial sums (accuracy.layers.layer_config): auto "
        "= bit-level on bit-serial or bit-sliced chips (hardware-aware training then uses its surrogate)")


class EvalConfig(BaseModel):
    """Where and how often accuracy is measured on the simulated chip."""

    model_config = ConfigDict(extra="forbid")
    times_s: list[float] = Field(default_factory=lambda: list(DRIFT_TIMES_S))
    repeats: int = Field(5, ge=1, le=1000, description="Monte-Carlo programming repeats")
    seed: int = 0
    split: Literal["val", "test"] = "test"
    batch_size: int = Field(256, ge=1)
    device: str = "auto"
    datapath: Literal["auto", "bit_level", "one_read"] = "auto"


@dataclass
class TrainResult:
    """A trained model (converted to simulated layers when hardware-aware) and what happened."""

    model: nn.Module
    ok: bool
    reason: str = ""
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_s: float = 0.0


@dataclass
class AccuracyResult:
    """Accuracy (%) over time after programming: mean and std over Monte-Carlo repeats."""

    ok: bool
    reason: str = ""
    digital: float = float("nan")  # the trained network in floating point
    ideal: float = float("nan")  # on the chip without device noise (quantisation and ADC only)
    times_s: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    samples: list[list[float]] = field(default_factory=list)  # [time][repeat]
    info: dict[str, Any] = field(default_factory=dict)

    def at(self, t_s: float, k_sigma: float = 0.0) -> float:
        """Mean accuracy at time ``t_s`` minus ``k_sigma`` standard deviations (a Monte-Carlo lower bound)."""
        if not self.ok:
            return float("nan")
        i = int(np.argmin([abs(t - t_s) for t in self.times_s]))
        if abs(self.times_s[i] - t_s) > 1e-9 * max(1.0, t_s):
            raise ConfigError(f"accuracy at t={t_s:g} s: not evaluated; times: {self.times_s}")
        return self.mean[i] - k_sigma * self.std[i]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"ok": self.ok, "reason": self.reason, "digital": self.digital, "ideal": self.ideal,
                "times_s": self.times_s, "mean": self.mean, "std": self.std, "info": self.info}


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; anything else is passed to torch (bad names: one-line error)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device: unknown device '{name}'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: '{name}' requested but CUDA is not available")
    return dev


def _to(args: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(a.to(device) for a in args)


def batches(data: Dataset | G.GraphDataset, split: str, batch_size: int,
            generator: torch.Generator | None = None) -> Iterator[G.Batch]:
    """``(model args, labels, mask)`` batches of a split for tensor and graph datasets alike (shuffled when
    ``generator`` is given; ``mask`` selects the labelled nodes of a node task, else None)."""
    if G.is_graph(data):
        yield from G.batches(data, split, batch_size, generator)
        return
    if generator is not None:
        for x, y in DataLoader(getattr(data, split), batch_size=batch_size, shuffle=True, generator=generator):
            yield (x,), y, None
        return
    ds = getattr(data, split)
    for i in range(0, len(ds), batch_size):
        x, y = ds[i:i + batch_size]
        yield (x,), y, None


def example_args(data: Dataset | G.GraphDataset, n: int = 1) -> tuple[torch.Tensor, ...]:
    """Model arguments of ``n`` training samples (a graph dataset: one inference, see graphs.example_input)."""
    return G.example_input(data) if G.is_graph(data) else (data.train[:n][0],)


def check_shapes(model: nn.Module, data: Dataset | G.GraphDataset, device: torch.device) -> None:
    """Run one sample through the model; a mismatch becomes a one-line ConfigError."""
    args = _to(example_args(data, 2), device)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(*args)
    except (RuntimeError, ValueError, IndexError, AssertionError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"model does not accept dataset '{data.name}' inputs of shape "
                          f"{tuple(data.input_shape)}: {first}") from None
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != data.num_classes:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"model output {shape} does not match dataset '{data.name}' with "
                          f"{data.num_classes} classes (expected (batch, {data.num_classes}))")


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _calibration_batches(data: Dataset | G.GraphDataset, device: torch.device,
                         batch_size: int = 256) -> list[tuple[torch.Tensor, ...]]:
    out = []
    for args, _, _ in batches(data, "train", batch_size):
        out.append(_to(args, device))
        if len(out) == CALIBRATION_BATCHES:
            break
    return out


def train(model: nn.Module, data: Dataset, cfg: TrainConfig | None = None, chip: Chip | None = None,
          layer_bits: dict[str, dict[str, int]] | None = None) -> TrainResult:
    """Train a copy of ``model``. With ``cfg.hwa`` the copy is converted to simulated layers for ``chip``
    first and trained with the chip's quantisation (straight-through) and injected noise."""
    cfg = cfg or TrainConfig()
    if cfg.hwa and chip is None:
        raise ConfigError("train: hwa=true needs a hardware description (chip)")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    net = copy.deepcopy(model).to(device)
    check_shapes(net, data, device)
    if cfg.hwa:
        net, _ = L.convert(net, chip, layer_bits=layer_bits, inplace=True, datapath=cfg.datapath)
        L.calibrate(net, _calibration_batches(data, device))
        L.set_training_noise(net, cfg.weight_noise, cfg.output_noise, cfg.track_momentum)
    opt, loss_fn = _optimizer(net, cfg), nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    losses: list[float] = []
    seen, start = 0, time.perf_counter()
    result = TrainResult(net, ok=True)
    net.train()
    try:
        for epoch in range(cfg.epochs):
            total, count = 0.0, 0
            for step, (args, y, mask) in enumerate(batches(data, "train", cfg.batch_size, gen)):
                out, y = net(*_to(args, device)), y.to(device)
                if mask is not None:
                    mask = mask.to(device)
                    out, y = out[mask], y[mask]
                loss = loss_fn(out, y)
                value = float(loss.detach())
                if not math.isfinite(value):
                    result.ok, result.reason = False, f"loss became {value} at epoch {epoch + 1}, step {step + 1}"
                    break
                if value > cfg.max_loss:
                    result.ok, result.reason = False, f"diverged: loss {value:.3g} > {cfg.max_loss:g} at " \
                                                      f"epoch {epoch + 1}, step {step + 1}"
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, count, seen = total + value * len(y), count + len(y), seen + len(y)
            if not result.ok:
                break
            losses.append(total / max(count, 1))
    finally:
        if cfg.hwa:
            L.set_training_noise(net, 0.0, 0.0, 0.0)
    result.seconds = time.perf_counter() - start
    result.samples_per_s = seen / result.seconds if result.seconds > 0 else 0.0
    result.losses = losses
    if result.ok and cfg.hwa:
        L.calibrate(net, _calibration_batches(data, device))
    net.eval()
    return result


@torch.no_grad()
def accuracy(model: nn.Module, data: Dataset | G.GraphDataset, split: str = "test", batch_size: int = 256,
             device: torch.device | None = None) -> float:
    """Top-1 accuracy (%) of ``model`` on a split (the split's labelled nodes for a node task)."""
    device = device or next(model.parameters()).device
    model.eval()
    correct = total = 0
    for args, y, mask in batches(data, split, batch_size):
        out, y = model(*_to(args, device)), y.to(device)
        if mask is not None:
            mask = mask.to(device)
            out, y = out[mask], y[mask]
        if not torch.isfinite(out).all():
            return float("nan")
        correct += int((out.argmax(1) == y).sum())
        total += len(y)
    return 100.0 * correct / max(total, 1)


def _digital_copy(net: nn.Module) -> nn.Module:
    """The floating-point network inside a converted one (simulated layers unwrapped)."""
    plain = copy.deepcopy(net)
    for name, m in list(L.simulated_modules(plain)):
        if not name:
            return m.base
        set_child(plain, name, m.base)
    return plain


def evaluate(model: nn.Module, chip: Chip, data: Dataset, cfg: EvalConfig | None = None,
             layer_bits: dict[str, dict[str, int]] | None = None) -> AccuracyResult:
    """Accuracy on ``chip`` at each time after programming, over Monte-Carlo programming repeats.

    ``model`` may be a plain network (converted and calibrated here) or one trained hardware-aware.
    Deterministic given ``cfg.seed``. A network whose outputs turn non-finite gives a failed result.
    """
    cfg = cfg or EvalConfig()
    device = resolve_device(cfg.device)
    net = model.to(device)
    if not any(True for _ in L.imc_layers(net)):
        check_shapes(net, data, device)
        net, _ = L.convert(net, chip, layer_bits=layer_bits, datapath=cfg.datapath)
        L.calibrate(net, _calibration_batches(data, device))
    net.eval()
    res = AccuracyResult(ok=True, times_s=[float(t) for t in cfg.times_s])
    res.digital = accuracy(_digital_copy(net), data, cfg.split, cfg.batch_size, device)
    L.reset(net)
    res.ideal = accuracy(net, data, cfg.split, cfg.batch_size, device)
    samples = [[0.0] * cfg.repeats for _ in cfg.times_s]
    try:
        for r in range(cfg.repeats):
            L.program(net, seed=cfg.seed * 1000 + r)
            for i, t in enumerate(cfg.times_s):
                L.set_time(net, float(t), seed=cfg.seed * 1000 + r)
                samples[i][r] = accuracy(net, data, cfg.split, cfg.batch_size, device)
    finally:
        L.reset(net)
    res.samples = samples
    res.mean = [float(np.mean(s)) for s in samples]
    res.std = [float(np.std(s, ddof=1)) if len(s) > 1 else 0.0 for s in samples]
    if not all(math.isfinite(v) for v in res.mean + [res.ideal, res.digital]):
        res.ok, res.reason = False, "non-finite network outputs"
    return res


def train_and_evaluate(model: nn.Module, chip: Chip, data: Dataset, train_cfg: TrainConfig | None = None,
                       eval_cfg: EvalConfig | None = None,
                       layer_bits: dict[str, dict[str, int]] | None = None) -> AccuracyResult:
    """Train (plain or hardware-aware) and evaluate over drift time; failures come back as a failed result."""
    train_cfg = train_cfg or TrainConfig()
    tr = train(model, data, train_cfg, chip if train_cfg.hwa else None, layer_bits)
    if not tr.ok:
        return AccuracyResult(ok=False, reason=tr.reason, info={"train_seconds": tr.seconds})
    res = evaluate(tr.model, chip, data, eval_cfg, layer_bits)
    res.info.update({"train_seconds": tr.seconds, "train_samples_per_s": tr.samples_per_s,
                     "final_loss": tr.losses[-1] if tr.losses else float("nan"), "hwa": train_cfg.hwa})
    return res
