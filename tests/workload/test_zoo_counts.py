"""MAC and weight counts of the built-in models against analytic figures."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from imcnas.errors import UnknownNameError
from imcnas.workload import OpKind, get_model, list_models, trace
from imcnas.workload.zoo import MobileNetV2

# costmodel.yaml vgg8_cifar: (in_hw, in_c, k, out_c); the 7th layer is the 8192 -> 1024 FC written as 4x4.
VGG8_TABLE = [(32, 3, 3, 128), (32, 128, 3, 128), (16, 128, 3, 256), (16, 256, 3, 256), (8, 256, 3, 512),
              (8, 512, 3, 512), (4, 512, 4, 1024), (1, 1024, 1, 10)]


def _traced(name: str, tracer: str = "auto"):
    model, x = get_model(name)
    return model, trace(model, x, name, tracer=tracer)


def _static_weights(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_list_and_unknown() -> None:
    assert list_models() == ["bert-base", "gcn-cora", "mobilenetv2", "resnet18", "resnet20-cifar", "vgg8-cifar",
                             "vit-tiny"]
    with pytest.raises(UnknownNameError, match="unknown model 'vgg9'; known: bert-base"):
        get_model("vgg9")


def test_vgg8_matches_neurosim_table() -> None:
    _, w = _traced("vgg8-cifar")
    ms = w.matrix_ops
    assert len(ms) == 8
    expected_macs = 0
    for op, (hw, cin, k, cout) in zip(ms, VGG8_TABLE):
        vectors = hw * hw if k == 3 else 1  # 3x3 convs keep the size (padding 1); the FCs run once
        assert (op.rows, op.cols, op.groups, op.vectors) == (k * k * cin, cout, 1, vectors), op.name
        expected_macs += k * k * cin * cout * vectors
    assert expected_macs == 615_917_568
    assert w.macs == expected_macs
    assert w.weights == 12_973_440
    assert [o.kind for o in w.ops].count(OpKind.POOL) == 3
    assert w.batch == 1 and w.input_shape == (1, 3, 32, 32) and w.tracer == "fx"


def _resnet18_macs() -> int:
    macs = 112 * 112 * 7 * 7 * 3 * 64  # stem
    cin, hw = 64, 56
    for i, cout in enumerate((64, 128, 256, 512)):
        if i:
            hw //= 2  # stride-2 first conv: output positions counted at the reduced size
            macs += hw * hw * cin * cout  # 1x1 projection shortcut, stride 2
        macs += hw * hw * 9 * cin * cout + 3 * hw * hw * 9 * cout * cout
        cin = cout
    return macs + 512 * 1000


def test_resnet18() -> None:
    model, w = _traced("resnet18")
    assert _resnet18_macs() == 1_814_073_344
    assert w.macs == _resnet18_macs()
    assert w.weights == _static_weights(model) == 11_678_912
    conv1 = w.matrix_ops[0]
    assert (conv1.rows, conv1.cols, conv1.vectors) == (147, 64, 112 * 112)
    assert conv1.meta["stride"] == (2, 2) and conv1.meta["kernel"] == (7, 7)
    down = next(o for o in w.matrix_ops if o.name == "layer2.0.downsample.0")
    assert (down.rows, down.cols, down.vectors) == (64, 128, 28 * 28)


def _mobilenetv2_macs() -> int:
    macs, cin, hw = 112 * 112 * 27 * 32, 32, 112
    for t, c, n, s in MobileNetV2.SETTINGS:
        for i in range(n):
            hidden, hw_out = cin * t, hw // (s if i == 0 else 1)
            macs += (hw * hw * cin * hidden if t != 1 else 0) + hw_out * hw_out * 9 * hidden
            macs += hw_out * hw_out * hidden * c
            cin, hw = c, hw_out
    return macs + hw * hw * cin * 1280 + 1280 * 1000


def test_mobilenetv2_depthwise() -> None:
    model, w = _traced("mobilenetv2")
    assert w.macs == _mobilenetv2_macs() == 300_774_272
    assert w.weights == _static_weights(model)
    dws = [o for o in w.matrix_ops if o.groups > 1]
    assert len(dws) == 17
    for op in dws:
        assert (op.rows, op.cols) == (9, 1)
        assert op.groups == op.out_shape[1] == op.in_shape[1]
        assert op.vectors == op.out_shape[2] * op.out_shape[3]
    first = dws[0]
    assert (first.groups, first.vectors) == (32, 112 * 112)


def test_resnet20() -> None:
    model, w = _traced("resnet20-cifar")
    assert w.macs == 40_551_040
    assert len(w.matrix_ops) == 20 and w.weights == _static_weights(model)


@pytest.mark.parametrize("name", ["vgg8-cifar", "resnet20-cifar", "resnet18", "mobilenetv2"])
def test_fx_and_hooks_agree(name: str) -> None:
    _, fx_w = _traced(name, "fx")
    _, hook_w = _traced(name, "hooks")
    assert fx_w.tracer == "fx" and hook_w.tracer == "hooks"
    assert fx_w.ops == hook_w.ops
    assert not [o for o in fx_w.ops if "unclassified" in o.meta]


def test_batch_counts_scale() -> None:
    model, _ = get_model("resnet20-cifar")
    w = trace(model, torch.randn(4, 3, 32, 32))
    assert w.batch == 4 and w.macs == 40_551_040
    assert w.matrix_ops[0].vectors == 4 * 32 * 32
    assert w.matrix_arrays["vectors"][0] == 32 * 32


def _encoder_macs(n: int, d: int, depth: int, hidden: int) -> int:
    """Per block: q, k, v, proj (4 n d^2), the MLP (2 n d hidden), QK^T and AV (2 n^2 d)."""
    return depth * (4 * n * d * d + 2 * n * d * hidden + 2 * n * n * d)


@pytest.mark.parametrize("name,macs,params", [
    # DeiT-Ti: 196 patches + class token; patch conv 196 x 768 x 192; classifier 192 x 1000; 5,717,416
    # parameters is the count of timm's deit_tiny_patch16_224
    ("vit-tiny", 196 * 768 * 192 + _encoder_macs(197, 192, 12, 768) + 192 * 1000, 5_717_416),
    # 128 tokens + class token; embedding lookups are reads, not MACs; classifier 768 x 2
    ("bert-base", _encoder_macs(129, 768, 12, 3072) + 768 * 2, 108_598_274)])
def test_transformer_zoo_counts(name: str, macs: int, params: int) -> None:
    model, w = _traced(name)
    assert w.macs == macs
    assert sum(p.numel() for p in model.parameters()) == params
    assert len([o for o in w.ops if o.kind == OpKind.DYNAMIC_MATMUL]) == 24


def test_gcn_cora_counts() -> None:
    """Kipf & Welling's GCN on Cora's size: 2,708 x (1,433 x 16 + 16 x 7) MACs on crossbars, and aggregation
    over the 10,556 edges plus 2,708 self loops for each layer's width (16, then 7)."""
    pytest.importorskip("torch_geometric")
    _, w = _traced("gcn-cora")
    assert w.macs == 2708 * (1433 * 16 + 16 * 7)
    assert w.weights == 1433 * 16 + 16 * 7
    agg = [o for o in w.ops if o.kind is OpKind.AGGREGATE and o.module == "SumAggregation"]
    assert [o.flops for o in agg] == [(10556 + 2708) * 16, (10556 + 2708) * 7]
