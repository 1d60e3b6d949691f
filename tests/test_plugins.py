"""The plug-in registry (imcnas.plugins): register / get / names, one-line errors, plug-in modules by name and by
entry point, worker processes, and the registries built on it (converters, families, strategies, executors)."""
from __future__ import annotations

import importlib.metadata as md
import sys
import textwrap
from pathlib import Path

import pytest

from imcnas import plugins
from imcnas.config import config_from_dict
from imcnas.errors import ConfigError, UnknownNameError
from imcnas.hardware import estimate, load_chip
from imcnas.search.executors import ProcessPoolExecutor, make_executor
from imcnas.search.strategies import get_strategy, list_strategies, register_strategy, strategy_class
from imcnas.search.strategies.random import RandomSearch
from imcnas.space.families import get_family, list_families, register_family
from imcnas.space.families.cnn import CNN


@pytest.fixture()
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An isolated registry: the built-ins loaded, everything registered by the test removed again, and
    ``write(name, code)`` to create an importable plug-in module in a temp folder on sys.path."""
    for kind in plugins.KINDS:
        plugins.names(kind)
    saved = ({k: dict(v) for k, v in plugins._REG.items()}, list(plugins._ACTIVE), dict(plugins._STATE))
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, code: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
        written.append(name)
        return name

    yield write
    for kind, entries in saved[0].items():
        plugins._REG[kind].clear()
        plugins._REG[kind].update(entries)
    plugins._ACTIVE[:] = saved[1]
    plugins._STATE.update(saved[2])
    for name in written:
        sys.modules.pop(name, None)


CONVERTER = """
    import numpy as np
    from imcnas import plugins

    class Flat:
        '''A converter at a fixed energy per conversion.'''
        in_array = False

        def energy_pj(self, c, rate_hz):
            return c.param("adc", "e_pj", 0.5) * np.ones_like(c.adc_bits)

        def area_um2(self, c, rate_hz):
            return 100.0 * np.ones_like(c.adc_bits)

    plugins.register("converter", "{name}", Flat(), params={{"adc.params.e_pj": "energy per conversion"}})
"""


# -------------------------------------------------------------------------------------------- the registry
def test_register_get_names_and_entries(registry) -> None:
    obj = object()
    assert plugins.register("digital", "test-unit", obj, description="a unit", sources=["a paper"]) is obj
    assert plugins.get("digital", "test-unit") is obj
    assert plugins.names("digital")[-1] == "test-unit"
    e = plugins.entry("digital", "test-unit")
    assert (e.description, e.sources) == ("a unit", ("a paper",))
    assert plugins.known("digital", "test-unit") and not plugins.known("digital", "nope")

    @plugins.register("strategy", "test-decorated")
    class Decorated(RandomSearch):
        """Random search under another name."""

    assert plugins.get("strategy", "test-decorated") is Decorated
    assert plugins.entry("strategy", "test-decorated").description == "Random search under another name."
    # a lazy "module:attr" is imported on get, and describes itself by its module, not as a str
    plugins.register("strategy", "test-lazy", "imcnas.search.strategies.random:RandomSearch")
    assert plugins.get("strategy", "test-lazy") is RandomSearch
    lazy = plugins.entry("strategy", "test-lazy")
    assert lazy.description == "" and lazy.module == "imcnas.search.strategies.random"


def test_unknown_names_and_kinds_list_the_registered_ones(registry) -> None:
    with pytest.raises(UnknownNameError) as err:
        plugins.get("converter", "nope")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("unknown converter 'nope'; known: ")
    for name in plugins.names("converter"):
        assert name in msg
    with pytest.raises(UnknownNameError, match="unknown plug-in kind 'adc'; known: .*converter"):
        plugins.names("adc")


def test_a_duplicate_name_is_refused_unless_replaced(registry) -> None:
    a, b = object(), object()
    plugins.register("digital", "test-dup", a)
    plugins.register("digital", "test-dup", a)  # the same object again (a module imported twice): no-op
    with pytest.raises(ConfigError, match="digital 'test-dup' is already registered .*replace=True"):
        plugins.register("digital", "test-dup", b)
    plugins.register("digital", "test-dup", b, replace=True)
    assert plugins.get("digital", "test-dup") is b
    with pytest.raises(ConfigError, match="already registered"):
        plugins.register("converter", "survey", object())  # built-ins are protected the same way
    with pytest.raises(ConfigError, match="non-empty string"):
        plugins.register("digital", "  ", a)


# ----------------------------------------------------------------------------------- modules, entry points
def test_load_imports_modules_and_remembers_them_for_workers(registry) -> None:
    mod = registry("imcnas_test_plugin_a", CONVERTER.format(name="test-flat-a"))
    assert plugins.load([mod]) == [mod]
    assert plugins.known("converter", "test-flat-a") and mod in plugins.active()
    assert plugins.load([mod]) == [mod] and plugins.active().count(mod) == 1


def test_load_of_a_bad_module_is_one_line_naming_it(registry) -> None:
    with pytest.raises(ConfigError) as err:
        plugins.load(["imcnas_no_such_module"])
    assert "\n" not in str(err.value) and "'imcnas_no_such_module'" in str(err.value)
    with pytest.raises(ConfigError, match="module names"):
        plugins.load([3])
    assert "imcnas_no_such_module" not in plugins.active()
    # through the experiment YAML: the path and the module, also for a module that fails while importing
    broken = registry("imcnas_test_plugin_broken", "raise RuntimeError('needs a licence file\\nsecond line')\n")
    for mods, needle in ((["imcnas_no_such_module"], "'imcnas_no_such_module'"),
                         ([broken], f"plugins[0]: importing '{broken}' failed: RuntimeError: needs a licence")):
        with pytest.raises(ConfigError) as err:
            config_from_dict({"plugins": mods}, "exp.yaml")
        assert str(err.value).startswith("exp.yaml: ") and needle in str(err.value)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="plugins: a list of module names"):
        config_from_dict({"plugins": "imcnas_tdc"}, "exp.yaml")


def test_entry_points_of_installed_packages_are_found(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = registry("imcnas_test_plugin_ep", CONVERTER.format(name="test-flat-ep"))
    broken = registry("imcnas_test_plugin_ep_broken", "raise ImportError('missing dependency')\n")
    eps = [md.EntryPoint(name="flat", value=mod, group=plugins.ENTRY_POINT_GROUP),
           md.EntryPoint(name="bad", value=broken, group=plugins.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(md, "entry_points", lambda group=None, **_: eps if group == plugins.ENTRY_POINT_GROUP
                        else [])
    monkeypatch.setitem(plugins._STATE, "entry_points", False)
    with pytest.warns(RuntimeWarning, match="plug-in 'bad' .* failed to load: missing dependency"):
        assert plugins.known("converter", "test-flat-ep")  # an unknown name loads the installed plug-ins
    assert "test-flat-ep" in plugins.names("converter")
    assert plugins.load_entry_points() == []  # once per process


def test_a_pool_worker_imports_the_drivers_plugins(registry) -> None:
    mod = registry("imcnas_test_plugin_worker", CONVERTER.format(name="test-flat-worker"))
    plugins.load([mod])
    pool = ProcessPoolExecutor(workers=1)
    try:
        fut = pool.submit(plugins.names, "converter")
        assert "test-flat-worker" in fut.result(timeout=120)
    finally:
        pool.shutdown()


# ------------------------------------------------------------------------------------- hardware validation
def test_chip_names_validate_against_the_registry(registry) -> None:
    with pytest.raises(ConfigError) as err:
        load_chip("pcm-14nm", ["adc.law=nope"])
    msg = str(err.value)
    assert "\n" not in msg and "unknown converter 'nope'; registered: " + ", ".join(plugins.names("converter")) in msg
    with pytest.raises(ConfigError, match="params.foo is not a parameter of converter 'survey'"):
        load_chip("pcm-14nm", ["adc.params.foo=1"])
    mod = registry("imcnas_test_plugin_chip", CONVERTER.format(name="test-flat-chip"))
    plugins.load([mod])
    with pytest.raises(ConfigError, match=r"params.e_nj is not a parameter of converter 'test-flat-chip' "
                                          r"\(its parameters: e_pj\)"):
        load_chip("pcm-14nm", ["adc.law=test-flat-chip", "adc.params.e_nj=1"])
    # the declared parameter reaches the converter: ADC energy scales with it
    adc = [estimate("resnet20-cifar", load_chip("pcm-14nm", ["adc.law=test-flat-chip", f"adc.params.e_pj={e}"]))
           .to_dict()["breakdown"]["energy_pj"]["adc"] for e in (0.5, 1.0)]
    assert adc[1] == pytest.approx(2 * adc[0]) and adc[0] > 0


# --------------------------------------------------------------------------- families, strategies, executors
class _Tiny(CNN):
    name = "test-tiny-cnn"


def test_families_live_on_the_registry(registry) -> None:
    assert {"cnn", "resnet", "mobilenet", "nb201", "transformer", "gnn"} <= set(list_families())
    assert plugins.get("family", "cnn") is get_family("cnn")
    fam = register_family(_Tiny())
    assert get_family("test-tiny-cnn") is fam and "test-tiny-cnn" in plugins.names("family")
    with pytest.raises(ConfigError, match="architecture family 'test-tiny-cnn' is already registered"):
        register_family(_Tiny())
    register_family(_Tiny(), replace=True)
    with pytest.raises(ConfigError, match="register_family needs"):
        register_family(object())  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="unknown architecture family 'vgg'; known: cnn, gnn"):
        get_family("vgg")


def test_strategies_live_on_the_registry(registry) -> None:
    assert set(list_strategies()) == {"random", "evolution", "nsga2", "tpe", "surrogate", "reinforce"}
    assert all(isinstance(plugins.entry("strategy", n).obj, str) for n in list_strategies())  # lazy
    register_strategy("test-random", "imcnas.search.strategies.random:RandomSearch")
    assert strategy_class("test-random") is RandomSearch
    assert isinstance(get_strategy("test-random"), RandomSearch)
    with pytest.raises(ConfigError, match="strategy 'random' is already registered"):
        register_strategy("random", RandomSearch)
    with pytest.raises(ConfigError, match="Strategy subclass"):
        register_strategy("test-bad", object)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="unknown strategy 'nope'; known: .*test-random"):
        strategy_class("nope")


class _CountingExecutor:
    made: list[int] = []

    def __init__(self, workers: int = 1) -> None:
        self.made.append(workers)


def test_a_plugin_executor_is_built_with_workers(registry) -> None:
    plugins.register("executor", "test-counting", _CountingExecutor)
    assert isinstance(make_executor("test-counting", 3), _CountingExecutor) and _CountingExecutor.made[-1] == 3
    with pytest.raises(UnknownNameError,
                       match="unknown executor 'dask'; known: inprocess, process, ray, test-counting"):
        make_executor("dask")


def test_the_plugins_list_is_imported_before_the_config_is_validated(registry) -> None:
    mod = registry("imcnas_test_plugin_cfg", """
        from imcnas import plugins
        from imcnas.space.families.base import register_family
        from imcnas.space.families.cnn import CNN

        class Wide(CNN):
            name = "test-wide-cnn"

        register_family(Wide())
        plugins.register("executor", "test-exec", plugins.get("executor", "inprocess"))
    """)
    d = {"model": {"family": "test-wide-cnn"}, "executor": {"kind": "test-exec"}}
    with pytest.raises(ConfigError, match="model.family: unknown architecture family 'test-wide-cnn'"):
        config_from_dict(d, "exp.yaml")
    cfg = config_from_dict({"plugins": [mod], **d}, "exp.yaml")
    assert cfg.plugins == [mod] and cfg.model.family == "test-wide-cnn" and mod in plugins.active()
    with pytest.raises(ConfigError, match="exp.yaml: executor.kind: unknown executor 'nope'; known: .*test-exec"):
        config_from_dict({"plugins": [mod], **d, "executor": {"kind": "nope"}}, "exp.yaml")
