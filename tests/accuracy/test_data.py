"""Dataset registry: names, shapes, fixed splits, seeded loaders and one-line errors."""
from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from imcnas.accuracy.data import Dataset, list_datasets, load_dataset, register_dataset
from imcnas.errors import ConfigError, UnknownNameError


def _rows(ds: torch.utils.data.TensorDataset) -> set[bytes]:
    return {row.numpy().tobytes() for row in ds.tensors[0]}


def _write_cifar(folder: Path, per_batch: int, seed: int = 0) -> None:
    """Fake python-format CIFAR-10: five train batches and a test batch of ``per_batch`` images each."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        data[:, 0] = i  # first pixel marks the batch, so order can be checked
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with (folder / name).open("wb") as fh:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, fh)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_registry_lists_the_builtins() -> None:
    assert {"digits", "mnist1d", "cifar10", "synthetic"} <= set(list_datasets())
    assert list_datasets() == sorted(list_datasets())


def test_unknown_name_lists_known() -> None:
    with pytest.raises(UnknownNameError) as err:
        load_dataset("imagenet")
    msg = str(err.value)
    assert "'imagenet'" in msg and "\n" not in msg
    for name in ("cifar10", "digits", "mnist1d", "synthetic"):
        assert name in msg


def test_unknown_and_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown option 'colour'.*standardize"):
        load_dataset("digits", colour=True)
    with pytest.raises(ConfigError, match="'noise'"):
        load_dataset("synthetic", noise=-1.0)
    with pytest.raises(ConfigError, match="'num_classes' cannot be 'many'"):
        load_dataset("synthetic", num_classes="many")


def test_digits_shapes_and_split(digits: Dataset) -> None:
    assert digits.input_shape == (1, 8, 8) and digits.num_classes == 10
    assert digits.sizes == {"train": 1078, "val": 359, "test": 360}
    x, y = digits.train.tensors
    assert x.shape == (1078, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.long
    # standardised with train statistics: train is ~N(0,1), the other splits only roughly
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3
    assert set(y.tolist()) == set(range(10))
    for split in (digits.val, digits.test):  # stratified: every class in every split
        assert set(split.tensors[1].tolist()) == set(range(10))


def test_digits_unstandardized_in_unit_range() -> None:
    x = load_dataset("digits", standardize=False).train.tensors[0]
    assert x.min().item() == 0.0 and x.max().item() == 1.0


def test_digits_splits_disjoint_and_independent_of_seed(digits: Dataset) -> None:
    tr, va, te = _rows(digits.train), _rows(digits.val), _rows(digits.test)  # the 1,797 images are all distinct
    assert len(tr) + len(va) + len(te) == 1797
    assert not (tr & va) and not (tr & te) and not (va & te)
    other = load_dataset("digits", seed=123)
    for a, b in ((digits.train, other.train), (digits.val, other.val), (digits.test, other.test)):
        assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])


def test_loaders_are_deterministic_per_seed(digits: Dataset) -> None:
    def first_labels(seed: int) -> list[int]:
        train, _, _ = digits.loaders(batch_size=64, seed=seed)
        return next(iter(train))[1].tolist()

    assert first_labels(1) == first_labels(1)
    assert first_labels(1) != first_labels(2)
    train, val, test = digits.loaders(batch_size=100, seed=0)
    assert sum(len(b[1]) for b in train) == 1078
    assert torch.equal(torch.cat([b[1] for b in val]), digits.val.tensors[1])  # val/test keep their order
    assert torch.equal(torch.cat([b[1] for b in test]), digits.test.tensors[1])
    with pytest.raises(ConfigError):
        digits.loaders(batch_size=0, seed=0)


def test_mnist1d_generated_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    np.random.seed(7)
    random.seed(7)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(7)
    random.seed(7)
    ds = load_dataset("mnist1d")
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)  # global RNGs untouched
    assert list(tmp_path.iterdir()) == []  # nothing cached in the working directory
    assert ds.input_shape == (1, 40) and ds.num_classes == 10
    assert ds.sizes == {"train": 3200, "val": 800, "test": 1000}
    assert ds.train.tensors[0].shape == (3200, 1, 40) and ds.train.tensors[0].dtype == torch.float32
    assert set(ds.test.tensors[1].tolist()) == set(range(10))
    assert not (_rows(ds.train) & _rows(ds.val)) and not (_rows(ds.train) & _rows(ds.test))
    again = load_dataset("mnist1d", seed=5)
    assert torch.equal(ds.val.tensors[0], again.val.tensors[0])
    small = load_dataset("mnist1d", num_samples=500)
    assert small.sizes == {"train": 320, "val": 80, "test": 100}


def test_cifar_missing_folder_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as err:
        load_dataset("cifar10", root=missing)
    msg = str(err.value)
    assert str(missing) in msg and "\n" not in msg
    assert "cifar-10-batches-py" in msg and "IMCNAS_DATA" in msg


def test_cifar_env_var_and_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCNAS_DATA", str(tmp_path / "envdata"))
    with pytest.raises(ConfigError, match="envdata"):
        load_dataset("cifar10")
    _write_cifar(tmp_path / "envdata" / "cifar10", per_batch=8)
    assert load_dataset("cifar10", val_size=4).sizes == {"train": 36, "val": 4, "test": 8}


def test_fake_cifar_folder_loads(tmp_path: Path) -> None:
    _write_cifar(tmp_path / "cifar-10-batches-py", per_batch=1100)
    ds = load_dataset("cifar10", root=tmp_path)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.sizes == {"train": 500, "val": 5000, "test": 1100}  # validation = last 5,000 training images
    x = ds.train.tensors[0]
    assert x.shape == (500, 3, 32, 32) and x.dtype == torch.float32
    # normalised with the CIFAR-10 mean/std: pixel 0 of batch 1 is 0 -> (0 - 0.4914) / 0.2470
    assert x[0, 0, 0, 0].item() == pytest.approx(-0.4914 / 0.2470, abs=1e-4)
    assert ds.val.tensors[0][-1, 0, 0, 0].item() == pytest.approx((4 / 255 - 0.4914) / 0.2470, abs=1e-4)
    assert ds.test.tensors[0][0, 0, 0, 0].item() == pytest.approx((5 / 255 - 0.4914) / 0.2470, abs=1e-4)

    sub = load_dataset("cifar10", root=tmp_path, subset=100, val_size=1000)
    assert sub.sizes == {"train": 100, "val": 1000, "test": 1100}
    assert torch.equal(sub.train.tensors[0], x[:100])  # subset = first N training images
    assert load_dataset("cifar10", root=tmp_path, subset="50", val_size="10").sizes["train"] == 50
    with pytest.raises(ConfigError, match="'subset'"):
        load_dataset("cifar10", root=tmp_path, subset=0)


def test_cifar_broken_batch_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, per_batch=4)
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError) as err:
        load_dataset("cifar10", root=tmp_path, val_size=2)
    assert "test_batch" in str(err.value) and "\n" not in str(err.value)
    (folder / "data_batch_3").unlink()
    with pytest.raises(ConfigError, match="data_batch_3"):
        load_dataset("cifar10", root=tmp_path, val_size=2)


def test_synthetic_deterministic_by_seed_and_configurable() -> None:
    a, b, c = (load_dataset("synthetic", seed=s) for s in (3, 3, 4))
    assert a.input_shape == (1, 8, 8) and a.num_classes == 10
    assert a.sizes == {"train": 1200, "val": 400, "test": 400}
    assert torch.equal(a.train.tensors[0], b.train.tensors[0]) and torch.equal(a.test.tensors[1], b.test.tensors[1])
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])
    assert not (_rows(a.train) & _rows(a.val)) and not (_rows(a.train) & _rows(a.test))
    flat = load_dataset("synthetic", n_samples=300, shape=16, num_classes=3, noise=0.0)
    assert flat.input_shape == (16,) and flat.num_classes == 3
    assert sum(flat.sizes.values()) == 300
    assert len(_rows(flat.train)) == 3  # no noise: every sample is its class prototype
    assert load_dataset("synthetic", shape="3x4x4", n_samples="100").input_shape == (3, 4, 4)


def test_register_dataset_extends_registry() -> None:
    from imcnas.accuracy import data

    @register_dataset("tiny-test-graph", description="stand-in for graph data")
    def _tiny(root: Path | None, seed: int, *, n: int = 4) -> Dataset:
        t = data._tensors(np.zeros((n, 2)), np.zeros(n))
        return Dataset("tiny-test-graph", t, t, t, (2,), 2, {"n": n})

    try:
        assert "tiny-test-graph" in list_datasets()
        assert load_dataset("tiny-test-graph", n="6").sizes["train"] == 6
        assert data.dataset_descriptions()["tiny-test-graph"] == "stand-in for graph data"
        with pytest.raises(ValueError):
            register_dataset("tiny-test-graph", _tiny)
    finally:
        data._REGISTRY.pop("tiny-test-graph", None)
