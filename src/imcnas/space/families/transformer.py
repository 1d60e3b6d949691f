"""``transformer``: a ViT-style pre-norm encoder for images and signals (patches) and for token ids (text-style).

Inputs: ``(C, H, W)`` images and ``(C, L)`` signals are cut into non-overlapping patches by a strided
convolution (a crossbar layer, like ViT's patch embedding); a 1-D ``(L,)`` input is a sequence of token ids
(``int64``) looked up in an embedding table of ``arch.vocab`` rows (read digitally). A learned position
embedding is added, then ``arch.depth`` blocks of ``x + Attn(LN(x))``, ``x + MLP(LN(x))``, a final layer
norm, mean pooling (or a class token) and a linear classifier.

Attention uses separate ``q``, ``k``, ``v`` and ``proj`` Linear layers (crossbar layers, each with its own
``bits.*.L<i>`` index) and ``F.scaled_dot_product_attention`` for ``QK^T``, softmax and ``AV`` (activation x
activation products: dynamic matmuls, priced by the cost model and simulated digitally). Heads have
``arch.dim // arch.heads`` channels each; block ``i`` keeps ``arch.b<i>.heads`` of them (head pruning: its
q/k/v width shrinks, the residual width stays ``arch.dim``) and has an MLP of ``round(dim * ratio)``
hidden channels (``arch.b<i>.mlp_ratio``, MLP-channel pruning or widening per block).

Keys, default space and defaults (``*`` = default):

==================  ==========================  ==============================================================
key                 default space               meaning (legal values when built)
==================  ==========================  ==============================================================
arch.patch          2-3 patch sizes (see below)  patch side for images, length for signals (1..64; <= input)
arch.dim            16, 32*, 64                  embedding width (4..4096; divisible by arch.heads)
arch.depth          int 1..3 (2*)                encoder blocks (1..12)
arch.heads          1, 2*, 4                     attention heads per block (1..64)
arch.mlp_ratio      1, 2*, 4                     MLP hidden width / dim (0.25..8)
arch.act            "gelu"*, "relu"              MLP activation
arch.pool           "mean"*, "cls"               mean over positions, or a class token
arch.vocab          (not searched)               token-id inputs: embedding rows (2..1,000,000; 256*)
arch.pad_id         (not searched)               token id of padding: masked out of attention and pooling
                                                 (-1* = none; 0..vocab-1)
arch.b<i>.heads     (not searched)               heads kept in block i (0* = all; 1..arch.heads)
arch.b<i>.mlp_ratio (not searched)               MLP ratio of block i (0* = arch.mlp_ratio; 0.25..8)
==================  ==========================  ==============================================================

Default patch sizes: the divisors of the smallest input side among 1, 2, 4, 8, 16 that give 4 to 64 patches
(the two or three largest such); token inputs have no patch key. A space that can pair a dim with a heads
count that does not divide it needs the constraint ``arch.dim % arch.heads == 0`` (the build refuses such a
pair with a one-line error, and the search records it as a failed design).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imcnas.errors import ConfigError
from imcnas.space.families.base import Knob, choice_of, int_in, number_in, resolve_arch
from imcnas.space.params import Choice, Int, Param

__all__ = ["KNOBS", "MAX_DEPTH", "Transformer", "ViT"]

MAX_DEPTH = 12
ACTS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}


def _ratio_or_zero(v: Any) -> str | None:
    return None if v == 0 and not isinstance(v, bool) else number_in(0.25, 8)(v)


def _heads_or_zero(v: Any) -> str | None:
    return int_in(0, 64)(v)


KNOBS: dict[str, Knob] = {
    "arch.patch": Knob(4, int_in(1, 64)),
    "arch.dim": Knob(32, int_in(4, 4096)),
    "arch.depth": Knob(2, int_in(1, MAX_DEPTH)),
    "arch.heads": Knob(2, int_in(1, 64)),
    "arch.mlp_ratio": Knob(2, number_in(0.25, 8)),
    "arch.act": Knob("gelu", choice_of(*ACTS)),
    "arch.pool": Knob("mean", choice_of("mean", "cls")),
    "arch.vocab": Knob(256, int_in(2, 1_000_000)),
    "arch.pad_id": Knob(-1, int_in(-1, 999_999)),
    **{f"arch.b{i}.heads": Knob(0, _heads_or_zero) for i in range(MAX_DEPTH)},
    **{f"arch.b{i}.mlp_ratio": Knob(0, _ratio_or_zero) for i in range(MAX_DEPTH)},
}


def _shape(input_shape: Any, num_classes: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = all(s == t for s, t in zip(shape, input_shape)) and 1 <= len(shape) <= 3 and min(shape) >= 1
    except (TypeError, ValueError):
        shape, ok = (), False
    if not ok:
        raise ConfigError(f"family 'transformer': input_shape must be (L,) token ids, (C, L) or (C, H, W) of "
                          f"positive ints, got {input_shape!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"family 'transformer': num_classes must be a positive int, got {num_classes!r}")
    return shape


class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v/proj Linear layers and ``heads`` heads of ``head_dim``."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.q, self.k, self.v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.proj = nn.Linear(inner, dim)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        b, n, _ = x.shape

        def split(t: Tensor) -> Tensor:
            return t.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

        mask = None if keep is None else keep[:, None, None, :]  # (B, 1, 1, S): attend to kept keys only
        out = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim))


class Block(nn.Module):
    """Pre-norm encoder block: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, heads: int, head_dim: int, hidden: int, act: type[nn.Module]) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), act(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), keep)
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch (or token) embedding, position embedding, encoder blocks, final norm, pooling, classifier."""

    def __init__(self, arch: Mapping[str, Any], shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        dim, heads, depth = int(arch["arch.dim"]), int(arch["arch.heads"]), int(arch["arch.depth"])
        if dim % heads:
            raise ConfigError(f"family 'transformer': arch.dim {dim} is not divisible by arch.heads {heads} "
                              "(add the constraint 'arch.dim % arch.heads == 0')")
        self.tokens = len(shape) == 1
        if self.tokens:
            self.vocab = int(arch["arch.vocab"])
            self.embed: nn.Module = nn.Embedding(self.vocab, dim)
            self.pad_id = int(arch["arch.pad_id"])
            if self.pad_id >= self.vocab:
                raise ConfigError(f"family 'transformer': arch.pad_id {self.pad_id} is not below arch.vocab "
                                  f"{self.vocab}")
            n = shape[0]
        else:
            p, spatial = int(arch["arch.patch"]), shape[1:]
            if p > min(spatial):
                raise ConfigError(f"family 'transformer': arch.patch {p} is larger than the input {shape}")
            conv = nn.Conv1d if len(spatial) == 1 else nn.Conv2d
            self.embed = conv(shape[0], dim, p, stride=p)
            n = math.prod(s // p for s in spatial)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if arch["arch.pool"] == "cls" else None
        self.pos = nn.Parameter(torch.randn(1, n + (self.cls is not None), dim) * 0.02)
        act, head_dim = ACTS[arch["arch.act"]], dim // heads
        blocks = []
        for i in range(depth):
            kept = int(arch[f"arch.b{i}.heads"]) or heads
            if kept > heads:
                raise ConfigError(f"family 'transformer': arch.b{i}.heads {kept} is more than arch.heads {heads}")
            ratio = float(arch[f"arch.b{i}.mlp_ratio"]) or float(arch["arch.mlp_ratio"])
            blocks.append(Block(dim, kept, head_dim, max(1, round(dim * ratio)), act))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        keep = None
        if self.tokens:
            if x.is_floating_point():  # (ids out of [0, vocab) raise IndexError in the lookup)
                raise ConfigError(f"family 'transformer': (L,) inputs are token ids and must be integers, got "
                                  f"{x.dtype}")
            h = self.embed(x)
            if self.pad_id >= 0:
                keep = x != self.pad_id
        else:
            h = self.embed(x).flatten(2).transpose(1, 2)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)
            if keep is not None:
                keep = torch.cat([torch.ones_like(keep[:, :1]), keep], dim=1)
        elif keep is not None:
            keep = keep | ~keep.any(1, keepdim=True)  # an all-padding sequence attends to every position
        h = h + self.pos
        for block in self.blocks:
            h = block(h, keep)
        h = self.norm(h)
        if self.cls is not None:
            return self.head(h[:, 0])
        if keep is None:
            return self.head(h.mean(1))
        w = keep.unsqueeze(-1).to(h.dtype)
        return self.head((h * w).sum(1) / w.sum(1))


def default_patches(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Up to three patch sizes among 1, 2, 4, 8, 16 that divide the smallest side and give 4..64 patches."""
    spatial = shape[1:]
    ok = [p for p in (1, 2, 4, 8, 16) if p <= min(spatial) and all(s % p == 0 for s in spatial)
          and 4 <= math.prod(s // p for s in spatial) <= 64]
    return tuple(ok[-3:]) or (max(1, min(spatial) // 2),)


class Transformer:
    """The ``transformer`` family (see the module docstring for keys and defaults)."""

    name = "transformer"
    knobs = KNOBS

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """patch (images/signals), dim 16/32/64, depth 1..3, heads 1/2/4, mlp_ratio 1/2/4, act, pool."""
        shape = _shape(input_shape, num_classes)
        space: dict[str, Param] = {} if len(shape) == 1 else {"arch.patch": Choice(default_patches(shape))}
        space.update({
            "arch.dim": Choice((16, 32, 64)),
            "arch.depth": Int(1, 3),
            "arch.heads": Choice((1, 2, 4)),
            "arch.mlp_ratio": Choice((1, 2, 4)),
            "arch.act": Choice(("gelu", "relu")),
            "arch.pool": Choice(("mean", "cls")),
        })
        return space

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """A :class:`ViT` over patches of ``(C, L)``/``(C, H, W)`` inputs or over ``(L,)`` token ids."""
        shape = _shape(input_shape, num_classes)
        return ViT(resolve_arch(self.name, arch, KNOBS), shape, num_classes)

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """Patch embedding + 6 Linear layers per block (q, k, v, proj, 2 MLP) x 12 blocks + classifier."""
        _shape(input_shape, num_classes)
        return 1 + 6 * MAX_DEPTH + 1
