"""The gnn family: NAS-Bench-Graph's space on torch_geometric (optional extra)."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")

from imcnas.errors import ConfigError  # noqa: E402
from imcnas.space.families import get_family  # noqa: E402
from imcnas.space.families.gnn import LINKS, OPS, leaves  # noqa: E402
from imcnas.space.searchspace import SearchSpace  # noqa: E402
from imcnas.workload import trace  # noqa: E402
from imcnas.workload.ops import OpKind  # noqa: E402


def _arch(link: str, ops: list[str], **kw) -> dict:
    return {"arch.link": link, **{f"arch.op{i}": o for i, o in enumerate(ops)}, **kw}


def _graph(n: int = 40, e: int = 160, f: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, f, generator=g), torch.randint(0, n, (2, e), generator=g)


def test_every_operator_and_topology_builds_and_runs():
    fam = get_family("gnn")
    x, ei = _graph()
    for link in LINKS:
        for op in OPS[:-1]:
            m = fam.build(_arch(link, [op, "skip", op, op], **{"arch.dim": 16}), (8,), 3)
            assert m(x, ei).shape == (40, 3)
            assert m(x, ei, torch.zeros(40, dtype=torch.long)).shape == (1, 3)  # graph task: mean readout


def test_default_space_samples_build():
    fam = get_family("gnn")
    space = SearchSpace(fam.default_space((8,), 3))
    rng = np.random.default_rng(0)
    x, ei = _graph()
    for _ in range(10):
        m = fam.build(space.sample(rng), (8,), 3)
        assert m(x, ei).shape == (40, 3)


def test_leaves_follow_the_bench_rules():
    assert leaves("0123", ["gcn"] * 4) == [4]
    assert leaves("0000", ["gcn"] * 4) == [1, 2, 3, 4]
    assert leaves("0000", ["skip", "gcn", "gcn", "gcn"]) == [2, 3, 4]  # a skip of the input adds nothing
    assert leaves("0011", ["gcn", "skip", "skip", "skip"]) == [1, 1]  # skips pass node 1 on, twice
    assert leaves("0123", ["skip"] * 4) == [0]


def test_crossbar_layers_are_the_operators_linears():
    fam = get_family("gnn")
    m = fam.build(_arch("0123", ["gcn", "sage", "cheb", "fc"], **{"arch.dim": 16, "arch.cheb_k": 3}), (8,), 3)
    x, ei = _graph()
    w = trace(m, (x, ei))
    names = [o.name for o in w.matrix_ops]
    assert sorted(names) == sorted(["ops.0.lin", "ops.1.lin_l", "ops.1.lin_r", "ops.2.lins.0", "ops.2.lins.1",
                                    "ops.2.lins.2", "ops.3", "post.0", "classifier"])
    assert len(names) <= fam.max_layers((8,), 3)
    agg = [o for o in w.ops if o.kind is OpKind.AGGREGATE]
    assert agg, "message passing must be priced as aggregation"
    # aggregation work grows with the edges: double the edges, double the aggregated elements
    w2 = trace(m, (x, torch.cat([ei, ei], dim=1)))
    a1 = sum(o.flops for o in agg)
    a2 = sum(o.flops for o in w2.ops if o.kind is OpKind.AGGREGATE)
    assert a2 > 1.5 * a1


def test_bad_values_give_one_line_errors():
    fam = get_family("gnn")
    with pytest.raises(ConfigError, match="arch.link"):
        fam.build({"arch.link": "0321"}, (8,), 3)
    with pytest.raises(ConfigError, match="arch.op2"):
        fam.build({"arch.op2": "transformer"}, (8,), 3)
    with pytest.raises(ConfigError, match="divisible"):
        fam.build(_arch("0123", ["gat"] * 4, **{"arch.dim": 15, "arch.heads": 2}), (8,), 3)
    with pytest.raises(ConfigError, match=r"input_shape must be \(F,\)"):
        fam.build({}, (1, 8, 8), 3)


def test_parameter_counts_equal_nas_bench_graph():
    """Independent evidence that the space is the bench's: its recorded parameter counts (Cora settings:
    1,433 features, 7 classes, dim 256, no pre-process layer, one post layer), less the 256 x 256 weight that
    torch_geometric's one-layer ARMAConv allocates but never uses (test_arma_equals_torch_geometric)."""
    nbg = pytest.importorskip("nas_bench_graph")
    bench = nbg.light_read("cora")
    fam = get_family("gnn")
    rng = random.Random(3)
    checked = 0
    while checked < 40:
        link, ops = rng.choice(LINKS), [rng.choice(OPS + ("skip",) * 2) for _ in range(4)]
        key = nbg.Arch([int(c) for c in link], ops).valid_hash()
        if ops == ["skip"] * 4 or key not in bench:
            continue
        m = fam.build(_arch(link, ops, **{"arch.dim": 256, "arch.pre": 0, "arch.post": 1}), (1433,), 7)
        unused = ops.count("arma") * 256 * 256
        assert sum(p.numel() for p in m.parameters()) == round(bench[key]["para"] * 1e6) - unused, (link, ops)
        checked += 1


def test_channel_pruning_reaches_the_operators_crossbar_layers():
    """torch_geometric's Linear layers prune like nn.Linear, and the cost model sees the freed columns."""
    from imcnas.accuracy.prune import prune

    fam = get_family("gnn")
    m = fam.build(_arch("0123", ["gcn", "sage", "graph", "cheb"], **{"arch.dim": 64}), (8,), 3)
    x, ei = _graph()
    dense = {o.name: o.cols for o in trace(m, (x, ei)).matrix_ops}
    report = prune(m, {"method": "channel", "ratio": 0.5})
    assert "ops.1.lin_l" in report.pruned and "ops.3.lins.1" in report.pruned
    pruned = {o.name: o.cols for o in trace(m, (x, ei)).matrix_ops}
    assert set(pruned) == set(dense)  # still crossbar layers after pruning
    assert pruned["ops.1.lin_l"] == dense["ops.1.lin_l"] // 2 and pruned["ops.3.lins.1"] == dense["ops.3.lins.1"] // 2


def test_arma_equals_torch_geometric():
    """The family's ARMA computes torch_geometric's ARMAConv (1 stack, 1 layer) with its weights as two
    crossbar Linear layers."""
    from torch_geometric.nn import ARMAConv

    from imcnas.space.families.gnn import _arma_class

    torch.manual_seed(0)
    ref, mine = ARMAConv(8, 16), _arma_class()(8, 16)
    with torch.no_grad():
        mine.lin_init.weight.copy_(ref.init_weight[0].T)
        mine.lin_root.weight.copy_(ref.root_weight[0, 0].T)
        mine.bias.copy_(torch.randn(16))
        ref.bias.copy_(mine.bias.view_as(ref.bias))
    x, ei = _graph()
    assert torch.allclose(ref(x, ei), mine(x, ei), atol=1e-6)
    m = get_family("gnn").build(_arch("0123", ["arma"] * 4, **{"arch.dim": 16}), (8,), 3)
    names = [o.name for o in trace(m, (x, ei)).matrix_ops]
    assert "ops.0.lin_init" in names and "ops.3.lin_root" in names
    assert not [o for o in trace(m, (x, ei)).ops if o.kind is OpKind.DIGITAL_MATMUL]
