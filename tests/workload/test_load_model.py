"""load_model: zoo names and path/to/file.py:factory specs, with one-line errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imcnas.errors import ImcnasError, TraceError, UnknownNameError
from imcnas.workload import load_model, trace

MODEL_FILE = '''
import torch
from torch import nn

EXAMPLE_INPUT_SHAPE = (2, 8)

def tiny():
    return nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))

def with_input():
    return nn.Linear(3, 5), torch.randn(1, 7, 3)

def broken():
    raise RuntimeError("cannot build\\nmore detail")

def not_a_model():
    return 42
'''


@pytest.fixture()
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_models.py"
    path.write_text(MODEL_FILE)
    return path


def test_zoo_name() -> None:
    model, x, name = load_model("resnet20-cifar")
    assert name == "resnet20-cifar" and tuple(x.shape) == (1, 3, 32, 32)
    assert trace(model, x).macs == 40_551_040


def test_file_factories(model_file: Path) -> None:
    model, x, name = load_model(f"{model_file}:tiny")
    assert tuple(x.shape) == (2, 8) and name == "my_models:tiny"
    w = trace(model, x, name)
    assert w.macs == 8 * 4 + 4 * 2 and w.batch == 2
    model, x, _ = load_model(f"{model_file}:with_input")
    assert tuple(x.shape) == (1, 7, 3) and isinstance(model, torch.nn.Linear)
    (op,) = trace(model, x).ops  # a bare leaf module
    assert (op.name, op.rows, op.cols, op.vectors) == ("Linear", 3, 5, 7)


def test_no_shape(tmp_path: Path) -> None:
    path = tmp_path / "noshape.py"
    path.write_text("from torch import nn\ndef f():\n    return nn.Linear(2, 2)\n")
    with pytest.raises(TraceError, match="EXAMPLE_INPUT_SHAPE"):
        load_model(f"{path}:f")


@pytest.mark.parametrize("suffix, exc, text", [
    (":missing", TraceError, "defines no factory 'missing'"),
    (":broken", TraceError, "broken raised RuntimeError: cannot build"),
    (":not_a_model", TraceError, "returned int"),
])
def test_file_errors(model_file: Path, suffix: str, exc: type, text: str) -> None:
    with pytest.raises(exc, match=text) as info:
        load_model(f"{model_file}{suffix}")
    assert "\n" not in str(info.value) and str(model_file) in str(info.value)


def test_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="model file not found") as info:
        load_model(f"{tmp_path}/nope.py:f")
    assert "\n" not in str(info.value)
    with pytest.raises(UnknownNameError, match="unknown model 'resnet99'"):
        load_model("resnet99")
    with pytest.raises(TraceError, match="needs a factory"):
        load_model("models.py")
    bad = tmp_path / "bad.py"
    bad.write_text("raise ImportError('no such dep')\n")
    with pytest.raises(ImcnasError, match="importing .*bad.py failed: ImportError: no such dep"):
        load_model(f"{bad}:f")


def test_layer_bits_of_a_model_file_reach_the_cost_model(tmp_path) -> None:
    """An exported design's LAYER_BITS are priced by imcnas.estimate (same as Workload.with_layer_bits)."""
    import imcnas

    body = ("import torch\nfrom torch import nn\n"
            "def net():\n    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), torch.zeros(1, 64)\n")
    plain, bits = tmp_path / "plain.py", tmp_path / "bits.py"
    plain.write_text(body)
    bits.write_text(body + "LAYER_BITS = {'0': {'weights': 2, 'inputs': 2}}\n")
    chip = imcnas.load_chip("neurosim-rram-22nm")
    e_plain = imcnas.estimate(f"{plain}:net", chip).energy_pj
    e_bits = imcnas.estimate(f"{bits}:net", chip).energy_pj
    from torch import nn
    import torch
    m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    ref = imcnas.estimate(imcnas.trace(m, torch.zeros(1, 64)).with_layer_bits({"0": {"weights": 2, "inputs": 2}}),
                          chip).energy_pj
    assert e_bits < e_plain
    assert e_bits == pytest.approx(ref, rel=1e-9)
