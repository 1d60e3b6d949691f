"""``resnet``: the ResNet-like macro search space of AnalogNAS (Benmeziane et al., "AnalogNAS: A Neural Network
Design Framework for Accurate Inference with Analog In-Memory Computing", IEEE EDGE 2023).

As in AnalogNAS, a network is a stem conv, ``arch.stages`` stages of residual blocks and a global-average-pool +
linear head; each stage chooses its number of blocks, width, number of parallel branches per block (summed,
as in ResNeXt-style multi-branch blocks), kernel size and block type. Stage ``i > 0`` starts with stride 2;
the first block of a stage uses a 1x1 conv + BN shortcut when its shape changes, the others an identity.
A *basic* branch is conv k x k -> BN -> ReLU -> conv k x k -> BN; a *bottleneck* branch is conv 1x1 (to
``max(width // 4, 8)`` channels) -> BN -> ReLU -> conv k x k -> BN -> ReLU -> conv 1x1 -> BN. A block
outputs ReLU(shortcut + sum of branches). ``(C, L)`` inputs use 1-D convs, ``(C, H, W)`` inputs 2-D ones.

Keys, default space and defaults (``*`` = default); ``arch.s1.*`` are active when ``arch.stages`` is 2 or 3,
``arch.s2.*`` when it is 3:

=================  ================================  ========================================
key                default space                     legal when built
=================  ================================  ========================================
arch.stem          16*, 32                           stem conv 3x3 channels, 1..1024
arch.stages        int 1..3 (3*)                     1..3
arch.s{i}.blocks   int 1..3 (s0: 3*, s1: 3*, s2: 3*) 1..3
arch.s{i}.width    s0: 16*, 32, 48, 64               1..1024
                   s1: 32*, 48, 64, 96
                   s2: 64*, 96, 128
arch.s{i}.branches int 1..3 (1*)                     1..3
arch.s{i}.kernel   3*, 5                             odd, 1..7
arch.s{i}.block    "basic"*, "bottleneck"            basic, bottleneck
=================  ================================  ========================================

The default architecture is ResNet-20 for CIFAR (He et al. 2016; 0.27M parameters).
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor, nn

from imcnas.space.families.base import (Knob, check_shape, choice_of, int_in, layers_for, odd_kernel,
                                        resolve_arch)
from imcnas.space.params import Choice, Int, Param

__all__ = ["KNOBS", "MAX_BLOCKS", "MAX_BRANCHES", "MAX_STAGES", "ResNet", "ResNetMacro", "STAGE_WIDTHS"]

MAX_STAGES = 3
MAX_BLOCKS = 3
MAX_BRANCHES = 3
BLOCKS = ("basic", "bottleneck")
STAGE_WIDTHS: tuple[tuple[int, ...], ...] = ((16, 32, 48, 64), (32, 48, 64, 96), (64, 96, 128))

KNOBS: dict[str, Knob] = {"arch.stem": Knob(16, int_in(1, 1024)), "arch.stages": Knob(3, int_in(1, MAX_STAGES))}
for _i in range(MAX_STAGES):
    KNOBS.update({
        f"arch.s{_i}.blocks": Knob(3, int_in(1, MAX_BLOCKS)),
        f"arch.s{_i}.width": Knob(STAGE_WIDTHS[_i][0], int_in(1, 1024)),
        f"arch.s{_i}.branches": Knob(1, int_in(1, MAX_BRANCHES)),
        f"arch.s{_i}.kernel": Knob(3, odd_kernel()),
        f"arch.s{_i}.block": Knob("basic", choice_of(*BLOCKS)),
    })


def _branch(L: Any, kind: str, c_in: int, c: int, k: int, stride: int) -> nn.Sequential:
    conv, bn = L.conv, L.bn
    if kind == "basic":
        return nn.Sequential(conv(c_in, c, k, stride, k // 2, bias=False), bn(c), nn.ReLU(),
                             conv(c, c, k, 1, k // 2, bias=False), bn(c))
    mid = max(c // 4, 8)
    return nn.Sequential(conv(c_in, mid, 1, bias=False), bn(mid), nn.ReLU(),
                         conv(mid, mid, k, stride, k // 2, bias=False), bn(mid), nn.ReLU(),
                         conv(mid, c, 1, bias=False), bn(c))


class MultiBranchBlock(nn.Module):
    """ReLU(shortcut(x) + sum of parallel branches(x)); the shortcut is a 1x1 conv + BN when shapes change."""

    def __init__(self, L: Any, kind: str, c_in: int, c: int, k: int, stride: int, branches: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_branch(L, kind, c_in, c, k, stride) for _ in range(branches))
        self.shortcut = nn.Sequential(L.conv(c_in, c, 1, stride, bias=False), L.bn(c)) \
            if stride != 1 or c_in != c else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.shortcut(x)
        for branch in self.branches:
            out = out + branch(x)
        return self.act(out)


class ResNetMacro(nn.Module):
    """Stem conv-BN-ReLU, stages of :class:`MultiBranchBlock`, global average pool, linear classifier."""

    def __init__(self, arch: Mapping[str, Any], in_channels: int, ndim: int, num_classes: int) -> None:
        super().__init__()
        self.arch = dict(arch)
        L = layers_for(ndim)
        c = int(arch["arch.stem"])
        self.stem = nn.Sequential(L.conv(in_channels, c, 3, 1, 1, bias=False), L.bn(c), nn.ReLU())
        blocks: list[nn.Module] = []
        for i in range(int(arch["arch.stages"])):
            p = f"arch.s{i}."
            width, k = int(arch[p + "width"]), int(arch[p + "kernel"])
            for b in range(int(arch[p + "blocks"])):
                stride = 2 if i > 0 and b == 0 else 1
                blocks.append(MultiBranchBlock(L, arch[p + "block"], c, width, k, stride, int(arch[p + "branches"])))
                c = width
        self.stages = nn.Sequential(*blocks)
        self.pool = L.avgpool(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.flatten(self.pool(self.stages(self.stem(x)))))


class ResNet:
    """The ``resnet`` family (AnalogNAS macro space; see the module docstring for keys and defaults)."""

    name = "resnet"
    knobs = KNOBS  # every arch.* key with its default and legal values (pre-flight checks them)

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """stem 16/32, stages 1..3 and, per active stage, blocks 1..3, width, branches 1..3, kernel 3/5, block."""
        check_shape(self.name, input_shape, num_classes)
        space: dict[str, Param] = {"arch.stem": Choice((16, 32)), "arch.stages": Int(1, MAX_STAGES)}
        for i in range(MAX_STAGES):
            cond = None if i == 0 else ("arch.stages", tuple(range(i + 1, MAX_STAGES + 1)))
            space.update({
                f"arch.s{i}.blocks": Int(1, MAX_BLOCKS, condition=cond),
                f"arch.s{i}.width": Choice(STAGE_WIDTHS[i], condition=cond),
                f"arch.s{i}.branches": Int(1, MAX_BRANCHES, condition=cond),
                f"arch.s{i}.kernel": Choice((3, 5), condition=cond),
                f"arch.s{i}.block": Choice(BLOCKS, condition=cond),
            })
        return space

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """A :class:`ResNetMacro`; 1-D convs for ``(C, L)`` inputs, 2-D for ``(C, H, W)``."""
        c, spatial = check_shape(self.name, input_shape, num_classes)
        return ResNetMacro(resolve_arch(self.name, arch, KNOBS), c, len(spatial), num_classes)

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """stem + per stage (blocks x branches x 3 bottleneck convs + 1 shortcut) + classifier."""
        check_shape(self.name, input_shape, num_classes)
        return 1 + MAX_STAGES * (MAX_BLOCKS * MAX_BRANCHES * 3 + 1) + 1
