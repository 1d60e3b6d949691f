"""A co-search over the transformer family end to end: image patches and token ids (dyck)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imcnas.config import config_from_dict
from imcnas.errors import ConfigError
from imcnas.search.study import Study
from imcnas.search.trial import TrialState

from tests.search.test_study import run_study, tiny

pytestmark = pytest.mark.usefixtures("one_thread")

SPACE = {"family_defaults": False, "params": {
    "arch.dim": {"choice": [8, 12, 16]},
    "arch.heads": {"choice": [2, 4]},
    "arch.depth": {"choice": [1]},
    "arch.vocab": {"choice": [5]},
    "arch.pad_id": {"choice": [0]},
    "hw.crossbar.rows": {"choice": [64, 128]},
}, "constraints": [{"expr": "arch.dim % arch.heads == 0", "message": "heads must divide dim"}]}


def test_token_transformer_search_prices_attention_and_trains(tmp_path: Path) -> None:
    d = tiny(model={"family": "transformer"}, data={"dataset": "dyck", "options": {"n_samples": 200,
                                                                                "length": 12}},
             space=SPACE, budget__trials=3)
    trials = run_study(d, tmp_path / "s")
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == 3, [(t.state, t.info.get("reason")) for t in trials]
    for t in done:
        assert t.sample["arch.dim"] % t.sample["arch.heads"] == 0
        assert 0 <= t.values["accuracy"] <= 100 and t.values["energy_pj"] > 0
        assert t.info["unsupported"] == []
        assert "embed" not in t.info["crossbar_layers"] and "blocks.0.attn.q" in t.info["crossbar_layers"]
    # an exported design's model.py gives token ids to `imcnas estimate`
    from imcnas.analysis.export import export_designs
    from imcnas.workload import trace
    from imcnas.workload.zoo import load_model

    export_designs(tmp_path / "s", [done[0].number])
    model, x, _ = load_model(f"{tmp_path / 's' / 'designs' / f'trial_{done[0].number}' / 'model.py'}:model")
    assert x.dtype == torch.int64 and trace(model, x).macs > 0


def test_a_constraint_may_name_a_family_key_and_a_wrong_key_is_named(tmp_path: Path) -> None:
    d = tiny(model={"family": "transformer"}, space={"family_defaults": True, "params": {},
                                                      "constraints": ["arch.dim % arch.heads == 0"]})
    Study(config_from_dict(d), tmp_path / "ok")  # arch.* keys of the family's default space are known
    d["space"]["constraints"] = ["arch.dims % arch.heads == 0"]
    with pytest.raises(ConfigError, match="unknown key 'arch.dims'"):
        Study(config_from_dict(d), tmp_path / "bad")


def test_attention_placement_is_a_search_knob_and_worn_out_designs_fail_alone(tmp_path: Path) -> None:
    """hw.dynamic_ops_on varies where QK^T and AV run. On RRAM the crossbar choice wears the cells out: those
    designs are failed trials with the endurance reason, the pre-flight and the search go on."""
    space = {"family_defaults": False, "params": {
        "arch.dim": {"choice": [8]}, "arch.heads": {"choice": [2]}, "arch.depth": {"choice": [1]},
        "hw.dynamic_ops_on": {"choice": ["crossbar", "digital"]},
        "hw.crossbar.rows": {"choice": [64, 128]}}}
    for preset, wears in (("neurosim-sram-22nm", False), ("neurosim-rram-22nm", True)):
        d = tiny(model={"family": "transformer"}, space=space, hardware=preset, budget__trials=4,
                 training__epochs=1)
        trials = run_study(d, tmp_path / preset)
        where = {t.sample["hw.dynamic_ops_on"] for t in trials}
        assert where == {"crossbar", "digital"}, where
        for t in trials:
            worn = t.sample["hw.dynamic_ops_on"] == "crossbar" and wears
            assert (t.state == TrialState.FAILED) == worn, (preset, t.sample, t.state, t.info.get("reason"))
            if worn:
                assert "endures" in t.info["reason"] and "lifetime_inferences" in t.info["reason"]
            else:
                assert t.values["energy_pj"] > 0
