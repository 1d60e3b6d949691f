"""``nb201``: the NAS-Bench-201 cell space (Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible
Neural Architecture Search", ICLR 2020) as a family, over :func:`imcnas.space.families.nb201.nb201_network`.

Keys ``arch.e0`` .. ``arch.e5`` pick the op of each cell edge in NB201 *string order* (1<-0 | 2<-0, 2<-1 |
3<-0, 3<-1, 3<-2; see :mod:`.nb201`), each one of ``none``, ``skip_connect``, ``nor_conv_1x1``,
``nor_conv_3x3``, ``avg_pool_3x3`` (the default space: all five, 5^6 = 15,625 cells). The defaults form
NB201's best CIFAR-10 cell ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|
skip_connect~2|`` (e0..e5 = nor_conv_3x3, nor_conv_3x3, avg_pool_3x3, skip_connect, nor_conv_3x3,
skip_connect). Dead edges are pruned (``prune_dead=True``, see :mod:`.nb201`).

The network is NB201's CIFAR skeleton (16/32/64 channels, 5 cells per stage). Inputs are ``(C, H, W)`` images
with H and W multiples of 4 (two stride-2 reductions whose avg-pool and conv paths must agree); other channel
counts than 3 replace the stem conv's input channels. ``(C, L)`` inputs are a ConfigError.
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from imcnas.errors import ConfigError
from imcnas.space.families.base import Knob, check_shape, choice_of, resolve_arch
from imcnas.space.families.nb201 import CELLS_PER_STAGE, CHANNELS, EDGES, OPS, nb201_network, parse_arch
from imcnas.space.params import Choice, Param

__all__ = ["DEFAULT_CELL", "KNOBS", "NB201", "arch_ops"]

DEFAULT_CELL: tuple[str, ...] = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3",
                                 "skip_connect")
KNOBS: dict[str, Knob] = {f"arch.e{k}": Knob(DEFAULT_CELL[k], choice_of(*OPS)) for k in range(len(EDGES))}


def arch_ops(arch: Mapping[str, Any]) -> tuple[str, ...]:
    """The 6 edge ops (NB201 string order) of a sample's ``arch.e*`` keys, defaults filled in."""
    values = resolve_arch("nb201", arch, KNOBS)
    return parse_arch([values[f"arch.e{k}"] for k in range(len(EDGES))])


class NB201:
    """The ``nb201`` family (see the module docstring for keys and defaults)."""

    name = "nb201"
    knobs = KNOBS  # every arch.* key with its default and legal values (pre-flight checks them)

    def _check(self, input_shape: tuple[int, ...], num_classes: int) -> tuple[int, tuple[int, ...]]:
        c, spatial = check_shape(self.name, input_shape, num_classes, ndims=(2,))
        if any(s % 4 for s in spatial):
            raise ConfigError(f"family 'nb201': H and W must be multiples of 4 (two stride-2 reductions), "
                              f"got input_shape {tuple(input_shape)}")
        return c, spatial

    def default_space(self, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Param]:
        """``arch.e0`` .. ``arch.e5``: each one of the five NB201 ops."""
        self._check(input_shape, num_classes)
        return {f"arch.e{k}": Choice(OPS) for k in range(len(EDGES))}

    def build(self, arch: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """``nb201_network(ops, num_classes)``, its stem adapted to ``input_shape``'s channels."""
        c, _ = self._check(input_shape, num_classes)
        net = nb201_network(arch_ops(arch), num_classes)
        if c != 3:
            # NB201's stem is Conv2d(3, 16, 3, padding=1, bias=False); only its input channels change
            net.stem[0] = nn.Conv2d(c, CHANNELS[0], 3, padding=1, bias=False)
        return net

    def max_layers(self, input_shape: tuple[int, ...], num_classes: int) -> int:
        """stem + 6 edge convs per cell + 3 convs per reduction block + classifier."""
        self._check(input_shape, num_classes)
        return 1 + len(CHANNELS) * CELLS_PER_STAGE * len(EDGES) + (len(CHANNELS) - 1) * 3 + 1

