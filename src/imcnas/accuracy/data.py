"""Datasets by name, with fixed train/validation/test splits.

- ``digits``: scikit-learn's 8x8 digits (1,797 images, 10 classes), the default quick task; 60/20/20 split
- ``mnist1d``: MNIST-1D (Greydanus 2020) generated locally, 1x40 signals, 10 classes; 3,200/800/1,000 split
- ``cifar10``: CIFAR-10 from a local folder in the python pickle format; 45,000/5,000/10,000 split
- ``synthetic``: Gaussian class prototypes plus noise, any sample shape; 60/20/20 split
- ``dyck``: balanced-bracket classification over token ids (``imcnas.accuracy.tokens``)
- ``sbm``, ``karate``, ``fake-graphs``, ``fake-nodes``: graph tasks for GNNs (``imcnas.accuracy.graphs``)

Splits never depend on the training seed: ``digits`` uses the fixed ``SPLIT_SEED``, ``mnist1d`` the package's
canonical generation seed and ``cifar10`` the file order. Only ``synthetic`` uses ``load_dataset(seed=...)``, as
the seed that generates the task. The training seed goes to ``Dataset.loaders`` (shuffle order only).
More tasks plug in with ``register_dataset``.
"""
from __future__ import annotations

import inspect
import os
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from imcnas.errors import ConfigError, UnknownNameError

__all__ = ["Dataset", "SPLIT_SEED", "register_dataset", "list_datasets", "dataset_descriptions", "load_dataset",
           "default_data_root"]

SPLIT_SEED = 0  # seed of the fixed digits split; independent of any training seed
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

LoaderFn = Callable[..., "Dataset"]  # fn(root: Path | None, seed: int, **options) -> Dataset


@dataclass(frozen=True)
class Dataset:
    """A classification task: three TensorDatasets of (x, y), per-sample ``input_shape`` and ``num_classes``."""

    name: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    input_shape: tuple[int, ...]
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        """Number of samples per split."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def loaders(self, batch_size: int, seed: int) -> tuple[DataLoader, DataLoader, DataLoader]:
        """(train, val, test) loaders; train is shuffled by a torch.Generator seeded with ``seed``."""
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        gen = torch.Generator().manual_seed(seed)
        return (DataLoader(self.train, batch_size=batch_size, shuffle=True, generator=gen),
                DataLoader(self.val, batch_size=batch_size, shuffle=False),
                DataLoader(self.test, batch_size=batch_size, shuffle=False))


@dataclass(frozen=True)
class _Entry:
    fn: LoaderFn
    description: str


_REGISTRY: dict[str, _Entry] = {}


def register_dataset(name: str, loader_fn: LoaderFn | None = None, description: str = "") -> Any:
    """Register ``loader_fn(root, seed, **options) -> Dataset`` under ``name``; without ``loader_fn``, a decorator.

    Options are the loader's keyword-only parameters; their defaults give the types used to parse strings.
    """
    def add(fn: LoaderFn) -> LoaderFn:
        if name in _REGISTRY:
            raise ValueError(f"dataset '{name}' is already registered")
        _REGISTRY[name] = _Entry(fn, description or (inspect.getdoc(fn) or "").split("\n")[0])
        return fn

    return add if loader_fn is None else add(loader_fn)


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_REGISTRY)


def dataset_descriptions() -> dict[str, str]:
    """One-line description per registered dataset."""
    return {name: _REGISTRY[name].description for name in list_datasets()}


def load_dataset(name: str, *, root: str | Path | None = None, seed: int = 0, **options: Any) -> Dataset:
    """Load a registered dataset. ``seed`` generates synthetic tasks; it never changes a real dataset's split."""
    if name not in _REGISTRY:
        raise UnknownNameError("dataset", name, list(_REGISTRY))
    fn = _REGISTRY[name].fn
    params = inspect.signature(fn).parameters
    known = {k: p for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    parsed: dict[str, Any] = {}
    for key, value in options.items():
        if key not in known and not takes_any:
            raise ConfigError(f"dataset '{name}': unknown option '{key}'; known: {', '.join(sorted(known)) or 'none'}")
        parsed[key] = _parse_option(name, key, value, known[key].default) if key in known else value
    return fn(Path(root).expanduser() if root is not None else None, seed, **parsed)


def default_data_root() -> Path:
    """Folder searched for dataset files: ``$IMCNAS_DATA``, else ``~/.cache/imcnas/data``."""
    env = os.environ.get("IMCNAS_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "imcnas" / "data"


# ---------------------------------------------------------------------------------------------- helpers
def _parse_option(dataset: str, key: str, value: Any, default: Any) -> Any:
    """Turn a string option (from a CLI) into the type of its default; other values pass through."""
    if not isinstance(value, str) or default is inspect.Parameter.empty or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes")
        if isinstance(default, tuple):
            return tuple(int(v) for v in value.replace("x", ",").split(",") if v.strip())
        if default is None or isinstance(default, int):
            return int(value)
        return type(default)(value)
    except ValueError:
        raise ConfigError(f"dataset '{dataset}': option '{key}' cannot be '{value}'") from None


def _check(dataset: str, ok: bool, key: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"dataset '{dataset}': option '{key}' must be {rule}, got {value!r}")


def _stratified_split(y: np.ndarray, fractions: tuple[float, float], seed: int) -> tuple[np.ndarray, ...]:
    """Indices (train, val, test): per class, a seeded permutation cut at the train and val fractions."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_tr, n_va = round(len(idx) * fractions[0]), round(len(idx) * fractions[1])
        for part, chunk in zip(parts, (idx[:n_tr], idx[n_tr:n_tr + n_va], idx[n_tr + n_va:])):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def _tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32),
                         torch.as_tensor(y, dtype=torch.long))


def _from_split(name: str, x: np.ndarray, y: np.ndarray, idx: tuple[np.ndarray, ...], num_classes: int,
                standardize: bool, meta: dict[str, Any]) -> Dataset:
    """Build a Dataset from index splits, standardising with statistics of the train split only."""
    x = x.astype(np.float32)
    if standardize:
        mean, std = float(x[idx[0]].mean()), float(x[idx[0]].std()) or 1.0
        x = (x - mean) / std
        meta = {**meta, "mean": mean, "std": std}
    tr, va, te = (_tensors(x[i], y[i]) for i in idx)
    return Dataset(name, tr, va, te, tuple(x.shape[1:]), num_classes, meta)


# ---------------------------------------------------------------------------------------------- built-ins
@register_dataset("digits")
def _digits(root: Path | None, seed: int, *, standardize: bool = True) -> Dataset:
    """scikit-learn 8x8 digits, 1x8x8 in [0,1] (then standardised on train), 60/20/20 split with SPLIT_SEED."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    idx = _stratified_split(y, (0.6, 0.2), SPLIT_SEED)
    return _from_split("digits", x, y, idx, 10, standardize, {"split_seed": SPLIT_SEED, "source": "sklearn"})


@register_dataset("mnist1d")
def _mnist1d(root: Path | None, seed: int, *, num_samples: int = 5000) -> Dataset:
    """MNIST-1D generated in memory (canonical seed 42, no download, no files), 1x40 signals, 64/16/20 split."""
    _check("mnist1d", num_samples >= 100 and num_samples % 10 == 0, "num_samples", "a multiple of 10, >= 100",
           num_samples)
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    py_state, np_state = random.getstate(), np.random.get_state()
    try:  # make_dataset reseeds the global RNGs; put them back afterwards
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    x, y = data["x"].reshape(-1, 1, 40), data["y"].astype(np.int64)
    n_val = len(y) // 5  # validation: the last fifth of the package's train split
    train, val = _tensors(x[:-n_val], y[:-n_val]), _tensors(x[-n_val:], y[-n_val:])
    test = _tensors(data["x_test"].reshape(-1, 1, 40), data["y_test"].astype(np.int64))
    meta = {"generation_seed": args.seed, "num_samples": num_samples, "source": "mnist1d.make_dataset"}
    return Dataset("mnist1d", train, val, test, (1, 40), 10, meta)


def _find_cifar(base: Path) -> Path | None:
    for folder in (base, base / "cifar-10-batches-py", base / "cifar10", base / "cifar10" / "cifar-10-batches-py"):
        if (folder / "data_batch_1").is_file():
            return folder
    return None


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise ConfigError(f"dataset 'cifar10': missing file {path}")
    try:
        with path.open("rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data = batch.get(b"data", batch.get("data"))
        labels = batch.get(b"labels", batch.get("labels"))
        x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(labels, dtype=np.int64)
        if len(x) != len(y):
            raise ValueError("data and labels differ in length")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"dataset 'cifar10': {path} is not a python-format CIFAR-10 batch ({msg})") from None
    return x, y


def _cifar_float(x: np.ndarray) -> np.ndarray:
    mean = np.asarray(CIFAR10_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(CIFAR10_STD, dtype=np.float32).reshape(1, 3, 1, 1)
    return (x.astype(np.float32) / 255.0 - mean) / std


@register_dataset("cifar10")
def _cifar10(root: Path | None, seed: int, *, subset: int | None = None, val_size: int = 5000) -> Dataset:
    """CIFAR-10 from a local python-format folder, 3x32x32; validation is the last val_size training images."""
    _check("cifar10", subset is None or (isinstance(subset, int) and subset >= 1), "subset", "an integer >= 1",
           subset)
    _check("cifar10", isinstance(val_size, int) and val_size >= 1, "val_size", "an integer >= 1", val_size)
    base = root if root is not None else default_data_root()
    folder = _find_cifar(base)
    if folder is None:
        raise ConfigError(f"dataset 'cifar10': not found in {base}; put the python-format CIFAR-10 "
                          "(cifar-10-batches-py with data_batch_1..5, test_batch) there, "
                          "or point data.root (load_dataset(root=...)) or IMCNAS_DATA at its folder")
    batches = [_read_cifar_batch(folder / f) for f in _CIFAR_FILES]
    x_all = np.concatenate([b[0] for b in batches[:5]])
    y_all = np.concatenate([b[1] for b in batches[:5]])
    _check("cifar10", val_size < len(y_all), "val_size", f"smaller than the {len(y_all)} training images", val_size)
    n_train = len(y_all) - val_size
    keep = n_train if subset is None else min(subset, n_train)
    train = _tensors(_cifar_float(x_all[:keep]), y_all[:keep])
    val = _tensors(_cifar_float(x_all[n_train:]), y_all[n_train:])
    test = _tensors(_cifar_float(batches[5][0]), batches[5][1])
    meta = {"folder": str(folder), "mean": CIFAR10_MEAN, "std": CIFAR10_STD, "subset": subset}
    return Dataset("cifar10", train, val, test, (3, 32, 32), 10, meta)


@register_dataset("synthetic")
def _synthetic(root: Path | None, seed: int, *, n_samples: int = 2000, shape: tuple[int, ...] = (1, 8, 8),
               num_classes: int = 10, noise: float = 2.0) -> Dataset:
    """Gaussian class prototypes plus noise (std ``noise``), any sample shape; generated from ``seed``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    _check("synthetic", len(shape) >= 1 and all(isinstance(s, int) and s >= 1 for s in shape), "shape",
           "positive integers", shape)
    _check("synthetic", isinstance(num_classes, int) and num_classes >= 2, "num_classes", "an integer >= 2",
           num_classes)
    _check("synthetic", isinstance(n_samples, int) and n_samples >= 5 * num_classes, "n_samples",
           f"an integer >= 5 * num_classes = {5 * num_classes}", n_samples)
    _check("synthetic", isinstance(noise, (int, float)) and noise >= 0, "noise", "a number >= 0", noise)
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((num_classes, *shape))
    y = rng.permutation(np.arange(n_samples) % num_classes).astype(np.int64)
    x = prototypes[y] + noise * rng.standard_normal((n_samples, *shape))
    idx = _stratified_split(y, (0.6, 0.2), seed)
    meta = {"seed": seed, "noise": float(noise), "source": "gaussian prototypes"}
    return _from_split("synthetic", x, y, idx, num_classes, True, meta)


from imcnas.accuracy import tokens as _tokens  # noqa: E402,F401 - registers the token tasks (dyck)
from imcnas.accuracy import graphs as _graphs  # noqa: E402,F401 - registers the graph tasks (sbm, karate, ...)
