"""The transformer family: patch and token inputs, per-block head/MLP pruning, errors, pricing, conversion."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import imcnas
from imcnas.accuracy.convert import convert
from imcnas.errors import ConfigError
from imcnas.space.families import build_model, get_family
from imcnas.space.families.transformer import default_patches
from imcnas.space.searchspace import SearchSpace
from imcnas.workload.ops import OpKind


def linears(model: nn.Module) -> dict[str, nn.Linear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def test_param_count_by_hand() -> None:
    # digits 1x8x8, patch 4 -> 4 patches, dim 32, 1 block, 2 heads, MLP ratio 2, mean pooling
    m = build_model("transformer", {"arch.patch": 4, "arch.depth": 1}, (1, 8, 8), 10)
    d, h = 32, 64
    expected = (16 * d + d) + 4 * d + 2 * (2 * d) + 4 * (d * d + d) + (d * h + h) + (h * d + d) + 2 * d + d * 10 + 10
    assert sum(p.numel() for p in m.parameters()) == expected


def test_block_pruning_shrinks_heads_and_mlp_only_in_that_block() -> None:
    base = {"arch.dim": 32, "arch.heads": 4, "arch.depth": 2, "arch.mlp_ratio": 2}
    full = linears(build_model("transformer", base, (1, 8, 8), 10))
    cut = linears(build_model("transformer", {**base, "arch.b1.heads": 1, "arch.b0.mlp_ratio": 0.5}, (1, 8, 8), 10))
    assert cut["blocks.1.attn.q"].out_features == 8 and full["blocks.1.attn.q"].out_features == 32
    assert cut["blocks.1.attn.proj"].in_features == 8 and cut["blocks.1.attn.proj"].out_features == 32
    assert cut["blocks.0.attn.q"].out_features == 32
    assert cut["blocks.0.mlp.0"].out_features == 16 and cut["blocks.1.mlp.0"].out_features == 64


def test_token_inputs_use_an_embedding_and_need_integer_ids() -> None:
    m = build_model("transformer", {"arch.vocab": 7, "arch.pool": "cls"}, (12,), 3).eval()
    x = torch.randint(0, 7, (5, 12))
    assert m(x).shape == (5, 3)
    assert isinstance(m.embed, nn.Embedding) and m.embed.num_embeddings == 7
    with pytest.raises(ConfigError, match="token ids"):
        m(x.float())
    with pytest.raises(IndexError):
        m(torch.full((1, 12), 7))
    assert "arch.patch" not in get_family("transformer").default_space((12,), 3)


@pytest.mark.parametrize("arch,needle", [({"arch.dim": 30, "arch.heads": 4}, "divisible"),
                                         ({"arch.heads": 2, "arch.b0.heads": 3}, "more than arch.heads"),
                                         ({"arch.patch": 16}, "larger than the input")])
def test_inconsistent_archs_are_one_line_errors(arch: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_model("transformer", arch, (1, 8, 8), 10)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_default_patches_follow_the_input() -> None:
    assert default_patches((1, 8, 8)) == (1, 2, 4)
    assert default_patches((3, 32, 32)) == (4, 8, 16)
    assert default_patches((1, 40)) == (2, 4, 8)
    assert all(40 % p == 0 for p in default_patches((1, 40)))


def test_every_default_space_design_is_priced_with_attention_on_digital_units() -> None:
    fam = get_family("transformer")
    space = SearchSpace(fam.default_space((1, 8, 8), 10))
    rng = np.random.default_rng(0)
    for _ in range(4):
        arch = space.sample(rng)
        model = fam.build(arch, (1, 8, 8), 10)
        work = imcnas.trace(model, torch.randn(1, 1, 8, 8))
        matrix = [op for op in work.ops if op.kind == OpKind.MATRIX]
        dynamic = [op for op in work.ops if op.kind == OpKind.DYNAMIC_MATMUL]
        assert len(matrix) == 1 + 6 * arch["arch.depth"] + 1 <= fam.max_layers((1, 8, 8), 10)
        assert len(dynamic) == 2 * arch["arch.depth"]  # QK^T and AV per block
        n = 64 // arch["arch.patch"] ** 2 + (arch["arch.pool"] == "cls")
        qk = dynamic[0]
        assert qk.macs == n * n * arch["arch.dim"]  # all heads together: L x S x head_dim x heads
        report = imcnas.estimate(work, "pcm-14nm")
        assert report.totals["energy_pj"] > 0


def test_conversion_simulates_every_linear_and_keeps_norms_and_lookup_digital() -> None:
    model = build_model("transformer", {"arch.depth": 1, "arch.vocab": 5}, (10,), 2)
    converted, report = convert(model, "pcm-14nm")
    assert set(report.simulated) == set(linears(model))
    assert report.digital["embed"].startswith("embedding") and "blocks.0.norm1" in report.digital
    x = torch.randint(0, 5, (3, 10))
    with torch.no_grad():
        assert converted.eval()(x).shape == (3, 2)


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_padding_is_masked_out_of_attention_and_pooling(pool: str) -> None:
    torch.manual_seed(0)
    x = torch.tensor([[1, 2, 3, 4, 0, 0, 0, 0], [3, 4, 1, 2, 3, 4, 0, 0]])

    def moved(arch: dict) -> float:
        m = build_model("transformer", {"arch.vocab": 5, "arch.pool": pool, **arch}, (8,), 2).eval()
        with torch.no_grad():
            before = m(x)
            m.embed.weight[0] += torch.randn_like(m.embed.weight[0])  # change what padding looks like
            return float((m(x) - before).abs().max())

    assert moved({"arch.pad_id": 0}) < 1e-5  # padding never reaches a kept position or the pooled vector
    assert moved({}) > 1e-3  # without a pad id it does
    with pytest.raises(ConfigError, match="pad_id"):
        build_model("transformer", {"arch.vocab": 5, "arch.pad_id": 5}, (8,), 2)
