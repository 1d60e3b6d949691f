"""The generated token tasks (dyck)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from imcnas.accuracy.data import load_dataset
from imcnas.accuracy.tokens import balanced, dyck_words
from imcnas.errors import ConfigError


def test_balanced_checker_by_hand() -> None:
    assert balanced(np.array([1, 3, 4, 2, 0, 0]))          # ([])
    assert not balanced(np.array([1, 4]))                    # (]
    assert not balanced(np.array([1, 3, 2, 4]))              # ([)]
    assert not balanced(np.array([2, 1]))                    # )(
    assert not balanced(np.array([1, 1, 2]))                 # (()


def test_labels_are_the_checker_and_half_are_balanced() -> None:
    x, y = dyck_words(600, 20, seed=3)
    assert x.dtype == np.int64 and x.shape == (600, 20) and set(np.unique(x)) <= {0, 1, 2, 3, 4}
    assert all(balanced(w) == bool(label) for w, label in zip(x, y))
    assert y.mean() == 0.5
    lengths = (x > 0).sum(1)
    assert abs(lengths[y == 1].mean() - lengths[y == 0].mean()) < 1.5  # length is no give-away
    counts = [(x == t).sum(1) for t in range(1, 5)]
    opened = counts[0] + counts[2]
    assert abs(opened[y == 0].mean() - opened[y == 1].mean()) < 1.0  # nor is the bracket count


def test_dataset_is_fixed_and_integer() -> None:
    a, b = load_dataset("dyck", n_samples=200, length=16), load_dataset("dyck", seed=5, n_samples=200, length=16)
    assert a.input_shape == (16,) and a.num_classes == 2 and a.meta["vocab"] == 5
    assert a.train[0][0].dtype == torch.int64
    assert torch.equal(a.train[:][0], b.train[:][0])  # the training seed does not change the task
    assert sum(a.sizes.values()) == 200


@pytest.mark.parametrize("opts", [{"length": 5}, {"length": 2}, {"n_samples": 3}])
def test_bad_options_are_config_errors(opts: dict) -> None:
    with pytest.raises(ConfigError, match="dyck"):
        load_dataset("dyck", **opts)
