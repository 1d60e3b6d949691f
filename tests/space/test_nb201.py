"""The NAS-Bench-201 network family: encodings, dead-op pruning, parameter and MAC counts, composed workloads."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import imcnas
from imcnas.errors import ConfigError
from imcnas.space.families.nb201 import (OPS, arch_to_str, cell_signature, from_op_indices, live_edges, mirror,
                                         nb201_network, nb201_workload, parse_arch, prune_dead, to_op_indices)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
X = torch.zeros(1, 3, 32, 32)
# stem conv 3->16 + BN, reduction blocks 16->32 and 32->64 (conv_a, conv_b, BNs, 1x1 shortcut), lastact BN,
# classifier 64 x 10 + bias
STEM = 3 * 16 * 9 + 2 * 16
REDUCE = sum(ci * co * 9 + 2 * co + co * co * 9 + 2 * co + ci * co for ci, co in ((16, 32), (32, 64)))
HEAD = 2 * 64 + 64 * 10 + 10


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_string_roundtrip_and_order() -> None:
    arch = parse_arch(BEST)
    # string order: 1<-0 | 2<-0, 2<-1 | 3<-0, 3<-1, 3<-2
    assert arch == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")
    assert arch_to_str(arch) == BEST
    assert parse_arch(list(arch)) == arch


@pytest.mark.parametrize("bad", ["|nor_conv_3x3~0|+|none~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_bad_strings_are_one_line_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_arch(bad)
    assert "\n" not in str(err.value)


def test_unknown_op_names_the_edge() -> None:
    with pytest.raises(ConfigError, match="edge 2: unknown op 'conv5x5'"):
        parse_arch(["none", "none", "conv5x5", "none", "none", "none"])


def test_op_indices_follow_naslib_order() -> None:
    # NASLib / AnalogNAS-Bench: edges (1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2), ids 0 skip 1 none 2 c3 3 c1 4 pool
    arch = from_op_indices((2, 3, 0, 4, 1, 0))
    assert arch == ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none", "skip_connect")
    for idx in itertools.product(range(5), repeat=6):
        assert to_op_indices(from_op_indices(idx)) == idx
    with pytest.raises(ConfigError):
        from_op_indices((0, 0, 0, 0, 0, 5))


def test_liveness() -> None:
    # conv on 1<-0 but node 1 feeds nothing: dead; the skip 3<-0 is live
    arch = ("nor_conv_3x3", "none", "none", "skip_connect", "none", "none")
    assert live_edges(arch) == (False, False, False, True, False, False)
    # node 1 is unreachable (1<-0 none): the convs out of it only see zeros and are dead too
    arch = ("none", "skip_connect", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none")
    assert live_edges(arch) == (False, False, False, True, False, False)
    assert not any(live_edges(["none"] * 6))
    assert all(live_edges(["nor_conv_3x3"] * 6))
    assert prune_dead(arch) == ("none", "none", "none", "skip_connect", "none", "none")


def test_published_nb201_counts() -> None:
    """NAS-Bench-201 (Dong & Yang 2020) CIFAR-10 range: 0.07-1.53 M params, 7.8-220 M FLOPs (multiply-adds)."""
    full = nb201_network(["nor_conv_3x3"] * 6)
    assert n_params(full) == 1_531_546
    w = imcnas.trace(full, X)
    assert w.macs == 220_119_680
    empty = nb201_network(["none"] * 6)
    assert n_params(empty) == STEM + REDUCE + HEAD == 73_306
    assert imcnas.trace(empty, X).macs == 7_783_040
    assert nb201_workload(["nor_conv_1x1"] * 6).macs < w.macs == nb201_workload(["nor_conv_3x3"] * 6).macs
    assert full(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert nb201_network(BEST, num_classes=100)(X).shape == (1, 100)


def test_dead_ops_are_pruned_but_can_be_kept() -> None:
    arch = ("nor_conv_3x3", "none", "none", "skip_connect", "none", "none")  # only the skip 3<-0 is live
    pruned, full = nb201_network(arch), nb201_network(arch, prune_dead=False)
    assert n_params(pruned) == n_params(nb201_network(["none"] * 6))
    assert n_params(full) - n_params(pruned) == sum(5 * (c * c * 9 + 2 * c) for c in (16, 32, 64))
    assert imcnas.trace(full, X).macs - imcnas.trace(pruned, X).macs == 15 * 2_359_296


def test_pruning_keeps_the_function() -> None:
    torch.manual_seed(0)
    for arch in [("nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect", "none", "avg_pool_3x3"),
                 ("none", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")]:
        full = nb201_network(arch, prune_dead=False).eval()
        pruned = nb201_network(arch).eval()
        missing = pruned.load_state_dict(full.state_dict(), strict=False).missing_keys
        assert not missing
        x = torch.randn(2, 3, 32, 32)
        # edges fed only by zeros give BN(0) = beta = 0 with fresh running stats: same output
        torch.testing.assert_close(pruned(x), full(x))


def test_mirror_and_signature() -> None:
    arch = ("nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect", "nor_conv_3x3", "avg_pool_3x3")
    assert mirror(mirror(arch)) == arch
    assert mirror(arch) != arch
    assert cell_signature(["nor_conv_3x3"] * 6) == (0, 0, 6, 0, 3)  # node 2: 1 add, node 3: 2 adds
    assert cell_signature(["none"] * 6) == (0, 0, 0, 0, 0)
    for a in itertools.product(OPS, repeat=6):
        assert cell_signature(mirror(a)) == cell_signature(a)


@pytest.mark.parametrize("arch", [BEST, ("none",) * 6, ("skip_connect",) * 6,
                                  ("none", "nor_conv_3x3", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none")])
def test_composed_workload_equals_trace(arch) -> None:
    traced = imcnas.trace(nb201_network(arch), X)
    composed = nb201_workload(arch)
    assert composed.macs == traced.macs and composed.weights == traced.weights
    assert composed.digital_totals == pytest.approx(traced.digital_totals)
    key = lambda w: sorted(zip(*(w.matrix_arrays[k] for k in ("rows", "cols", "groups", "vectors", "in_elems"))))
    assert key(composed) == key(traced)
    chips = [imcnas.load_chip("pcm-14nm"), imcnas.load_chip("neurosim-rram-22nm", ["crossbar.rows=64"])]
    a, b = imcnas.estimate_batch(traced, chips), imcnas.estimate_batch(composed, chips)
    for col in ("energy_pj", "latency_ns", "area_mm2"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12)
