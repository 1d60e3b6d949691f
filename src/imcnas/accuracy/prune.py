"""Pruning applied before mapping, so the cost model sees the freed crossbars.

Four methods, all applied in place as ``torch.nn.utils.prune`` masks on Conv1d/2d/3d and Linear weights (the
mask is re-applied on every forward, so masked weights stay zero through fine-tuning; create the optimizer
after pruning, as ``weight`` becomes ``weight_orig`` x ``weight_mask``):

* ``magnitude``: unstructured, the smallest ``|w|``.
* ``channel``: whole output channels with the smallest L1 norm.
* ``xbar_rows``: blocks of ``chip.crossbar.rows`` consecutive rows of the unrolled weight matrix, zeroed for
  every output. In torch's layout (cout, cin/groups, *kernel) row ``r`` of a group's matrix is the flat index
  of (cin, kh, kw), i.e. ``weight.reshape(cout, -1)[:, r]``; the same rows go in every group.
* ``xbar_cols``: blocks of ``chip.crossbar.cols // chip.cols_per_weight`` consecutive output columns (of each
  group), i.e. one crossbar's width of weights.

Blocks are ranked by L2 norm (within a layer) or by RMS (L2 / sqrt(size), across layers with
``scope="global"``); channels by L1 norm or mean ``|w|``. Units that are already zero rank first, so pruning
again with a larger ratio continues where the last call stopped.

How the cost model sees it: the tracer (:mod:`imcnas.workload._modules`) stores only the nonzero submatrix
of each layer, dropping fan-in rows that are zero for all outputs and outputs that are entirely zero. A
``xbar_rows`` / ``xbar_cols`` block is exactly one crossbar's height / width, so each removed block frees a
row / column of crossbar tiles (a layer with ``n`` row blocks keeps as many row tiles as it keeps blocks).
``channel`` shrinks the column count and frees crossbars when it drops below a multiple of a crossbar's width.
``magnitude`` scatters zeros that still occupy their cells: it frees crossbars only when whole rows or
columns happen to vanish, which at moderate ratios they almost never do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import Tensor, nn
from torch.nn.utils import prune as tprune

from imcnas.errors import ConfigError
from imcnas.hardware.spec import Chip, load_chip

__all__ = ["LayerSparsity", "PruneConfig", "PruneReport", "make_permanent", "measure", "prune"]

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
Method = Literal["magnitude", "channel", "xbar_rows", "xbar_cols"]


class PruneConfig(BaseModel):
    """What to prune: ``method``, the fraction ``ratio`` of its units (weights, channels or blocks) to remove,
    per layer or over the whole model (``scope``), and module names to leave alone (``skip``)."""

    model_config = ConfigDict(extra="forbid")

    method: Method
    ratio: float = Field(ge=0.0, lt=1.0)
    scope: Literal["layer", "global"] = "layer"
    skip: list[str] = Field(default_factory=list)


@dataclass
class LayerSparsity:
    """Weights of one layer: dense count and how many are nonzero."""

    dense: int
    nonzero: int

    @property
    def removed(self) -> float:
        """Fraction of the layer's weights that are zero."""
        return 1.0 - self.nonzero / self.dense if self.dense else 0.0


@dataclass
class PruneReport:
    """Sparsity of every Conv/Linear layer after pruning (skipped layers included) and the layers pruned."""

    method: str
    layers: dict[str, LayerSparsity]
    pruned: list[str] = field(default_factory=list)

    @property
    def dense(self) -> int:
        """Weights of all Conv/Linear layers."""
        return sum(s.dense for s in self.layers.values())

    @property
    def nonzero(self) -> int:
        """Nonzero weights of all Conv/Linear layers."""
        return sum(s.nonzero for s in self.layers.values())

    @property
    def sparsity(self) -> float:
        """Fraction of all Conv/Linear weights that are zero."""
        return 1.0 - self.nonzero / self.dense if self.dense else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {"method": self.method, "sparsity": self.sparsity, "dense": self.dense, "nonzero": self.nonzero,
                "pruned": list(self.pruned),
                "layers": {n: {"dense": s.dense, "nonzero": s.nonzero, "removed": s.removed}
                           for n, s in self.layers.items()}}


# ---------------------------------------------------------------------------------------------- helpers
def _is_pruned(m: Any) -> bool:
    return any(isinstance(h, tprune.BasePruningMethod) and h._tensor_name == "weight"
               for h in m._forward_pre_hooks.values())


def _weight(m: Any) -> Tensor:
    """The effective weight (``weight_orig * weight_mask`` for a pruned module), detached."""
    if _is_pruned(m):
        return (m.weight_orig * m.weight_mask).detach()
    return m.weight.detach()


def _prunable(m: nn.Module) -> bool:
    """torch's Linear/Conv, and torch_geometric's Linear (GNN operators' crossbar layers)."""
    from imcnas.workload._modules import _has_mro

    return isinstance(m, PRUNABLE) or _has_mro(m, "Linear", "torch_geometric")


def _layers(model: nn.Module) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, m in model.named_modules():
        if _prunable(m):
            if isinstance(m.weight, nn.parameter.UninitializedParameter):
                raise ConfigError(f"cannot prune '{name}': its weight is not initialised (run a forward first)")
            out.append((name, m))
    return out


def _units(m: Any, w: Tensor, method: str, rows: int, cols: int) -> tuple[Tensor, int]:
    """Unit index of every weight (same shape as ``w``) and the number of units of ``method``."""
    out = w.shape[0]
    if method == "magnitude":
        return torch.arange(w.numel(), device=w.device).view(w.shape), w.numel()
    if method == "channel":
        return torch.arange(out, device=w.device).view(-1, *([1] * (w.dim() - 1))).expand(w.shape), out
    if method == "xbar_rows":  # row r of the unrolled matrix = flat index of (cin, *kernel) in weight[o]
        fan_in = w[0].numel()
        ids = (torch.arange(fan_in, device=w.device) // rows).expand(out, fan_in).reshape(w.shape)
        return ids, math.ceil(fan_in / rows)
    per_group = out // getattr(m, "groups", 1)  # xbar_cols: output c of every group
    ids = (torch.arange(out, device=w.device) % per_group) // cols
    return ids.view(-1, *([1] * (w.dim() - 1))).expand(w.shape), math.ceil(per_group / cols)


def _scores(w: Tensor, ids: Tensor, n: int, method: str, scope: str) -> Tensor:
    """Importance of each unit: |w|, channel L1 (mean |w| globally), block L2 (RMS globally)."""
    a = w.abs().flatten().double()
    if method == "magnitude":
        return a
    flat = ids.flatten()
    size = torch.bincount(flat, minlength=n).double().clamp(min=1)
    if method == "channel":
        l1 = torch.zeros(n, dtype=torch.float64, device=w.device).index_add_(0, flat, a)
        return l1 / size if scope == "global" else l1
    sq = torch.zeros(n, dtype=torch.float64, device=w.device).index_add_(0, flat, a * a)
    return (sq / size).sqrt() if scope == "global" else sq.sqrt()


def _smallest(scores: Tensor, k: int) -> Tensor:
    """Bool mask of the ``k`` smallest scores (stable: earlier units first on ties)."""
    removed = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    if k > 0:
        removed[torch.argsort(scores, stable=True)[:k]] = True
    return removed


def _apply(m: Any, keep: Tensor) -> None:
    """Mask ``m.weight`` with ``keep`` (bool, weight-shaped), on top of any mask it already has."""
    mask = keep.to(dtype=m.weight.dtype, device=m.weight.device)
    if _is_pruned(m):  # tighten the existing mask in place: optimizer references stay valid
        m.weight_mask.mul_(mask)
        setattr(m, "weight", m.weight_orig * m.weight_mask)
    else:
        tprune.custom_from_mask(m, "weight", mask)


def _block_sizes(method: str, chip: Chip | str | None) -> tuple[int, int]:
    if not method.startswith("xbar_"):
        return 1, 1
    if chip is None:
        raise ConfigError(f"pruning method '{method}' needs a chip (its crossbar size sets the blocks)")
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    cols = chip.crossbar.cols // chip.cols_per_weight
    if cols < 1:
        raise ConfigError(f"chip '{chip.name}': a crossbar of {chip.crossbar.cols} columns holds no weight of "
                          f"{chip.cols_per_weight} columns")
    return chip.crossbar.rows, cols


# ---------------------------------------------------------------------------------------------- API
def measure(model: nn.Module, method: str = "none") -> PruneReport:
    """Dense and nonzero weights of every Conv/Linear layer of ``model``, pruned or not."""
    layers = {}
    with torch.no_grad():
        for name, m in _layers(model):
            w = _weight(m)
            layers[name] = LayerSparsity(dense=w.numel(), nonzero=int(torch.count_nonzero(w)))
    return PruneReport(method=method, layers=layers)


def prune(model: nn.Module, config: PruneConfig | dict[str, Any], chip: Chip | str | None = None) -> PruneReport:
    """Mask the Conv/Linear weights of ``model`` in place by ``config``; ``chip`` sets the xbar_* block sizes.

    Per layer (``scope="layer"``) ``floor(ratio * units)`` units are removed; globally the smallest
    ``floor(ratio * all units)`` go, but never every unit of one layer. Raises ConfigError (one line) for a
    bad config, an unknown ``skip`` name or an xbar_* method without a chip.
    """
    if not isinstance(config, PruneConfig):
        try:
            config = PruneConfig.model_validate(config)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise ConfigError(f"prune config: field '{where}': {first['msg']}") from None
    rows, cols = _block_sizes(config.method, chip)
    names = {n for n, _ in model.named_modules()}
    unknown = sorted(set(config.skip) - names)
    if unknown:
        raise ConfigError(f"prune skip: no module named {', '.join(repr(u) for u in unknown)}")
    targets = [(n, m) for n, m in _layers(model) if n not in config.skip]
    with torch.no_grad():
        units = []
        for _, m in targets:
            w = _weight(m)
            ids, n = _units(m, w, config.method, rows, cols)
            units.append((ids, _scores(w, ids, n, config.method, config.scope)))
        if config.scope == "layer":
            removed = [_smallest(s, math.floor(config.ratio * s.numel() + 1e-9)) for _, s in units]
        else:
            all_scores = torch.cat([s for _, s in units]) if units else torch.zeros(0, dtype=torch.float64)
            chosen = _smallest(all_scores, math.floor(config.ratio * all_scores.numel() + 1e-9))
            removed = list(torch.split(chosen, [s.numel() for _, s in units]))
            for r, (_, s) in zip(removed, units):
                if r.numel() and bool(r.all()):  # keep a layer's strongest unit: the network stays connected
                    r[int(torch.argmax(s))] = False
        for (_, m), (ids, _), r in zip(targets, units, removed):
            _apply(m, ~r[ids])
    report = measure(model, config.method)
    report.pruned = [n for n, _ in targets]
    return report


def make_permanent(model: nn.Module) -> list[str]:
    """Fold every pruning mask into its weight (``torch.nn.utils.prune.remove``); the zeros stay. Returns the
    names of the modules that were pruned."""
    done = []
    for name, m in model.named_modules():
        if _is_pruned(m):
            tprune.remove(m, "weight")
            done.append(name)
    return done
