"""One plug-in registry for everything imcnas finds by name.

Kinds: hardware components (``converter``: column readout laws and circuits; ``device``: memory devices;
``noise``: cell noise models; ``compute``: array compute schemes; ``digital``: digital units), and ``family``
(architecture families), ``strategy`` (search strategies), ``executor`` (trial executors). Built-ins register
themselves on the same registry (no second path), lazily, the first time a kind is looked up.

A plug-in is a Python module that calls :func:`register` when imported. imcnas imports plug-ins from

- the entry-point group ``imcnas.plugins`` of installed packages (``[project.entry-points."imcnas.plugins"]``
  in the package's ``pyproject.toml``; the value is a module, or a callable run once), on first lookup;
- a ``plugins:`` list of module names in the experiment YAML (:func:`load`), imported again in every worker
  process (:func:`active` gives the list an executor hands to its workers; :func:`worker_init` imports it).

Every entry declares what it supports and which parameters of the chip description it reads (Accelergy-style),
and names its sources. An unknown name is a one-line :class:`~imcnas.errors.UnknownNameError` listing the
registered names of its kind.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from imcnas.errors import ConfigError, UnknownNameError

__all__ = ["KINDS", "Plugin", "active", "entries", "entry", "get", "known", "load", "load_entry_points", "names",
           "register", "worker_init"]

KINDS: dict[str, str] = {
    "converter": "column readout of a crossbar read: ADC laws and converter circuits (hardware/converters.py)",
    "device": "memory device presets (hardware/devices.py)",
    "noise": "cell noise models of the accuracy simulation (accuracy/nonideal.py; names in hardware/noise_names.py)",
    "compute": "array compute schemes: how a column forms its partial sum (hardware/reads.py)",
    "digital": "digital units priced per element (hardware/dynamic.py)",
    "family": "architecture families (space/families)",
    "strategy": "search strategies (search/strategies)",
    "executor": "trial executors (search/executors.py)",
}
# modules whose import registers the built-ins of a kind
_BUILTINS: dict[str, tuple[str, ...]] = {
    "converter": ("imcnas.hardware.converters", "imcnas.hardware.macro_circuits"),
    "device": ("imcnas.hardware.devices",),
    "noise": ("imcnas.hardware.noise_names",),
    "compute": ("imcnas.hardware.converters",),
    "digital": ("imcnas.hardware.converters",),
    "family": ("imcnas.space.families.builtins",),
    "strategy": ("imcnas.search.strategies",),
    "executor": ("imcnas.search.executors", "imcnas.search.ray_executor"),
}
ENTRY_POINT_GROUP = "imcnas.plugins"


@dataclass(frozen=True)
class Plugin:
    """One registered entry. ``obj`` is the implementation, or a ``"module:attribute"`` string imported on
    first use (so naming a strategy does not import pymoo)."""

    kind: str
    name: str
    obj: Any
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)  # chip-description fields it reads -> meaning
    supports: dict[str, Any] = field(default_factory=dict)  # e.g. {"bits": (1, 10), "devices": ["sram"]}
    sources: tuple[str, ...] = ()
    module: str = ""  # where it was registered from


_REG: dict[str, dict[str, Plugin]] = {k: {} for k in KINDS}
_LOADED_BUILTINS: set[str] = set()
_ACTIVE: list[str] = []  # plug-in modules imported through load(): handed to workers
_STATE = {"entry_points": False}
_LOCK = threading.RLock()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UnknownNameError("plug-in kind", kind, list(KINDS))


def register(kind: str, name: str, obj: Any = None, *, description: str = "", params: dict[str, str] | None = None,
             supports: dict[str, Any] | None = None, sources: Iterable[str] = (), replace: bool = False) -> Any:
    """Register ``obj`` as ``name`` of ``kind``; without ``obj``, a decorator. Re-registering the same object
    under the same name is a no-op (a module imported twice); a different one needs ``replace=True``."""
    _check_kind(kind)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"plug-in name must be a non-empty string, got {name!r}")

    def add(o: Any) -> Any:
        if replace:  # built-ins first, so that they do not refuse (or undo) the replacement when they load
            _ensure(kind, installed=False)
        with _LOCK:
            old = _REG[kind].get(name)
            if old is not None and not replace and old.obj is not o and old.obj != o:
                raise ConfigError(f"{kind} '{name}' is already registered (from {old.module or 'imcnas'}); "
                                  "pass replace=True to override it")
            lazy = isinstance(o, str)  # "module:attr": neither str's docstring nor its module
            doc = description or ("" if lazy else (getattr(o, "__doc__", None) or "").strip().split("\n")[0])
            module = o.split(":", 1)[0] if lazy else getattr(o, "__module__", "") or ""
            _REG[kind][name] = Plugin(kind, name, o, doc, dict(params or {}), dict(supports or {}), tuple(sources),
                                      module)
        return o

    return add if obj is None else add(obj)


def _ensure(kind: str, installed: bool = True) -> None:
    """Built-ins of ``kind`` registered; with ``installed``, the entry points of installed packages too."""
    _check_kind(kind)
    if kind not in _LOADED_BUILTINS:
        with _LOCK:
            if kind not in _LOADED_BUILTINS:
                _LOADED_BUILTINS.add(kind)
                for mod in _BUILTINS[kind]:
                    importlib.import_module(mod)
    if installed and not _STATE["entry_points"]:
        load_entry_points()


def known(kind: str, name: str) -> bool:
    """Whether ``name`` is registered for ``kind``. Installed packages' plug-ins are loaded only when the name
    is not a built-in (so validating a built-in name never imports third-party code)."""
    _ensure(kind, installed=False)
    if name in _REG[kind]:
        return True
    _ensure(kind)
    return name in _REG[kind]


def names(kind: str) -> list[str]:
    """Registered names of ``kind``, in registration order (built-ins first)."""
    _ensure(kind)
    return list(_REG[kind])


def entries(kind: str) -> list[Plugin]:
    """Registered entries of ``kind``."""
    _ensure(kind)
    return list(_REG[kind].values())


def entry(kind: str, name: str) -> Plugin:
    """The entry ``name`` of ``kind``; UnknownNameError lists the registered names."""
    _ensure(kind)
    try:
        return _REG[kind][name]
    except KeyError:
        raise UnknownNameError(kind, name, list(_REG[kind])) from None


def get(kind: str, name: str) -> Any:
    """The implementation registered as ``name`` of ``kind`` (a lazy ``"module:attr"`` is imported now)."""
    e = entry(kind, name)
    if isinstance(e.obj, str) and ":" in e.obj:
        module, attr = e.obj.split(":", 1)
        return getattr(importlib.import_module(module), attr)
    return e.obj


def load(modules: Iterable[str]) -> list[str]:
    """Import plug-in modules by name (the experiment YAML's ``plugins:`` list) and remember them for workers.
    A module that cannot be imported is a one-line ConfigError naming it."""
    done = []
    for mod in modules:
        if not isinstance(mod, str) or not mod.strip():
            raise ConfigError(f"plugins: entries are module names, got {mod!r}")
        try:
            importlib.import_module(mod)
        except ImportError as err:
            raise ConfigError(f"plugins: cannot import '{mod}': {err}") from None
        with _LOCK:
            if mod not in _ACTIVE:
                _ACTIVE.append(mod)
        done.append(mod)
    return done


def load_entry_points() -> list[str]:
    """Import every ``imcnas.plugins`` entry point of the installed packages (once per process). A broken
    plug-in is reported with a warning and skipped, so one bad package does not stop imcnas."""
    import warnings
    from importlib.metadata import entry_points

    if _STATE["entry_points"]:
        return []
    _STATE["entry_points"] = True
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, type):
                obj()
            found.append(ep.value)
        except Exception as err:  # noqa: BLE001 - a third-party package must not break imcnas
            warnings.warn(f"imcnas plug-in '{ep.name}' ({ep.value}) failed to load: {err}", RuntimeWarning,
                          stacklevel=2)
    return found


def active() -> list[str]:
    """Plug-in modules loaded through :func:`load` in this process (what a worker must import too)."""
    return list(_ACTIVE)


def worker_init(modules: Iterable[str]) -> None:
    """Initializer of a worker process: import the driver's plug-in modules (entry points load on demand)."""
    load(list(modules))


def describe(kind: str) -> list[dict[str, Any]]:
    """Name, description, parameters, support and sources of every entry of ``kind`` (for docs and the CLI)."""
    return [{"name": e.name, "description": e.description, "params": e.params, "supports": e.supports,
             "sources": list(e.sources), "module": e.module} for e in entries(kind)]


def call(kind: str, name: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """``get(kind, name).method(*args, **kwargs)``: a small helper for dispatch tables."""
    fn: Callable[..., Any] = getattr(get(kind, name), method)
    return fn(*args, **kwargs)
