"""Architecture families: registry, default spaces, building, defaults, errors, layer bounds, tracing."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import imcnas
from imcnas.errors import ConfigError, UnknownNameError
from imcnas.space import SearchSpace
from imcnas.space.families import Family, build_model, get_family, list_families
from imcnas.space.families.mobilenet import stride_plan
from imcnas.space.families.nb201 import nb201_network
from imcnas.space.families.nb201_family import DEFAULT_CELL
from imcnas.workload.ops import OpKind

FAMILIES = ["cnn", "mobilenet", "nb201", "resnet", "transformer"]  # image/sequence families; gnn: test_gnn.py
# (family, input shape) pairs every family supports
CASES = [("cnn", (1, 8, 8)), ("cnn", (1, 40)), ("cnn", (3, 32, 32)),
         ("resnet", (3, 32, 32)), ("resnet", (1, 8, 8)), ("resnet", (1, 40)),
         ("mobilenet", (3, 32, 32)), ("mobilenet", (1, 8, 8)), ("mobilenet", (1, 40)),
         ("nb201", (3, 32, 32)), ("nb201", (1, 8, 8)),
         ("transformer", (1, 8, 8)), ("transformer", (1, 40)), ("transformer", (3, 32, 32))]
CROSSBAR = (nn.Conv1d, nn.Conv2d, nn.Linear)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def n_layers(model: nn.Module) -> int:
    return sum(isinstance(m, CROSSBAR) for m in model.modules())


def samples(family: str, shape: tuple[int, ...], n: int, seed: int = 0, classes: int = 10) -> list[dict]:
    space = SearchSpace(get_family(family).default_space(shape, classes))
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def one_line_error(err: pytest.ExceptionInfo, *needles: str) -> None:
    msg = str(err.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


# ------------------------------------------------------------------------------------------ registry
def test_registry_lists_and_gets_families() -> None:
    assert list_families() == sorted(FAMILIES + ["gnn"])
    for name in FAMILIES:
        fam = get_family(name)
        assert fam.name == name and isinstance(fam, Family)
    with pytest.raises(UnknownNameError) as err:
        get_family("vgg")
    one_line_error(err, "architecture family", "'vgg'", "cnn, gnn, mobilenet, nb201, resnet")


@pytest.mark.parametrize("name", FAMILIES)
def test_default_space_keys_are_arch_and_valid(name: str) -> None:
    space = get_family(name).default_space((3, 32, 32), 10)
    assert space and all(k.startswith("arch.") for k in space)
    SearchSpace(space)  # conditions and choices are consistent


def test_resnet_stage_params_are_conditional() -> None:
    space = SearchSpace(get_family("resnet").default_space((3, 32, 32), 10))
    assert space.params["arch.s1.width"].condition == ("arch.stages", (2, 3))
    assert space.params["arch.s2.block"].condition == ("arch.stages", (3,))
    for s in samples("resnet", (3, 32, 32), 30):
        for i in range(3):
            assert (f"arch.s{i}.blocks" in s) == (i < s["arch.stages"])


# ------------------------------------------------------------------------------------------ building
@pytest.mark.parametrize("name,shape", CASES)
def test_random_archs_build_forward_and_respect_max_layers(name: str, shape: tuple[int, ...]) -> None:
    fam, classes = get_family(name), 7
    bound = fam.max_layers(shape, classes)
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    for arch in samples(name, shape, 10, classes=classes):
        model = fam.build(arch, shape, classes)
        with torch.no_grad():
            assert model.eval()(x).shape == (2, classes), arch
        assert 0 < n_layers(model) <= bound, arch


def test_build_model_ignores_non_arch_keys() -> None:
    sample = {"arch.convs": 1, "lr": 0.01, "xbar.rows": 128, "w_bits": 4, "arch.family": "cnn"}
    a = build_model("cnn", sample, (1, 8, 8), 10)
    b = build_model("cnn", {"arch.convs": 1}, (1, 8, 8), 10)
    assert str(a) == str(b) and n_params(a) == n_params(b)


def test_cnn_default_param_count_by_hand() -> None:
    # conv 1->16 k3 + BN, conv 16->32 k3 + BN, max-pool 8x8 -> 4x4, fc 512 -> 64, classifier 64 -> 10
    expected = 16 * 9 + 32 + 16 * 32 * 9 + 64 + (32 * 16 * 64 + 64) + (64 * 10 + 10)
    assert n_params(build_model("cnn", {}, (1, 8, 8), 10)) == expected == 38330


def test_pinned_param_counts_are_deterministic() -> None:
    pinned = {("cnn", (1, 40)): 35162, ("resnet", (3, 32, 32)): 272474, ("mobilenet", (3, 32, 32)): 680778,
              ("nb201", (3, 32, 32)): 802426, ("nb201", (1, 8, 8)): 802426 - 2 * 16 * 9}
    for (name, shape), count in pinned.items():
        assert n_params(build_model(name, {}, shape, 10)) == count, name
    for name, shape in CASES[::3]:
        arch = samples(name, shape, 1, seed=7)[0]
        assert n_params(build_model(name, arch, shape, 10)) == n_params(build_model(name, dict(arch), shape, 10))


def test_nb201_adapter_matches_nb201_network() -> None:
    ops = ("nor_conv_1x1", "skip_connect", "none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_3x3")
    arch = {f"arch.e{k}": op for k, op in enumerate(ops)}
    assert n_params(build_model("nb201", arch, (3, 32, 32), 10)) == n_params(nb201_network(ops, 10))
    assert build_model("nb201", {}, (3, 32, 32), 10).arch == DEFAULT_CELL


def test_cnn_uses_conv1d_for_sequences() -> None:
    m = build_model("cnn", {}, (1, 40), 10)
    assert any(isinstance(x, nn.Conv1d) for x in m.modules())
    assert not any(isinstance(x, nn.Conv2d) for x in m.modules())


def test_mobilenet_strides_follow_input_size() -> None:
    assert sum(v == 2 for v in stride_plan((32, 32)).values()) == 3
    assert sum(v == 2 for v in stride_plan((8, 8)).values()) == 1
    assert sum(v == 2 for v in stride_plan((4, 4)).values()) == 0
    assert sum(v == 2 for v in stride_plan((224, 224)).values()) == 5
    m = build_model("mobilenet", {}, (3, 32, 32), 10)
    assert m.last(m.blocks(m.stem(torch.zeros(1, 3, 32, 32)))).shape[-2:] == (4, 4)


# ------------------------------------------------------------------------------------------ defaults
@pytest.mark.parametrize("name", FAMILIES)
def test_missing_keys_take_defaults(name: str) -> None:
    shape = (3, 32, 32)
    arch = samples(name, shape, 1, seed=3)[0]
    key = next(iter(arch))
    knobs = __import__(f"imcnas.space.families.{'nb201_family' if name == 'nb201' else name}",
                       fromlist=["KNOBS"]).KNOBS
    partial = {k: v for k, v in arch.items() if k != key}
    filled = {**partial, key: knobs[key].default}
    a, b = build_model(name, partial, shape, 10), build_model(name, filled, shape, 10)
    assert str(a) == str(b) and n_params(a) == n_params(b)
    full_default = {k: knob.default for k, knob in knobs.items()}
    assert n_params(build_model(name, {}, shape, 10)) == n_params(build_model(name, full_default, shape, 10))


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("name,key,value", [
    ("cnn", "arch.kernel", 4), ("cnn", "arch.act", "tanh"), ("cnn", "arch.convs", 0), ("cnn", "arch.pool", "yes"),
    ("resnet", "arch.stages", 5), ("resnet", "arch.s0.block", "dense"), ("resnet", "arch.s1.width", 2.5),
    ("mobilenet", "arch.width_mult", 0), ("mobilenet", "arch.s2.depth", 9), ("mobilenet", "arch.s0.expand", "6"),
    ("nb201", "arch.e0", "conv_5x5"), ("cnn", "arch.widht", 16), ("transformer", "arch.heads", 0),
    ("transformer", "arch.b0.mlp_ratio", 9), ("transformer", "arch.b12.heads", 1), ("transformer", "arch.pool", 1)])
def test_bad_values_are_one_line_config_errors(name: str, key: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        build_model(name, {key: value}, (3, 32, 32), 10)
    one_line_error(err, f"'{name}'", f"'{key}'")


@pytest.mark.parametrize("name,shape", [("nb201", (1, 40)), ("nb201", (3, 30, 30)), ("cnn", (3,)),
                                        ("resnet", (0, 8, 8)), ("mobilenet", (1, 2, 3, 4)),
                                        ("transformer", (0, 8)), ("transformer", (1, 2, 3, 4))])
def test_bad_input_shapes_are_one_line_config_errors(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError) as err:
        build_model(name, {}, shape, 10)
    one_line_error(err, f"'{name}'", "input_shape")
    with pytest.raises(ConfigError):
        get_family(name).default_space(shape, 10)


def test_bad_num_classes_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        build_model("cnn", {}, (1, 8, 8), 0)
    one_line_error(err, "num_classes")


# ------------------------------------------------------------------------------------------ cost model
@pytest.mark.parametrize("name,shape", [("cnn", (1, 8, 8)), ("cnn", (1, 40)), ("resnet", (3, 32, 32)),
                                        ("mobilenet", (1, 8, 8)), ("nb201", (3, 32, 32)),
                                        ("transformer", (1, 8, 8))])
def test_traced_models_can_be_priced(name: str, shape: tuple[int, ...]) -> None:
    fam = get_family(name)
    for arch in samples(name, shape, 2, seed=11):
        work = imcnas.trace(fam.build(arch, shape, 10), torch.randn(1, *shape))
        assert 0 < sum(op.kind == OpKind.MATRIX for op in work.ops) <= fam.max_layers(shape, 10)
        report = imcnas.estimate(work, "pcm-14nm")
        assert all(math.isfinite(v) and v >= 0 for v in report.totals.values()), report.totals


# ------------------------------------------------------------------------------------------ quickstart
def test_cnn_default_learns_digits_quickly() -> None:
    from imcnas.accuracy.data import load_dataset

    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("cnn", {}, data.input_shape, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    train, _, test = data.loaders(64, 0)
    for _ in range(3):
        model.train()
        for x, y in train:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test)
    assert correct / len(data.test) >= 0.9
