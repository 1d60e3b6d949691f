"""Graph tasks (offline) and the graph path of training and evaluation on the simulated chip."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("torch_geometric")

from imcnas.accuracy.data import load_dataset  # noqa: E402
from imcnas.accuracy.graphs import example_input, is_graph, refuse_non_graph  # noqa: E402
from imcnas.accuracy.train import EvalConfig, TrainConfig, accuracy, evaluate, train  # noqa: E402
from imcnas.errors import ConfigError  # noqa: E402
from imcnas.hardware import load_chip  # noqa: E402
from imcnas.space.families import get_family  # noqa: E402


def _gnn(data, ops, dim=32):
    arch = {"arch.link": "0123", **{f"arch.op{i}": o for i, o in enumerate(ops)}, "arch.dim": dim}
    return get_family("gnn").build(arch, data.input_shape, data.num_classes)


def test_graph_datasets_are_offline_deterministic_and_split():
    for name in ("sbm", "karate", "fake-graphs", "fake-nodes"):
        a, b = load_dataset(name), load_dataset(name)
        assert is_graph(a)
        ga, gb = a.graphs[0], b.graphs[0]
        assert torch.equal(ga.x, gb.x) and torch.equal(ga.edge_index, gb.edge_index)
        sizes = a.sizes
        assert min(sizes.values()) > 0
        if a.task == "node":  # disjoint masks covering every node
            total = a.splits["train"].int() + a.splits["val"].int() + a.splits["test"].int()
            assert bool((total == 1).all())
        else:
            idx = torch.cat(list(a.splits.values()))
            assert len(set(idx.tolist())) == len(idx) == len(a.graphs)
    other = load_dataset("sbm", generation_seed=1)
    assert not torch.equal(other.graphs[0].x, load_dataset("sbm").graphs[0].x)


def test_bad_graph_options_give_one_line_errors():
    with pytest.raises(ConfigError, match="option 'p_in'"):
        load_dataset("sbm", p_in=1.5)
    with pytest.raises(ConfigError, match="unknown option"):
        load_dataset("karate", nodes=3)


def test_message_passing_beats_features_alone_on_sbm():
    """The SBM task has real graph structure: GCN over the graph beats the same network without edges."""
    data = load_dataset("sbm")
    cfg = TrainConfig(epochs=60, lr=0.01, seed=0)
    gcn = accuracy(train(_gnn(data, ["gcn"] * 4), data, cfg).model, data, "val")
    mlp = accuracy(train(_gnn(data, ["fc"] * 4), data, cfg).model, data, "val")
    assert gcn > mlp + 8, (gcn, mlp)


def test_node_and_graph_tasks_train_and_evaluate_on_the_chip():
    chip = load_chip("neurosim-rram-22nm")
    for name, epochs in (("sbm", 40), ("fake-graphs", 4)):
        data = load_dataset(name)
        tr = train(_gnn(data, ["gcn", "sage", "gin", "fc"], 16), data,
                   TrainConfig(epochs=epochs, lr=0.01, hwa=True), chip)
        assert tr.ok and len(tr.losses) == epochs
        res = evaluate(tr.model, chip, data, EvalConfig(times_s=[1.0], repeats=2))
        assert res.ok
        chance = 100.0 / data.num_classes
        assert res.digital > chance + 20 and res.mean[0] > chance + 10, (name, res.digital, res.mean)


def test_example_input_is_one_inference():
    node, graph = load_dataset("sbm"), load_dataset("fake-graphs")
    x, ei = example_input(node)
    assert x.shape == (node.meta["nodes"], node.input_shape[0]) and ei.shape[0] == 2
    x, ei, batch = example_input(graph)
    assert batch.unique().tolist() == [0]


def test_family_and_dataset_kinds_must_agree():
    with pytest.raises(ConfigError, match="needs a graph dataset"):
        refuse_non_graph("gnn", load_dataset("digits"))
    with pytest.raises(ConfigError, match="graph task: use model family 'gnn'"):
        refuse_non_graph("cnn", load_dataset("karate"))
    refuse_non_graph("gnn", load_dataset("karate"))
