"""``cnn``: a small plain CNN for small tasks (sklearn digits 1x8x8, MNIST-1D 1x40, small images).

Style: the plain conv stacks of tiny-ML and analog-AI tutorials (e.g. aihwkit's LeNet-like examples):
``arch.convs`` times Conv -> BatchNorm -> activation ("same" padding, stride 1, so 8x8 inputs keep their size),
an optional 2x max-pool after the last conv, an average pool that caps the flattened map at 16 positions
(4x4 or 16), an optional hidden linear layer and a linear classifier. ``(C, L)`` inputs use Conv1d and
``(C, H, W)`` inputs Conv2d. Conv ``i`` (from 0) has ``min(round(width * width_mult**i), max(width, 32))``
channels (growth stops at 32 channels, or at ``arch.width`` when that is larger).

Keys, default space and defaults (``*`` = default):

==================  ===================  ======================================================
key                 default space        meaning (legal values when built)
==================  ===================  ======================================================
arch.convs          int 1..3 (2*)        conv layers (1..3)
arch.width          8, 16*, 32           channels of the first conv (1..1024)
arch.width_mult     1, 2*                channel growth per conv (1..4)
arch.kernel         3*, 5                conv kernel size (odd, 1..7)
arch.pool           True*, False         2x max-pool after the last conv (when the map is >= 2)
arch.fc             0, 32, 64*           hidden units of a linear layer before the classifier (0 = none; 0..4096)
arch.act            "relu"*, "gelu"      activation
==================  ===================  ======================================================

Every model of the default space has fewer than 90k parameters on 1- to 3-channel inputs (the default: 38,330 on 1x8x8,
99 % test accuracy on sklearn digits after 3 epochs of Adam) and at most 5 crossbar layers.
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor, nn

from imcnas.space.families.base import (Knob, check_shape, choice_of, flag, int_in, layers_for, number_in,
                                        odd_kernel, resolve_arch)
from imcnas.space.params import Choice, Int, Param

__all__ = ["CNN", "KNOBS", "MAX_CHANNELS", "MAX_POSITIONS"]

MAX_CONVS = 3
MAX_CHANNELS = 32  # growth stops here (or at arch.width if that is larger)
MAX_POSITIONS = 16  # flattened map size cap: 4x4 for images, 16 for sequences
ACTS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU}

KNOBS: dict[str, Knob] = {
    "arch.convs": Knob(2, int_in(1, MAX_CONVS)),
    "arch.width": Knob(16, int_in(1, 1024)),
    "arch.width_mult": Knob(2, number_in(1, 4)),
    "arch.kernel": Knob(3, odd_kernel()),
    "arch.pool": Knob(True, flag),
    "arch.fc": Knob(64, int_in(0, 4096)),
    "arch.act": Knob("relu", choice_of(*ACTS)),
}


class PlainCNN(nn.Module):
    """Conv-BN-act stack, optional max-pool, capped average pool, optional hidden linear layer, classifier."""

    def __init__(self, arch: Mapping[str, Any], in_channels: int, spatial: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.arch = dict(arch)
        L = layers_for(len(spatial))
        act, k, width = ACTS[arch["arch.act"]], int(arch["arch.kernel"]), int(arch["arch.width"])
        cap = max(width, MAX_CHANNELS)
        layers: list[nn.Module] = []
        c_in = in_channels
        for i in range(int(arch["arch.convs"])):
            c = min(int(round(width * arch["arch.width_mult"] ** i)), cap)
            layers += [L.conv(c_in, c, k, padding=k // 2, bias=False), L.bn(c), act()]
            c_in = c
        size = list(spatial)
        if arch["arch.pool"] and min(size) >= 2:
            layers.append(L.maxpool(2))
            size = [s // 2 for s in size]
        cap_side = 4 if len(size) == 2 else MAX_POSITIONS
        if any(s > cap_side for s in size):
            size = [min(s, cap_side) for s in size]
            layers.append(L.avgpool(tuple(size) if len(size) > 1 else size[0]))
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten(1)
        n = c_in
        for s in size:
            n *= s
        hidden = int(arch["arch.fc"])
        head: list[nn.Module] = [nn.Linear(n, hidden), act(), nn.Linear(hidden, num_classes)] if hidden \
            else [nn.Linear(n, num_classes)]
        self.classifier = nn.Sequential(*head)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.flatten(self.features(x)))


class CNN:
    """The ``cnn`` family (see the module docstring for keys and defaults)."""

    name = "cnn"
    knobs = KNOBS  # every arch.* key with its default and legal values (pre-flight checks them)

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """convs 1..3, width 8/16/32, width_mult 1/2, kernel 3/5, pool yes/no, fc 0/32/64, act relu/gelu."""
        check_shape(self.name, input_shape, num_classes)
        return {
            "arch.convs": Int(1, MAX_CONVS),
            "arch.width": Choice((8, 16, 32)),
            "arch.width_mult": Choice((1, 2)),
            "arch.kernel": Choice((3, 5)),
            "arch.pool": Choice((True, False)),
            "arch.fc": Choice((0, 32, 64)),
            "arch.act": Choice(("relu", "gelu")),
        }

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """A :class:`PlainCNN`; Conv1d for ``(C, L)`` inputs, Conv2d for ``(C, H, W)``."""
        c, spatial = check_shape(self.name, input_shape, num_classes)
        return PlainCNN(resolve_arch(self.name, arch, KNOBS), c, spatial, num_classes)

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """3 convs + hidden linear + classifier."""
        check_shape(self.name, input_shape, num_classes)
        return MAX_CONVS + 2
