"""Search strategies behind one ask/tell interface, by name: ``get_strategy("nsga2", pop_size=40)``.

Strategies live on the plug-in registry (:mod:`imcnas.plugins`, kind ``strategy``). The built-ins register as
lazy ``"module:Class"`` strings, imported on first use, so naming a strategy does not import pymoo, optuna or
sklearn; a plug-in registers a :class:`Strategy` subclass (or such a string) with :func:`register_strategy`.
"""
from __future__ import annotations

from typing import Any

from imcnas import plugins
from imcnas.errors import ConfigError, UnknownNameError
from imcnas.search.strategies.base import ReplayStrategy, Strategy, accepts_options

_BUILTIN: dict[str, tuple[str, str]] = {
    "random": ("imcnas.search.strategies.random:RandomSearch", "random search without replacement"),
    "evolution": ("imcnas.search.strategies.evolution:RegularizedEvolution",
                  "regularised (aging) evolution (Real et al., 2019), multi-objective"),
    "nsga2": ("imcnas.search.strategies.nsga2:NSGA2Strategy", "NSGA-II (Deb et al., 2002) from pymoo"),
    "tpe": ("imcnas.search.strategies.tpe:TPEStrategy", "multi-objective TPE (optuna's TPESampler)"),
    "surrogate": ("imcnas.search.strategies.surrogate:SurrogateEvolution",
                  "surrogate-assisted evolution (a learned predictor ranks mutated candidates, as AnalogNAS)"),
    "reinforce": ("imcnas.search.strategies.reinforce:ReinforceStrategy",
                  "REINFORCE controller (Williams, 1992) as used by NACIM"),
}
for _name, (_path, _doc) in _BUILTIN.items():
    plugins.register("strategy", _name, _path, description=_doc)


def register_strategy(name: str, strategy: type[Strategy] | str, *, replace: bool = False,
                      description: str = "") -> None:
    """Register a strategy class (or a lazy ``"module:Class"`` string) as ``name``; ConfigError when the name
    is taken, unless ``replace``. Options of the YAML's ``strategy.options`` go to its constructor."""
    if isinstance(strategy, str):
        if ":" not in strategy:
            raise ConfigError(f"register_strategy('{name}'): a string must be 'module:Class', got {strategy!r}")
    elif not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise ConfigError(f"register_strategy('{name}') needs a Strategy subclass or 'module:Class', "
                          f"got {type(strategy).__name__}")
    if isinstance(name, str) and plugins.known("strategy", name) and not replace:
        raise ConfigError(f"strategy '{name}' is already registered (pass replace=True)")
    plugins.register("strategy", name, strategy, description=description, replace=True)


def list_strategies() -> list[str]:
    """Names accepted by ``get_strategy``."""
    return sorted(plugins.names("strategy"))


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name``; UnknownNameError lists the known names."""
    if not isinstance(name, str) or not plugins.known("strategy", name):
        raise UnknownNameError("strategy", str(name), plugins.names("strategy"))
    return plugins.get("strategy", name)


def get_strategy(name: str, **options: Any) -> Strategy:
    """A new strategy by name with keyword options; ConfigError names an unknown option."""
    cls = strategy_class(name)
    accepts_options(cls, options)
    return cls(**options)


__all__ = ["ReplayStrategy", "Strategy", "get_strategy", "list_strategies", "register_strategy",
           "strategy_class"]
