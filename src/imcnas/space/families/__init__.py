"""Network families whose members a search space picks.

Architecture families (:mod:`.base` holds the contract and the registry): ``cnn`` (a small plain CNN,
:mod:`.cnn`), ``resnet`` (the AnalogNAS ResNet-like macro space, :mod:`.resnet`), ``mobilenet`` (MobileNetV2-like,
:mod:`.mobilenet`) and ``nb201`` (NAS-Bench-201 cells, :mod:`.nb201_family` over :mod:`.nb201`)::

    space = get_family("cnn").default_space((1, 8, 8), 10)      # {"arch.convs": Int(1, 3), ...}
    model = build_model("cnn", sample, (1, 8, 8), 10)
"""
from imcnas.space.families.base import (Family, build_model, get_family, list_families,
                                        register_family)
from imcnas.space.families.nb201 import NB201Network, arch_to_str, nb201_network, parse_arch

__all__ = ["Family", "NB201Network", "arch_to_str", "build_model", "get_family", "list_families", "nb201_network",
           "parse_arch", "register_family"]
