"""IMC-Bench: the shipped table (sizes, checksum), regeneration of a slice, hardware-dependent accuracy, the
true front by enumeration, and strategies run on it through simulate.py."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from imcnas.benchmarks import IMCBenchProblem
from imcnas.benchmarks.analognas import nondominated_mask
from imcnas.benchmarks.imcbench import TABLE_PATH, load_table, table_checksum
from imcnas.benchmarks.simulate import TabularContext, run_tabular, simulate
from imcnas.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_ARCHS = 648  # documented in docs/benchmarks.md ("IMC-Bench"): the whole space
SPACE_ARCHS = 648
CHIPS = 48


@pytest.fixture(scope="module")
def problem() -> IMCBenchProblem:
    return IMCBenchProblem()


def _generator():
    spec = importlib.util.spec_from_file_location("make_imcbench", ROOT / "benchmarks" / "make_imcbench.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_imcbench", mod)
    spec.loader.exec_module(mod)
    return mod


def test_table_loads_with_documented_sizes_and_checksum(problem) -> None:
    arrays, meta = load_table()
    assert TABLE_PATH.stat().st_size < 20e6
    assert meta["n_archs"] == SHIPPED_ARCHS and meta["n_archs_space"] == SPACE_ARCHS and meta["n_chips"] == CHIPS
    assert arrays["acc_mean"].shape == (SHIPPED_ARCHS, CHIPS, 4) == arrays["acc_std"].shape
    assert arrays["cost"].shape == (SHIPPED_ARCHS, CHIPS, 3)
    assert table_checksum(arrays) == meta["checksum_sha256"]
    assert len(set(problem.arch_ids)) == SHIPPED_ARCHS and problem.size == SHIPPED_ARCHS * CHIPS
    assert np.isfinite(arrays["acc_mean"]).all() and np.isfinite(arrays["cost"]).all()
    assert (arrays["acc_std"] >= 0).all() and (arrays["cost"] > 0).all()
    assert meta["opts"]["repeats"] >= 3 and meta["opts"]["val_samples"] >= 256
    sram = np.array([c["device.type"] == "sram" for c in problem.chips])
    assert (arrays["acc_std"][:, sram] == 0).all()  # no device noise: evaluated once
    assert (arrays["acc_mean"][:, sram] == arrays["acc_mean"][:, sram][..., :1]).all()  # and no drift


def test_regenerating_a_slice_reproduces_the_table(problem) -> None:
    import torch

    gen = _generator()
    arrays, meta = load_table()
    row = int(np.argmin(arrays["params"]))  # the cheapest shipped architecture
    arch_id = problem.arch_ids[row]
    chips = [0, CHIPS - 1]  # a noisy PCM chip (4-bit, ADC 5, 64 rows) and the 8-bit SRAM chip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the generator's workers
    try:
        got = gen.generate_arch(arch_id, chips, **meta["opts"])
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(got["mean"], arrays["acc_mean"][row, chips], atol=1e-3)
    np.testing.assert_allclose(got["std"], arrays["acc_std"][row, chips], atol=1e-3)
    np.testing.assert_allclose(got["ideal"], arrays["acc_ideal"][row, chips], atol=1e-3)
    np.testing.assert_allclose(got["cost"], arrays["cost"][row, chips], rtol=1e-5)
    assert float(got["digital"]) == pytest.approx(float(arrays["acc_digital"][row]), abs=1e-3)


def test_accuracy_depends_on_the_hardware(problem) -> None:
    arrays, _ = load_table()
    acc = arrays["acc_mean"][:, :, 2].astype(float)  # 1 day
    std = arrays["acc_std"][:, :, 2].astype(float)
    spread = acc.max(1) - acc.min(1)
    assert np.mean(spread > std.max(1)) > 0.5  # most architectures move by more than their MC std
    by = {k: np.array([c[k] for c in problem.chips]) for k in problem.chip_keys}
    assert acc[:, by["adc.bits"] == 5].mean() < acc[:, by["adc.bits"] == 8].mean()
    assert acc[:, by["weights.bits"] == 4].mean() < acc[:, by["weights.bits"] == 8].mean()
    tau = problem.rank_agreement("1d")
    assert tau[np.triu_indices(CHIPS, 1)].min() < 0.95  # some chip pair ranks the architectures differently


def _brute_force(Y: np.ndarray) -> np.ndarray:
    keep = np.ones(len(Y), dtype=bool)
    for s in range(0, len(Y), 512):
        B = Y[s:s + 512]
        dom = ((Y[None] <= B[:, None]).all(-1) & (Y[None] < B[:, None]).any(-1)).any(1)
        keep[s:s + 512] = ~dom
    return np.flatnonzero(keep)


@pytest.mark.parametrize("objs", [("error_1d", "energy_pj"), ("error_30d_lcb", "latency_ns", "area_mm2")])
def test_true_front_by_enumeration_matches_brute_force(objs) -> None:
    p = IMCBenchProblem(objs)
    rows = p.front_indices()
    Y = p.objective_matrix()
    np.testing.assert_array_equal(rows, _brute_force(Y))
    assert nondominated_mask(Y[rows]).all()
    F = p.true_front()
    assert (p.reference_point() > F.max(0)).all()
    assert p.true_hypervolume() > 0


def test_samples_round_trip_and_bad_samples(problem) -> None:
    for i in (0, 17, problem.size - 1):
        s = problem.sample_at(i)
        assert problem.index(s) == i
        ev = problem.evaluate(s)
        assert ev["error_1d"] == pytest.approx(100 - float(problem.arrays["acc_mean"][divmod(i, CHIPS)][2]))
        assert ev["error_1d_lcb"] >= ev["error_1d"]
    assert set(problem.space().names) == set(problem.choices())
    if problem.complete:  # the seven arch.* keys; width_mult does not matter with one conv or width 32
        assert [k for k in problem.choices() if k.startswith("arch.")] == problem.arch_keys
        s = {**problem.sample_at(0), "arch.convs": 1}
        assert problem.index({**s, "arch.width_mult": 1}) == problem.index({**s, "arch.width_mult": 2})
        s = {**problem.sample_at(0), "arch.convs": 2, "arch.width": 8}
        assert problem.index({**s, "arch.width_mult": 1}) != problem.index({**s, "arch.width_mult": 2})
    else:
        assert "arch.id" in problem.choices()
    with pytest.raises(ConfigError, match="not one of"):
        problem.index({**problem.sample_at(0), "adc.bits": 3})
    with pytest.raises(ConfigError, match="unknown objective"):
        IMCBenchProblem(("error_2d",))


def test_strategies_run_through_simulate(problem) -> None:
    ctx = TabularContext(problem)
    trace = run_tabular("random", problem, 30, seed=0, batch=10, context=ctx)
    assert [n for n, _ in trace] == list(range(1, 31)) and 0 <= trace[-1][1] <= 1 + 1e-9
    assert run_tabular("random", problem, 30, seed=0, batch=10, context=ctx) == trace  # deterministic
    r = simulate("evolution", problem, 30, seed=1, batch=10, context=ctx)
    assert len(r.trace) == 30 and 0 <= r.trace[-1][1] <= 1 + 1e-9
    t = ctx.tracker()
    for row in problem.front_indices():
        t.add_row(int(row))
    assert t.trace[-1][1] == pytest.approx(1.0)
