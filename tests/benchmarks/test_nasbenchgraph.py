"""NAS-Bench-Graph x cost model: the priced network is the benched one (parameter counts), isomorphic
architectures, assembled against traced costs, lookups, the exhaustive front and its hypervolume."""
from __future__ import annotations

import sys
import zlib

import numpy as np
import pytest

pytest.importorskip("nas_bench_graph", reason="the nas-bench-graph package (extra 'bench') is not installed")
pytest.importorskip("torch_geometric", reason="torch_geometric (extra 'graph') is not installed")

import imcnas  # noqa: E402
from imcnas.benchmarks import nondominated_mask  # noqa: E402
from imcnas.benchmarks import nasbenchgraph as nbg  # noqa: E402
from imcnas.benchmarks.nasbenchgraph import (DATASETS, LINKS, N_ARCHS, OBJECTIVES, OPS,  # noqa: E402
                                             NASBenchGraphProblem, arch_dict, canonical_map, decode_hash,
                                             graph_inputs, load_bench, signature, signature_workload)
from imcnas.errors import ConfigError  # noqa: E402
from imcnas.space.families.gnn import GNN  # noqa: E402

TINY = {"rows": (128,), "adc_bits": (4, 6), "devices": ("rram", "sram")}


@pytest.fixture(scope="module")
def problem() -> NASBenchGraphProblem:
    """Computers (pre-process layer: 1,812 cost signatures) on a 4-chip grid: the fast enumeration."""
    p = NASBenchGraphProblem("computers", **TINY)
    p.enumerate_all()
    return p


def raw(a: int) -> tuple[str, list[str]]:
    row = nbg._arch_table()[a]
    return LINKS[row[0]], [OPS[i] for i in row[1:]]


def test_raw_product_reaches_every_bench_architecture() -> None:
    """The 59,049 raw (link, ops) combinations map onto all 26,206 bench keys (the same keys for every
    dataset); only the nine all-skip ones have none; each key is its own representative."""
    h = canonical_map()
    assert len(h) == N_ARCHS == 9 * 9 ** 4
    assert (h < 0).sum() == 9
    assert all(all(o == "skip" for o in raw(a)[1]) for a in np.flatnonzero(h < 0))
    keys = load_bench("cora")["hash"]
    assert len(keys) == 26_206 and set(np.unique(h[h >= 0])) == set(keys)
    for d in DATASETS:
        assert np.array_equal(load_bench(d)["hash"], keys)
    from nas_bench_graph import Arch

    for k in np.random.default_rng(0).choice(keys, 200, replace=False):
        link, ops = decode_hash(k)
        assert Arch([int(c) for c in link], ops).valid_hash() == k


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_parameter_count_equals_the_bench(dataset: str) -> None:
    """With the bench's settings the gnn family's GraphNet has exactly the bench's ``para`` parameters, for raw
    (not necessarily canonical) architectures too: independent evidence that the priced network is the benched
    one. Less ``dim x dim`` per arma node: the unused layer-to-layer weight of torch_geometric's one-layer
    ARMAConv, which the bench counts and the family's ARMA does not allocate."""
    ds, b, h = DATASETS[dataset], load_bench(dataset), canonical_map()
    rng = np.random.default_rng(zlib.crc32(dataset.encode()))  # str hash() varies between runs
    checked = 0
    for a in rng.integers(0, N_ARCHS, 12):
        if h[a] < 0:
            continue
        link, ops = raw(a)
        net = GNN().build(arch_dict(ds, link, ops), (ds.features,), ds.classes)
        para = b["para"][np.searchsorted(b["hash"], h[a])]
        unused = ops.count("arma") * ds.dim ** 2
        assert sum(p.numel() for p in net.parameters()) == round(para * 1e6) - unused, (link, ops)
        checked += 1
    assert checked >= 10


def test_isomorphic_architectures_have_one_signature() -> None:
    """Every raw architecture has the cost signature of its bench representative (with and without a
    pre-process layer), so pricing representatives prices every raw architecture."""
    h, table = canonical_map(), nbg._arch_table()
    for a in np.flatnonzero(h >= 0):
        link, ops = LINKS[table[a, 0]], [OPS[i] for i in table[a, 1:]]
        rep = decode_hash(h[a])
        for pre in (0, 1):
            assert signature(link, ops, pre) == signature(*rep, pre), (link, ops, rep)


@pytest.mark.parametrize("link, ops", [("0012", ["gat", "cheb", "arma", "sage"]),
                                       ("0111", ["skip", "gin", "skip", "fc"]),  # skips read the input and leaf
                                       ("0000", ["graph", "gcn", "skip", "gcn"]),
                                       ("0122", ["sage", "fc", "gat", "skip"])])
def test_assembled_cost_matches_a_direct_trace(link: str, ops: list[str]) -> None:
    """The workload assembled from traced pieces prices exactly as the whole GraphNet traced on the dataset's
    graph, on chips with throughput-balancing duplication and pipelining (the base preset) and SRAM."""
    ds = DATASETS["cora"]
    p = NASBenchGraphProblem("cora", **TINY)
    net = GNN().build(arch_dict(ds, link, ops), (ds.features,), ds.classes)
    direct = imcnas.estimate_batch(imcnas.trace(net, graph_inputs("cora")), p.chips)
    built = imcnas.estimate_batch(signature_workload("cora", signature(link, ops, ds.pre)), p.chips)
    for col in ("energy_pj", "latency_ns", "area_mm2"):
        np.testing.assert_allclose(built[col], direct[col], rtol=1e-9)


def test_the_priced_graph_has_the_published_size() -> None:
    x, edge_index = graph_inputs("cora")
    assert x.shape == (2_708, 1_433) and edge_index.shape == (2, 10_556)
    assert not (edge_index[0] == edge_index[1]).any()  # no self loops: the convolutions add their own


def test_choices_space_and_size(problem: NASBenchGraphProblem) -> None:
    ch = problem.choices()
    assert list(ch) == ["arch.link", "arch.op0", "arch.op1", "arch.op2", "arch.op3", "crossbar.rows", "adc.bits",
                        "device.type"]
    assert ch["arch.link"] == list(LINKS) and ch["arch.op3"] == list(OPS) and ch["device.type"] == ["rram", "sram"]
    assert problem.size == N_ARCHS * 4 and problem.n_designs == 26_207 * 4
    s = problem.space().sample(np.random.default_rng(0))
    assert set(problem.evaluate(s)) == set(OBJECTIVES)
    assert "26,206" in problem.description and problem.enumeration_s is not None


def test_evaluate_matches_enumeration_and_bench(problem: NASBenchGraphProblem) -> None:
    idx, Y = problem.enumerate_all()
    assert Y.shape == (problem.size, 5) and idx.shape == (problem.size, 8)
    b, h = load_bench("computers"), canonical_map()
    rng = np.random.default_rng(1)
    for row in rng.integers(0, problem.size, 30):
        s = problem.sample_at(row)
        assert problem.index(s) == row
        got = problem.evaluate(s)
        np.testing.assert_allclose([got[k] for k in OBJECTIVES], Y[row], rtol=1e-12)
        assert [problem.choices()[k][i] for k, i in zip(problem.choices(), idx[row])] == list(s.values())
        a = row // problem.n_chips
        if h[a] >= 0:
            j = np.searchsorted(b["hash"], h[a])
            assert got["error"] == pytest.approx(100 - 100 * b["perf"][j], abs=1e-9)
            assert got["valid_error"] == pytest.approx(100 - 100 * b["valid_perf"][j], abs=1e-9)
    # isomorphic raw architectures: the same design, the same row
    iso = {"arch.link": "0000", "arch.op0": "gcn", "arch.op1": "gat", "arch.op2": "fc", "arch.op3": "sage",
           "crossbar.rows": 128, "adc.bits": 6, "device.type": "sram"}
    perm = {**iso, "arch.op0": "sage", "arch.op1": "fc", "arch.op2": "gcn", "arch.op3": "gat"}
    assert problem.index(iso) != problem.index(perm)
    assert problem.design_key(iso) == problem.design_key(perm)
    assert problem.evaluate(iso) == problem.evaluate(perm)
    # the chip moves only the cost
    other = problem.evaluate({**iso, "device.type": "rram", "adc.bits": 4})
    assert other["error"] == problem.evaluate(iso)["error"] and other["energy_pj"] != problem.evaluate(iso)["energy_pj"]


def test_all_skip_is_dominated_and_never_on_the_front(problem: NASBenchGraphProblem) -> None:
    s = {"arch.link": "0123", **{f"arch.op{i}": "skip" for i in range(4)}, "crossbar.rows": 128, "adc.bits": 4,
         "device.type": "rram"}
    got = problem.evaluate(s)
    assert got["error"] == got["valid_error"] == 100.0
    Y = problem.objective_matrix(OBJECTIVES)
    chip_rows = Y[problem.index(s) % problem.n_chips::problem.n_chips]
    assert got["energy_pj"] == chip_rows[:, 2].max() and got["area_mm2"] == chip_rows[:, 4].max()
    skip_rows = np.flatnonzero(canonical_map() < 0)
    for objs in [("error", "energy_pj"), ("valid_error", "latency_ns", "area_mm2")]:
        front_archs = set(problem.front_indices(objs) // problem.n_chips)
        assert not front_archs & set(skip_rows)


def test_true_front_is_exact(problem: NASBenchGraphProblem) -> None:
    Y = problem.objective_matrix()
    rows = problem.front_indices()
    np.testing.assert_array_equal(rows, np.flatnonzero(nondominated_mask(Y)))  # brute force, 236,196 rows
    F = problem.true_front()
    assert len(F) >= 2 and nondominated_mask(F).all()
    assert np.all(np.diff(F[:, 0]) > 0) and np.all(np.diff(F[:, 1]) < 0)
    objs = ("error", "energy_pj", "latency_ns")
    np.testing.assert_array_equal(problem.front_indices(objs),
                                  np.flatnonzero(nondominated_mask(problem.objective_matrix(objs))))


def test_hypervolume(problem: NASBenchGraphProblem) -> None:
    hv = problem.true_hypervolume()
    assert hv > 0
    assert np.all(problem.reference_point() > problem.true_front().max(axis=0))
    Y = problem.objective_matrix()
    rand = Y[np.random.default_rng(4).integers(0, len(Y), 2000)]
    assert 0.0 <= problem.hypervolume(rand) < hv


@pytest.mark.parametrize("bad, key", [({"arch.op2": "gated"}, "arch.op2"), ({"arch.link": "0124"}, "arch.link"),
                                      ({"arch.link": 123}, "arch.link"), ({"adc.bits": 5}, "adc.bits"),
                                      ({"device.type": "pcm"}, "device.type")])
def test_invalid_sample_names_the_key(problem: NASBenchGraphProblem, bad, key) -> None:
    s = {**problem.sample_at(0), **bad}
    with pytest.raises(ConfigError) as err:
        problem.evaluate(s)
    assert f"'{key}'" in str(err.value) and "\n" not in str(err.value)


def test_missing_and_unknown_keys_datasets_and_objectives(problem: NASBenchGraphProblem) -> None:
    s = problem.sample_at(0)
    with pytest.raises(ConfigError, match="missing key 'arch.op1'"):
        problem.evaluate({k: v for k, v in s.items() if k != "arch.op1"})
    with pytest.raises(ConfigError, match="'arch.dim'"):
        problem.evaluate({**s, "arch.dim": 64})
    with pytest.raises(ConfigError, match="unknown objective 'energy'"):
        problem.true_front(("error", "energy"))
    with pytest.raises(ConfigError, match="unknown NAS-Bench-Graph dataset 'physics'") as err:
        NASBenchGraphProblem("physics")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="out of range"):
        problem.sample_at(problem.size)


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nas_bench_graph", None)
    with pytest.raises(ImportError, match=r"pip install 'imcnas\[bench\]'"):
        NASBenchGraphProblem("cora")


def test_joins_the_benchmark(monkeypatch: pytest.MonkeyPatch, problem: NASBenchGraphProblem) -> None:
    """``imcnas bench``'s nasbench-graph problem (here on the small grid): isomorphic samples are one design
    (a repeat ask), the size counts designs, and a search is scored against the true front."""
    from imcnas.benchmarks import problems
    from imcnas.benchmarks.runners import run_method

    monkeypatch.setattr(nbg, "NASBenchGraphProblem", lambda: problem)
    bp = problems._nasbench_graph()
    assert bp.objectives == ("error", "energy_pj") and bp.size == problem.n_designs and bp.discrete
    s = problem.sample_at(12_345)
    assert bp.key(s) == problem.design_key(s)
    np.testing.assert_allclose(bp.evaluate(s), [problem.evaluate(s)[o] for o in bp.objectives])
    assert len(bp.true_front) == len(problem.true_front()) and bp.true_hv == pytest.approx(problem.true_hypervolume())
    r = run_method("random", bp, 60, seed=0, max_asks=600)
    assert len(r.F) == 60 and 0.0 < r.ratio[-1] <= 1.0 + 1e-9
    fn, args = bp.extra["warm"]  # what imcnas bench hands its workers: the costs priced here
    assert fn is nbg.seed_cost_cache and args[0] == problem._grid_key
    assert len(args[1]) == len(nbg.signature_counts("computers")) == 1_812


def test_problem_cost_matches_estimate_on_the_traced_network(problem: NASBenchGraphProblem) -> None:
    """End to end: the problem's cost of a design is imcnas.estimate of the whole GraphNet on the dataset's
    graph, on the design's chip."""
    s = {"arch.link": "0012", "arch.op0": "gat", "arch.op1": "skip", "arch.op2": "cheb", "arch.op3": "sage",
         "crossbar.rows": 128, "adc.bits": 6, "device.type": "sram"}
    ds = DATASETS["computers"]
    net = GNN().build(arch_dict(ds, "0012", ["gat", "skip", "cheb", "sage"]), (ds.features,), ds.classes)
    chip = problem.chips[problem.index(s) % problem.n_chips]
    assert chip.device.type == "sram" and chip.adc.bits == 6
    rep = imcnas.estimate_batch(imcnas.trace(net, graph_inputs("computers")), [chip])
    got = problem.evaluate(s)
    for col in ("energy_pj", "latency_ns", "area_mm2"):
        assert got[col] == pytest.approx(float(rep[col][0]), rel=1e-9)
