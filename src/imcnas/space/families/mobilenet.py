"""``mobilenet``: a MobileNetV2-like space (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018), searched per stage as in ProxylessNAS / FBNet-style MobileNetV2 spaces.

Network: stem conv 3x3 -> BN -> ReLU6 (``make_divisible(32 * width_mult)`` channels); 5 stages of inverted
residual blocks (1x1 expansion conv by ``expand`` -> BN -> ReLU6 (omitted when ``expand`` is 1), depthwise
k x k conv -> BN -> ReLU6, linear 1x1 projection -> BN; identity residual when stride is 1 and the channels
match); a 1x1 conv to ``make_divisible(1280 * max(width_mult, 1))`` channels -> BN -> ReLU6; global average pool; linear classifier. Stage output channels are MobileNetV2's
16, 24, 32, 64, 96 times ``width_mult`` (rounded to multiples of 8, as in the paper's code).

Strides adapt to the input: MobileNetV2 downsamples 5 times (224 -> 7). Here the number of stride-2 places is
``clip(floor(log2(min spatial size)) - 2, 0, 5)`` so that the last map keeps at least 4 positions per side
(32x32 -> 3 downsamplings, 4x4 at the end, as the usual CIFAR variant; 8x8 -> 1; 4x4 -> none), used in the
order stage 1, 2, 3, 4, stem (each at the first block of its stage). ``(C, L)`` inputs use 1-D convs.

Keys, default space and defaults (``*`` = default, from MobileNetV2's table 2):

================  ==========================================  ============================
key               default space                               legal when built
================  ==========================================  ============================
arch.width_mult   0.35, 0.5, 0.75, 1.0*                       (0, 4]
arch.s{i}.expand  1, 3, 6   (s0: 1*, others 6*)               1..8
arch.s{i}.depth   int 1..4  (1*, 2*, 3*, 4*, 3* for s0..s4)   1..4
arch.s{i}.kernel  3*, 5                                       odd, 1..7
================  ==========================================  ============================
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from torch import Tensor, nn

from imcnas.space.families.base import Knob, check_shape, int_in, layers_for, number_in, odd_kernel, resolve_arch
from imcnas.space.params import Choice, Int, Param

__all__ = ["CHANNELS", "KNOBS", "MobileNet", "MobileNetV2Like", "make_divisible", "stride_plan"]

CHANNELS: tuple[int, ...] = (16, 24, 32, 64, 96)
DEPTHS: tuple[int, ...] = (1, 2, 3, 4, 3)
EXPANDS: tuple[int, ...] = (1, 6, 6, 6, 6)
STEM, LAST = 32, 1280
MAX_DEPTH = 4
STRIDE_ORDER: tuple[str, ...] = ("s1", "s2", "s3", "s4", "stem")

KNOBS: dict[str, Knob] = {"arch.width_mult": Knob(1.0, number_in(0, 4, open_low=True))}
for _i in range(len(CHANNELS)):
    KNOBS.update({
        f"arch.s{_i}.expand": Knob(EXPANDS[_i], int_in(1, 8)),
        f"arch.s{_i}.depth": Knob(DEPTHS[_i], int_in(1, MAX_DEPTH)),
        f"arch.s{_i}.kernel": Knob(3, odd_kernel()),
    })


def make_divisible(v: float, divisor: int = 8) -> int:
    """MobileNetV2's channel rounding: nearest multiple of ``divisor``, at least ``divisor``, not below 90 %."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


def stride_plan(spatial: tuple[int, ...]) -> dict[str, int]:
    """Stride of the stem and of each stage's first block ("stem", "s0".."s4") for an input's spatial size."""
    n = min(max(int(math.floor(math.log2(min(spatial)))) - 2, 0), len(STRIDE_ORDER))
    plan = {"stem": 1, **{f"s{i}": 1 for i in range(len(CHANNELS))}}
    for place in STRIDE_ORDER[:n]:
        plan[place] = 2
    return plan


class InvertedResidual(nn.Module):
    """MobileNetV2 block: [1x1 expand -> BN -> ReLU6] -> depthwise k x k -> BN -> ReLU6 -> 1x1 project -> BN."""

    def __init__(self, L: Any, c_in: int, c_out: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [L.conv(c_in, hidden, 1, bias=False), L.bn(hidden), nn.ReLU6()]
        layers += [L.conv(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False), L.bn(hidden),
                   nn.ReLU6(), L.conv(hidden, c_out, 1, bias=False), L.bn(c_out)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Like(nn.Module):
    """Stem, 5 stages of :class:`InvertedResidual`, 1x1 last conv, global average pool, classifier."""

    def __init__(self, arch: Mapping[str, Any], in_channels: int, spatial: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.arch = dict(arch)
        L = layers_for(len(spatial))
        wm = float(arch["arch.width_mult"])
        strides = stride_plan(spatial)
        self.strides = strides
        c = make_divisible(STEM * wm)
        self.stem = nn.Sequential(L.conv(in_channels, c, 3, strides["stem"], 1, bias=False), L.bn(c), nn.ReLU6())
        blocks: list[nn.Module] = []
        for i, base in enumerate(CHANNELS):
            p, c_out = f"arch.s{i}.", make_divisible(base * wm)
            for b in range(int(arch[p + "depth"])):
                stride = strides[f"s{i}"] if b == 0 else 1
                blocks.append(InvertedResidual(L, c, c_out, int(arch[p + "expand"]), int(arch[p + "kernel"]), stride))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        last = make_divisible(LAST * max(wm, 1.0))
        self.last = nn.Sequential(L.conv(c, last, 1, bias=False), L.bn(last), nn.ReLU6())
        self.pool = L.avgpool(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(last, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.flatten(self.pool(self.last(self.blocks(self.stem(x))))))


class MobileNet:
    """The ``mobilenet`` family (MobileNetV2-like; see the module docstring for keys and defaults)."""

    name = "mobilenet"
    knobs = KNOBS  # every arch.* key with its default and legal values (pre-flight checks them)

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """width_mult 0.35/0.5/0.75/1.0; per stage expand 1/3/6, depth 1..4, kernel 3/5."""
        check_shape(self.name, input_shape, num_classes)
        space: dict[str, Param] = {"arch.width_mult": Choice((0.35, 0.5, 0.75, 1.0))}
        for i in range(len(CHANNELS)):
            space.update({f"arch.s{i}.expand": Choice((1, 3, 6)), f"arch.s{i}.depth": Int(1, MAX_DEPTH),
                          f"arch.s{i}.kernel": Choice((3, 5))})
        return space

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """A :class:`MobileNetV2Like`; strides from the input size (see :func:`stride_plan`)."""
        c, spatial = check_shape(self.name, input_shape, num_classes)
        return MobileNetV2Like(resolve_arch(self.name, arch, KNOBS), c, spatial, num_classes)

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """stem + 5 stages x 4 blocks x 3 convs + last conv + classifier."""
        check_shape(self.name, input_shape, num_classes)
        return 1 + len(CHANNELS) * MAX_DEPTH * 3 + 2
