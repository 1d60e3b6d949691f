"""A co-search over the gnn family end to end: node and graph classification, export, refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch_geometric")

from imcnas.config import config_from_dict  # noqa: E402
from imcnas.errors import ConfigError  # noqa: E402
from imcnas.search.study import Study  # noqa: E402
from imcnas.search.trial import TrialState  # noqa: E402

from tests.search.test_study import run_study, tiny  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

SPACE = {"family_defaults": False, "params": {
    "arch.link": {"choice": ["0123", "0011"]},
    "arch.op0": {"choice": ["gcn", "sage"]},
    "arch.op1": {"choice": ["gin", "skip"]},
    "arch.dim": {"choice": [8, 16]},
    "hw.crossbar.rows": {"choice": [64, 128]},
}}


@pytest.mark.parametrize("dataset, options", [("sbm", {"n_nodes": 120}), ("fake-graphs", {"n_graphs": 60})])
def test_gnn_search_trains_prices_and_exports(tmp_path: Path, dataset: str, options: dict) -> None:
    d = tiny(model={"family": "gnn"}, data={"dataset": dataset, "options": options}, space=SPACE,
             budget__trials=3)
    trials = run_study(d, tmp_path / "s")
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == 3, [(t.state, t.info.get("reason")) for t in trials]
    for t in done:
        assert 0 <= t.values["accuracy"] <= 100 and t.values["energy_pj"] > 0
        assert t.info["unsupported"] == []
        assert "classifier" in t.info["crossbar_layers"]
        assert t.info["graph"]["task"] == ("node" if dataset == "sbm" else "graph")
    # the exported model.py gives `imcnas estimate` a graph of the priced size, and prices it the same
    from imcnas.analysis.export import export_designs
    from imcnas.hardware import estimate, load_chip
    from imcnas.workload import trace
    from imcnas.workload.zoo import load_model

    t = done[0]
    folder = export_designs(tmp_path / "s", [t.number])[0]
    model, x, _ = load_model(f"{folder / 'model.py'}:model")
    assert isinstance(x, tuple) and x[0].shape[0] == t.info["graph"]["nodes"]
    assert x[1].shape[1] == t.info["graph"]["edges"]
    work = trace(model, x)
    bits = {k: v for k, v in (t.info.get("layer_bits") or {}).items() if k in {o.name for o in work.matrix_ops}}
    rep = estimate(work.with_layer_bits(bits) if bits else work, load_chip(str(folder / "hardware.yaml")))
    assert rep.totals["energy_pj"] == pytest.approx(t.values["energy_pj"], rel=1e-6)


def test_family_and_dataset_mismatch_and_proxies_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a graph dataset"):
        Study(config_from_dict(tiny(model={"family": "gnn"}, space=SPACE)), tmp_path / "a")
    with pytest.raises(ConfigError, match="graph task: use model family 'gnn'"):
        Study(config_from_dict(tiny(data={"dataset": "karate"})), tmp_path / "b")
    d = tiny(model={"family": "gnn"}, data={"dataset": "karate"}, space=SPACE, fidelity={"kind": "proxy"})
    with pytest.raises(ConfigError, match="fidelity.kind"):
        Study(config_from_dict(d), tmp_path / "c")
