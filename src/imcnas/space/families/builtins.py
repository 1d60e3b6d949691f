"""The built-in architecture families on the plug-in registry (:mod:`imcnas.plugins`, kind ``family``).

Imported by the registry the first time a family is looked up; a plug-in family registers the same way
(``plugins.register("family", fam.name, fam)`` or :func:`~imcnas.space.families.base.register_family`).
"""
from __future__ import annotations

from imcnas import plugins
from imcnas.space.families.cnn import CNN
from imcnas.space.families.gnn import GNN
from imcnas.space.families.mobilenet import MobileNet
from imcnas.space.families.nb201_family import NB201
from imcnas.space.families.resnet import ResNet
from imcnas.space.families.transformer import Transformer

_SOURCES = {
    "cnn": (),
    "resnet": ("Benmeziane et al., AnalogNAS (IEEE EDGE 2023): the ResNet-like macro space",),
    "mobilenet": ("Sandler et al., MobileNetV2 (CVPR 2018)",),
    "nb201": ("Dong & Yang, NAS-Bench-201 (ICLR 2020)",),
    "transformer": ("Dosovitskiy et al., ViT (ICLR 2021)",),
    "gnn": ("Qin et al., NAS-Bench-Graph (NeurIPS 2022 Datasets and Benchmarks)",),
}


def _register() -> None:
    for fam in (CNN(), ResNet(), MobileNet(), NB201(), Transformer(), GNN()):
        plugins.register("family", fam.name, fam, sources=_SOURCES.get(fam.name, ()))


_register()
