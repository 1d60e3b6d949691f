"""Pruning: requested sparsity per method and scope, masks that survive training, and end to end through the
tracer and cost model: structured pruning frees crossbars, unstructured pruning does not."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from pydantic import ValidationError
from torch import nn

import imcnas
from imcnas.accuracy.prune import PruneConfig, PruneReport, make_permanent, measure, prune
from imcnas.errors import ConfigError

# 64 x 64 crossbars, 8 physical columns per weight (4 slices x differential) -> 8 weights wide; one crossbar per
# tile so the area follows the crossbar count
CHIP_SET = ["crossbar.rows=64", "crossbar.cols=64", "mapping.duplication=1", "hierarchy.crossbars_per_pe=1",
            "hierarchy.pes_per_tile=1"]
X = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def chip() -> imcnas.Chip:
    c = imcnas.load_chip("neurosim-rram-22nm", CHIP_SET)
    assert (c.crossbar.rows, c.crossbar.cols, c.cols_per_weight) == (64, 64, 8)
    return c


def small_cnn(seed: int = 0) -> nn.Sequential:
    """conv: 144 unrolled rows (3 row tiles of 64) x 32 outputs (256 columns: 4 col tiles) = 12 crossbars;
    fc: 32 x 10 (80 columns) = 2 crossbars."""
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(16, 32, 3, padding=1), act=nn.ReLU(),
                                     pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(32, 10)))


def cost(model: nn.Module, chip: imcnas.Chip) -> tuple[dict[str, float], imcnas.CostReport]:
    rep = imcnas.estimate(imcnas.trace(model, X), chip)
    return {layer["name"]: layer["crossbars"] for layer in rep.layers}, rep


def test_dense_baseline(chip: imcnas.Chip) -> None:
    xbars, _ = cost(small_cnn(), chip)
    assert xbars == {"conv": 12.0, "fc": 2.0}


# ---------------------------------------------------------------------------------------------- sparsity
@pytest.mark.parametrize("method", ["magnitude", "channel"])
def test_layer_scope_reaches_the_ratio(method: str) -> None:
    model = small_cnn()
    rep = prune(model, PruneConfig(method=method, ratio=0.5))
    assert isinstance(rep, PruneReport) and rep.pruned == ["conv", "fc"]
    assert {n: s.removed for n, s in rep.layers.items()} == {"conv": 0.5, "fc": 0.5}
    assert rep.sparsity == 0.5 and rep.dense == 32 * 144 + 320
    if method == "channel":  # whole output channels
        w = model.conv.weight.reshape(32, -1)
        assert int((w.abs().sum(1) == 0).sum()) == 16 and int((w == 0).sum()) == 16 * 144


def test_xbar_rows_zero_whole_crossbar_height_blocks(chip: imcnas.Chip) -> None:
    model = small_cnn()
    prune(model, {"method": "xbar_rows", "ratio": 0.67}, chip)  # conv: 2 of 3 blocks; fc: 1 block, kept
    w = model.conv.weight.reshape(32, -1)  # (out, cin*kh*kw): rows of the unrolled matrix are its columns
    zero_rows = w.abs().sum(0) == 0
    blocks = [zero_rows[i:i + 64] for i in range(0, 144, 64)]  # 64, 64 and 16 rows
    assert [bool(b.all()) or not bool(b.any()) for b in blocks] == [True] * 3  # whole blocks only
    assert sum(bool(b.all()) for b in blocks) == 2
    assert int((w == 0).sum()) == 32 * int(zero_rows.sum())
    assert measure(model).layers["fc"].removed == 0.0


def test_xbar_cols_zero_crossbar_width_blocks(chip: imcnas.Chip) -> None:
    model = small_cnn()
    rep = prune(model, {"method": "xbar_cols", "ratio": 0.5}, chip)  # 8 outputs per block
    zero = model.conv.weight.reshape(32, -1).abs().sum(1) == 0
    assert int(zero.sum()) == 16 and all(bool(zero[i:i + 8].all()) == bool(zero[i]) for i in range(0, 32, 8))
    assert rep.layers["conv"].removed == 0.5 and rep.layers["fc"].removed == pytest.approx(0.2)  # 1 of 2 blocks


def test_global_scope_follows_magnitudes() -> None:
    model = small_cnn()
    with torch.no_grad():
        model.conv.weight.mul_(0.01)
    rep = prune(model, {"method": "magnitude", "ratio": 0.5, "scope": "global"})
    assert rep.sparsity == 0.5
    assert rep.layers["fc"].removed == 0.0 and rep.layers["conv"].removed > 0.5
    layer = prune(small_cnn(), {"method": "magnitude", "ratio": 0.5, "scope": "layer"})
    assert {s.removed for s in layer.layers.values()} == {0.5}


def test_global_scope_never_removes_a_whole_layer() -> None:
    model = small_cnn()
    with torch.no_grad():
        model.fc.weight.mul_(1e-3)
    rep = prune(model, {"method": "channel", "ratio": 0.3, "scope": "global"})  # 12 of 42 channels
    assert rep.layers["fc"].removed == pytest.approx(0.9)  # 9 of 10: the strongest channel stays
    assert rep.layers["conv"].removed == pytest.approx(2 / 32)


def test_skip_list() -> None:
    model = small_cnn()
    before = model.fc.weight.detach().clone()
    rep = prune(model, {"method": "magnitude", "ratio": 0.5, "skip": ["fc"]})
    assert rep.pruned == ["conv"] and rep.layers["fc"].removed == 0.0 and rep.layers["conv"].removed == 0.5
    assert torch.equal(model.fc.weight, before) and not hasattr(model.fc, "weight_mask")
    with pytest.raises(ConfigError, match="no module named 'classifier'"):
        prune(model, {"method": "magnitude", "ratio": 0.5, "skip": ["classifier"]})


def test_pruning_again_continues_to_the_new_ratio() -> None:
    model = small_cnn()
    prune(model, {"method": "magnitude", "ratio": 0.25})
    orig = model.conv.weight_orig
    rep = prune(model, {"method": "magnitude", "ratio": 0.5})
    assert rep.layers["conv"].removed == 0.5 and model.conv.weight_orig is orig  # same parameter, tighter mask


# ---------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("method", ["magnitude", "xbar_rows"])
def test_masks_persist_through_an_optimizer_step(method: str, chip: imcnas.Chip) -> None:
    model = small_cnn()
    prune(model, {"method": method, "ratio": 0.5}, chip)
    zero = {n: getattr(model, n).weight == 0 for n in ("conv", "fc")}
    before = model.conv.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X.repeat(4, 1, 1, 1)), torch.tensor([0, 1, 2, 3])).backward()
        opt.step()
    model(X)  # the pruning hook recomputes weight = weight_orig * weight_mask
    for n, z in zero.items():
        w = getattr(model, n).weight
        assert bool((w[z] == 0).all())
    assert not torch.equal(model.conv.weight, before)  # the kept weights did train
    kept = measure(model)
    make_permanent(model)
    assert not hasattr(model.conv, "weight_orig") and isinstance(model.conv.weight, nn.Parameter)
    assert {n: s.nonzero for n, s in measure(model).layers.items()} == {n: s.nonzero for n, s in kept.layers.items()}


# ---------------------------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("ratio,blocks,freed", [(0.34, 1, 4), (0.67, 2, 8)])
def test_xbar_rows_frees_crossbars_end_to_end(chip: imcnas.Chip, ratio: float, blocks: int, freed: int) -> None:
    model = small_cnn()
    xb0, r0 = cost(model, chip)
    prune(model, {"method": "xbar_rows", "ratio": ratio}, chip)
    work = imcnas.trace(model, X)
    conv = work.matrix_ops[0]
    assert conv.meta["dense_rows"] == 144 and -(-conv.rows // 64) == 3 - blocks
    xb1, r1 = cost(model, chip)
    assert xb1 == {"conv": 12.0 - freed, "fc": 2.0}  # each block frees one row of 4 column tiles
    assert sum(xb0.values()) - sum(xb1.values()) == freed
    assert r1.tiles == r0.tiles - freed
    assert r1.energy_pj < r0.energy_pj and r1.area_mm2 < r0.area_mm2


def test_xbar_cols_frees_crossbars_end_to_end(chip: imcnas.Chip) -> None:
    model = small_cnn()
    _, r0 = cost(model, chip)
    prune(model, {"method": "xbar_cols", "ratio": 0.5, "skip": ["fc"]}, chip)
    xb1, r1 = cost(model, chip)
    assert xb1 == {"conv": 6.0, "fc": 2.0}  # 16 outputs = 2 column tiles x 3 row tiles
    assert r1.energy_pj < r0.energy_pj and r1.area_mm2 < r0.area_mm2


def test_channel_pruning_frees_crossbars_past_a_width_multiple(chip: imcnas.Chip) -> None:
    model = small_cnn()
    prune(model, {"method": "channel", "ratio": 0.1, "skip": ["fc"]})  # 3 of 32 outputs: still 4 col tiles
    assert cost(model, chip)[0] == {"conv": 12.0, "fc": 2.0}
    assert imcnas.trace(model, X).matrix_ops[0].cols == 29
    prune(model, {"method": "channel", "ratio": 0.25, "skip": ["fc"]})  # 24 outputs = 192 columns: 3 tiles
    assert cost(model, chip)[0] == {"conv": 9.0, "fc": 2.0}


def test_magnitude_pruning_frees_no_crossbars(chip: imcnas.Chip) -> None:
    model = small_cnn()
    xb0, r0 = cost(model, chip)
    rep = prune(model, {"method": "magnitude", "ratio": 0.5})
    assert rep.sparsity == 0.5
    xb1, r1 = cost(model, chip)
    assert xb1 == xb0 and r1.area_mm2 == r0.area_mm2  # scattered zeros still occupy their cells
    assert [(o.rows, o.cols) for o in imcnas.trace(model, X).matrix_ops] == [(144, 32), (32, 10)]


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("method", ["xbar_rows", "xbar_cols"])
def test_xbar_methods_need_a_chip(method: str) -> None:
    with pytest.raises(ConfigError, match="needs a chip") as err:
        prune(small_cnn(), {"method": method, "ratio": 0.5})
    assert "\n" not in str(err.value)


def test_bad_configs() -> None:
    with pytest.raises(ConfigError, match="field 'ratio'"):
        prune(small_cnn(), {"method": "magnitude", "ratio": 1.0})
    with pytest.raises(ConfigError, match="field 'method'"):
        prune(small_cnn(), {"method": "random", "ratio": 0.5})
    with pytest.raises(ValidationError):
        PruneConfig(method="channel", ratio=0.5, granularity="block")  # type: ignore[call-arg]
    assert prune(small_cnn(), {"method": "channel", "ratio": 0.0}).sparsity == 0.0
