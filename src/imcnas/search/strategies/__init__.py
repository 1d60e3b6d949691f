"""Search strategies behind one ask/tell interface, by name: ``get_strategy("nsga2", pop_size=40)``.

Implementations are imported on first use, so naming a strategy does not import pymoo, optuna or sklearn.
"""
from __future__ import annotations

import importlib
from typing import Any

from imcnas.errors import UnknownNameError
from imcnas.search.strategies.base import ReplayStrategy, Strategy, accepts_options

_REGISTRY: dict[str, str] = {
    "random": "imcnas.search.strategies.random:RandomSearch",
    "evolution": "imcnas.search.strategies.evolution:RegularizedEvolution",
    "nsga2": "imcnas.search.strategies.nsga2:NSGA2Strategy",
    "tpe": "imcnas.search.strategies.tpe:TPEStrategy",
    "surrogate": "imcnas.search.strategies.surrogate:SurrogateEvolution",
    "reinforce": "imcnas.search.strategies.reinforce:ReinforceStrategy",
}


def list_strategies() -> list[str]:
    """Names accepted by ``get_strategy``."""
    return sorted(_REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name``; UnknownNameError lists the known names."""
    if name not in _REGISTRY:
        raise UnknownNameError("strategy", name, list(_REGISTRY))
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_strategy(name: str, **options: Any) -> Strategy:
    """A new strategy by name with keyword options; ConfigError names an unknown option."""
    cls = strategy_class(name)
    accepts_options(cls, options)
    return cls(**options)


__all__ = ["ReplayStrategy", "Strategy", "get_strategy", "list_strategies", "strategy_class"]
