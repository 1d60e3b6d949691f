"""Built-in reference models by name, and loading user models from ``path/to/file.py:factory``.

- ``vgg8-cifar``: NeuroSim V1.4 VGG-8 (costmodel.yaml ``vgg8_cifar``), 3x32x32, 615.9 M MACs, 12.97 M weights
- ``resnet20-cifar``: He et al. 2016 CIFAR ResNet-20 (16/32/64, option-A shortcuts), 3x32x32, 40.55 M MACs
- ``resnet18``: torchvision ResNet-18 (hand-written equivalent), 3x224x224, 1.814 G MACs
- ``mobilenetv2``: torchvision MobileNetV2, width 1.0, 3x224x224, 300.8 M MACs
- ``vit-tiny``: ViT-Tiny-like (DeiT-Ti layout: patch 16, dim 192, 12 blocks, 3 heads, MLP 768, class token),
  3x224x224, 1,000 classes, built by the ``transformer`` family
- ``bert-base``: a BERT-base-sized encoder (dim 768, 12 blocks, 12 heads, MLP 3,072, vocabulary 30,522) over
  128 token ids, 2 classes, built by the ``transformer`` family from a config (random weights, no download;
  pre-norm, no segment embeddings or pooler, so not BERT's exact module list)
- ``gcn-cora``: Kipf & Welling's 2-layer GCN (1,433 -> 16 -> 7) on a Cora-sized graph: 2,708 nodes, 10,556
  directed edges (Cora's counts in torch_geometric's Planetoid), random features and uniformly random edges
  (the cost depends on the counts, not on which nodes are linked); needs torch_geometric (``imcnas[graph]``)
"""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imcnas.errors import TraceError, UnknownNameError

__all__ = ["list_models", "get_model", "load_model", "VGG8", "ResNetCifar", "ResNet18", "MobileNetV2"]


# ---------------------------------------------------------------------------------------------- VGG-8
class VGG8(nn.Module):
    """NeuroSim's VGG-8 for CIFAR-10: 12,973,440 weights, 615,917,568 MACs per image."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate((128, 128, 256, 256, 512, 512)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.ReLU(inplace=True)]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8192, 1024, bias=False), nn.ReLU(inplace=True),
                                        nn.Linear(1024, num_classes, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


# ---------------------------------------------------------------------------------------------- ResNets
class _CifarBlock(nn.Module):
    """Basic block with the parameter-free option-A shortcut (subsample + zero-pad channels)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.pad = (cout - cin) // 2 if stride != 1 or cin != cout else -1

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.pad < 0 else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return self.relu(out + sc)


class ResNetCifar(nn.Module):
    """He et al. CIFAR ResNet-(6n+2); n=3 is ResNet-20 (0.27 M weights)."""

    def __init__(self, n: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        blocks, cin = [], 16
        for stage, cout in enumerate((16, 32, 64)):
            for i in range(n):
                blocks.append(_CifarBlock(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class _BasicBlock(nn.Module):
    """torchvision BasicBlock (1x1 conv + BN projection shortcut when shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    """torchvision ``resnet18`` layout and module names: 11.69 M parameters, 1.814 G MACs at 224x224."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, cout in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---------------------------------------------------------------------------------------------- MobileNetV2
def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if act else nn.Sequential(*layers)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = round(cin * expand)
        self.use_res_connect = stride == 1 and cin == cout
        layers = [_conv_bn(cin, hidden, 1)] if expand != 1 else []
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), _conv_bn(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision ``mobilenet_v2`` (width 1.0): 3.50 M parameters, 300.8 M MACs at 224x224."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0) -> None:
        super().__init__()
        cin, last = _divisible(32 * width_mult), _divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [_conv_bn(3, cin, 3, 2)]
        for t, c, n, s in self.SETTINGS:
            cout = _divisible(c * width_mult)
            for i in range(n):
                features.append(_InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(_conv_bn(cin, last, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------- GCN
CORA = {"nodes": 2708, "edges": 10556, "features": 1433, "classes": 7}  # torch_geometric Planetoid("Cora")


def _gcn_cora() -> nn.Module:
    from imcnas.space.families.gnn import require_pyg

    GCNConv = require_pyg().nn.GCNConv

    class GCN(nn.Module):
        """Kipf & Welling 2017: GCNConv -> ReLU -> dropout -> GCNConv."""

        def __init__(self, features: int, hidden: int, classes: int) -> None:
            super().__init__()
            self.conv1, self.conv2 = GCNConv(features, hidden), GCNConv(hidden, classes)

        def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
            h = F.dropout(F.relu(self.conv1(x, edge_index)), 0.5, self.training)
            return self.conv2(h, edge_index)

    return GCN(CORA["features"], 16, CORA["classes"])


def random_graph(nodes: int, edges: int, features: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(x, edge_index): random node features and ``edges`` directed edges without self loops, stored both ways
    (undirected; an odd count gets one more edge one way)."""
    gen = torch.Generator().manual_seed(seed)
    half = (edges + 1) // 2
    src = torch.randint(0, nodes, (half,), generator=gen)
    dst = (src + torch.randint(1, max(nodes, 2), (half,), generator=gen)) % nodes  # never a self loop
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])[:, :edges]
    return torch.randn(nodes, features, generator=gen), edge_index


# ---------------------------------------------------------------------------------------------- registry
def _family(arch: dict, shape: tuple[int, ...], classes: int) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        from imcnas.space.families import build_model

        return build_model("transformer", arch, shape, classes)
    return make


_VIT_TINY = {"arch.patch": 16, "arch.dim": 192, "arch.depth": 12, "arch.heads": 3, "arch.mlp_ratio": 4,
             "arch.pool": "cls"}
_BERT_BASE = {"arch.dim": 768, "arch.depth": 12, "arch.heads": 12, "arch.mlp_ratio": 4, "arch.vocab": 30522,
              "arch.pool": "cls"}
# name -> (factory, input shape, vocabulary for token-id inputs, 0 for float inputs, -1 for a graph)
_ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int]] = {
    "vgg8-cifar": (VGG8, (3, 32, 32), 0),
    "resnet20-cifar": (lambda: ResNetCifar(3), (3, 32, 32), 0),
    "resnet18": (ResNet18, (3, 224, 224), 0),
    "mobilenetv2": (MobileNetV2, (3, 224, 224), 0),
    "vit-tiny": (_family(_VIT_TINY, (3, 224, 224), 1000), (3, 224, 224), 0),
    "bert-base": (_family(_BERT_BASE, (128,), 2), (128,), 30522),
    "gcn-cora": (_gcn_cora, (CORA["features"],), -1),  # -1: a graph input (random_graph of Cora's size)
}


def list_models() -> list[str]:
    """Names of the built-in models."""
    return sorted(_ZOO)


def get_model(name: str) -> tuple[nn.Module, Tensor | tuple[Tensor, ...]]:
    """A fresh built-in model (random weights, eval mode) and a random example input of batch 1 (token ids
    for token models, ``(x, edge_index)`` for graph models)."""
    if name not in _ZOO:
        raise UnknownNameError("model", name, list_models())
    factory, shape, vocab = _ZOO[name]
    if vocab < 0:
        return factory().eval(), random_graph(CORA["nodes"], CORA["edges"], shape[0])
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab, (1, *shape), generator=gen) if vocab else torch.randn(1, *shape, generator=gen)
    return factory().eval(), x


def load_model(spec: str) -> tuple[nn.Module, Tensor, str]:
    """(model, example input, name) from a zoo name or ``path/to/file.py:factory``.

    The factory takes no arguments and returns an ``nn.Module`` or ``(module, example_input)``; when it
    returns only a module, its file must define ``EXAMPLE_INPUT_SHAPE`` (full shape with the batch dim,
    e.g. ``(1, 3, 32, 32)``). Errors are one-line: UnknownNameError for an unknown zoo name, TraceError for
    a missing file or factory, a factory that raises, or a result of the wrong type.
    """
    if spec in _ZOO:
        model, x = get_model(spec)
        return model, x, spec
    path_s, sep, fname = spec.rpartition(":")
    if not sep or not path_s or not fname or "/" in fname or "\\" in fname:
        if spec.endswith(".py"):
            raise TraceError(f"model spec '{spec}' needs a factory: use path/to/file.py:factory")
        raise UnknownNameError("model", spec, list_models())
    path = Path(path_s)
    where = f"{path}:{fname}"
    if not path.is_file():
        raise TraceError(f"model file not found: {path} (from '{spec}')")
    module = _import_file(path, where)
    factory = getattr(module, fname, None)
    if not callable(factory):
        raise TraceError(f"{path} defines no factory '{fname}'")
    try:
        result = factory()
    except Exception as e:  # noqa: BLE001
        raise TraceError(f"{where} raised {_one_line(e)}") from e
    x = None
    if isinstance(result, tuple) and len(result) == 2:
        result, x = result
    if not isinstance(result, nn.Module):
        raise TraceError(f"{where} returned {type(result).__name__}, expected nn.Module or (nn.Module, input)")
    if x is None:
        shape = getattr(module, "EXAMPLE_INPUT_SHAPE", None)
        if shape is None:
            raise TraceError(f"{where} returned only a module: return (module, example_input) or define "
                             f"EXAMPLE_INPUT_SHAPE = (1, C, H, W) in {path.name}")
        try:
            x = torch.randn(*tuple(int(s) for s in shape), generator=torch.Generator().manual_seed(0))
        except (TypeError, ValueError, RuntimeError) as e:
            raise TraceError(f"{path.name}: bad EXAMPLE_INPUT_SHAPE {shape!r}: {_one_line(e)}") from e
    bits = getattr(module, "LAYER_BITS", None)
    if bits:  # per-layer precision of an exported design, applied by imcnas.estimate
        result.imcnas_layer_bits = dict(bits)
    return result.eval(), x, f"{path.stem}:{fname}"


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__


def _import_file(path: Path, where: str) -> object:
    name = f"imcnas_user_model_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TraceError(f"cannot import {path} (from '{where}')")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001
        sys.modules.pop(name, None)
        raise TraceError(f"importing {path} failed: {_one_line(e)}") from e
    return module
