"""Token-sequence tasks generated offline (no downloads), for the ``transformer`` family's token-id inputs.

- ``dyck``: is a bracket sequence balanced? Dyck-2 words (two bracket types) against near-misses: each
  negative is a balanced word with one corruption (a closing bracket of the wrong type, two neighbours
  swapped, or an opening bracket turned into a closing one) that unbalances it, so positives and negatives
  have the same length distribution and token counts almost alike; solving it needs the nesting structure
  (a stack), not counts. Ids: 0 padding (at the end), 1 ``(``, 2 ``)``, 3 ``[``, 4 ``]``; input ``(L,)``
  int64; 2 classes; 60/20/20 stratified split. Generated from ``generation_seed`` (fixed, never the training
  seed), so every trial sees the same task.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from imcnas.accuracy.data import Dataset, _check, _stratified_split, register_dataset

__all__ = ["balanced", "dyck_words"]

PAD, OPEN, CLOSE = 0, (1, 3), (2, 4)
VOCAB = 5


def balanced(word: np.ndarray) -> bool:
    """Whether ``word`` (ids, padding 0 ignored) is a balanced Dyck-2 word."""
    stack: list[int] = []
    for t in word:
        t = int(t)
        if t in OPEN:
            stack.append(t)
        elif t in CLOSE:
            if not stack or stack.pop() != t - 1:
                return False
    return not stack


def _word(rng: np.random.Generator, n: int) -> list[int]:
    """A random balanced word of even length ``n`` (a random walk that must return to depth 0)."""
    out: list[int] = []
    stack: list[int] = []
    for i in range(n):
        left = n - i
        if not stack or (len(stack) < left and rng.random() < 0.5):
            t = OPEN[int(rng.integers(2))]
            stack.append(t)
        else:
            t = stack.pop() + 1
        out.append(t)
    return out


def _corrupt(rng: np.random.Generator, word: list[int]) -> list[int]:
    """An unbalanced near-miss of ``word``."""
    while True:
        w = list(word)
        kind = int(rng.integers(3))
        i = int(rng.integers(len(w)))
        if kind == 0 and w[i] in CLOSE:
            w[i] = CLOSE[1 - CLOSE.index(w[i])]
        elif kind == 1 and i + 1 < len(w) and w[i] != w[i + 1]:
            w[i], w[i + 1] = w[i + 1], w[i]
        elif kind == 2 and w[i] in OPEN:
            w[i] = w[i] + 1
        if not balanced(np.asarray(w)):
            return w


def dyck_words(n_samples: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``n_samples`` padded words of at most ``length`` ids and labels (1 = balanced), half each."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_samples, length), dtype=np.int64)
    y = np.zeros(n_samples, dtype=np.int64)
    for j in range(n_samples):
        n = 2 * int(rng.integers(2, length // 2 + 1))
        w = _word(rng, n)
        if j % 2:
            y[j] = 1
        else:
            w = _corrupt(rng, w)
        x[j, :n] = w
    order = rng.permutation(n_samples)
    return x[order], y[order]


@register_dataset("dyck")
def _dyck(root: Path | None, seed: int, *, n_samples: int = 4000, length: int = 24,
          generation_seed: int = 0) -> Dataset:
    """Dyck-2 membership (balanced brackets vs one-edit near-misses), (L,) token ids, generated offline."""
    _check("dyck", isinstance(length, int) and 4 <= length <= 4096 and length % 2 == 0, "length",
           "an even integer in [4, 4096]", length)
    _check("dyck", isinstance(n_samples, int) and n_samples >= 20, "n_samples", "an integer >= 20", n_samples)
    x, y = dyck_words(n_samples, length, generation_seed)
    idx = _stratified_split(y, (0.6, 0.2), generation_seed)
    splits = [TensorDataset(torch.as_tensor(x[i]), torch.as_tensor(y[i])) for i in idx]
    meta = {"vocab": VOCAB, "generation_seed": generation_seed, "source": "generated Dyck-2 words",
            "tokens": {"pad": PAD, "(": 1, ")": 2, "[": 3, "]": 4}}
    return Dataset("dyck", *splits, (length,), 2, meta)
