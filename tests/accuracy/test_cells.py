"""Quantisers and the weight -> cell mapping of ``imcnas.accuracy.nonideal``: levels, clipping, straight-through
gradients, cell layouts, exact round trips on the grid, offset codes."""
from __future__ import annotations

import pytest
import torch

from imcnas.accuracy import nonideal as ni

# ------------------------------------------------------------------------------------------------ quantise
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("signed", [True, False])
def test_quantise_levels_and_clipping(bits: int, signed: bool) -> None:
    bound = 1.7
    x = torch.linspace(-3.0, 3.0, 20_001)
    q = ni.quantise(x, bits, bound, signed=signed)
    levels = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    step = bound / levels
    values = torch.unique(q)
    assert len(values) == (2 * levels + 1 if signed else levels + 1)
    # every output is an integer multiple of the step, inside the range
    k = q / step
    assert torch.allclose(k, torch.round(k), atol=1e-4)
    lo = -bound if signed else 0.0
    assert float(q.min()) == pytest.approx(lo, abs=1e-6)
    assert float(q.max()) == pytest.approx(bound, abs=1e-6)
    # outside the range: clipped to the end points
    assert torch.all(q[x > bound] == q.max())
    assert torch.all(q[x < lo] == q.min())
    inside = (x >= lo) & (x <= bound)
    assert float((q - x)[inside].abs().max()) <= step / 2 + 1e-6


def test_quantise_straight_through_gradient() -> None:
    x = torch.tensor([-2.5, -0.93, -0.2, 0.0, 0.31, 0.77, 1.4, 3.0], requires_grad=True)
    ni.quantise(x, 3, 1.0, signed=True).sum().backward()
    inside = (x.detach().abs() < 1.0).float()
    assert torch.equal(x.grad, inside)
    # unsigned: negative inputs are clipped at 0 and get no gradient
    x2 = torch.tensor([-0.5, 0.2, 0.6, 1.5], requires_grad=True)
    ni.quantise(x2, 4, 1.0, signed=False).sum().backward()
    assert x2.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_ste_round_rounds_forward_and_passes_gradient() -> None:
    x = torch.tensor([0.2, 0.7, 1.49, -1.6], requires_grad=True)
    y = ni.ste_round(x)
    assert y.tolist() == [0.0, 1.0, 1.0, -2.0]
    (y * torch.arange(1.0, 5.0)).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


# ------------------------------------------------------------------------------------------- cell mapping
LAYOUTS = [  # (w_bits, cells, bits_per_cell, signed)
    (8, 4, 2, "differential"),  # sliced 4 x 2 bits
    (8, 8, 1, "differential"),  # sliced binary cells
    (8, 3, 3, "differential"),  # sliced with a spare bit (3 * 3 >= 8)
    (8, 8, 1, "offset"),
    (6, 3, 2, "offset"),
    (8, 4, 2, "unsigned"),
    (8, 2, 2, "differential"),  # analog: 2 cells of 2 bits cannot hold 8 bits (pcm-14nm)
    (8, 2, 2, "offset"),
    (8, 2, 2, "unsigned"),
    (4, 1, 4, "differential"),  # one cell holds the whole weight
    (5, 1, 2, "offset"),
]


def _quantised(w: torch.Tensor, w_max: float, lay: ni.CellLayout) -> torch.Tensor:
    wm = torch.tensor(w_max)
    return ni.from_cells(*ni.to_cells(w, wm, lay), wm, lay)


def _grid(lay: ni.CellLayout, w_max: float) -> torch.Tensor:
    """All weights representable by the layout, evenly spaced from -w_max (0 when unsigned) to w_max."""
    k = torch.arange(0, lay.levels + 1, dtype=torch.float64)
    if lay.signed == "unsigned":
        return (k / lay.levels * w_max).float()
    if lay.signed == "differential":
        return (torch.cat([-k.flip(0), k[1:]]) / lay.levels * w_max).float()
    # offset: the code convention (offset levels/2 or an integer offset) decides whether zero is a level, so the
    # grid is read off the quantiser and checked for its shape: even spacing, the full range, ~2^bits levels
    q = torch.sort(_quantised(torch.linspace(-w_max, w_max, 40_001), w_max, lay)).values
    grid = q[torch.cat([torch.tensor([True]), q.diff() > 1e-5 * w_max])]  # distinct up to float rounding
    assert len(grid) in (lay.levels, lay.levels + 1)
    assert float(grid[0]) == pytest.approx(-w_max, rel=1e-5) and float(grid[-1]) == pytest.approx(w_max, rel=1e-5)
    gaps = grid.diff()
    assert float(gaps.max() - gaps.min()) < 1e-5 * w_max
    return grid


def _step(lay: ni.CellLayout, w_max: float) -> float:
    if lay.signed == "offset":
        return 2.0 * w_max / (len(_grid(lay, w_max)) - 1)
    return w_max / lay.levels


@pytest.mark.parametrize("w_bits,cells,bpc,signed", LAYOUTS)
def test_layout_kind(w_bits: int, cells: int, bpc: int, signed: str) -> None:
    lay = ni.cell_layout(w_bits, cells, bpc, signed)
    assert lay.levels == 2**w_bits - 1 and lay.slices == cells and lay.signed == signed
    if cells * bpc >= w_bits and cells > 1:
        assert lay.base == 2**bpc and lay.cell_levels == 2**bpc - 1
        assert lay.base**lay.slices > lay.levels  # the slices can hold every code
    else:
        assert lay.base == 1 and lay.cell_levels == lay.levels


@pytest.mark.parametrize("w_bits,cells,bpc,signed", LAYOUTS)
def test_cells_round_trip_exact_on_grid(w_bits: int, cells: int, bpc: int, signed: str) -> None:
    lay = ni.cell_layout(w_bits, cells, bpc, signed)
    w_max = 0.37
    w = _grid(lay, w_max)
    g_pos, g_neg = ni.to_cells(w, torch.tensor(w_max), lay)
    assert g_pos.shape == (cells, *w.shape) and g_neg.shape == (cells, *w.shape)
    back = ni.from_cells(g_pos, g_neg, torch.tensor(w_max), lay)
    assert torch.allclose(back, w, atol=1e-5 * w_max, rtol=0)
    # programmed cells (g_pos, and g_neg of a differential pair) are normalised conductances on the cell grid
    programmed = [g_pos] + ([g_neg] if signed == "differential" else [])
    for g in programmed:
        assert float(g.min()) >= 0.0 and float(g.max()) <= 1.0 + 1e-6
        digits = g * lay.cell_levels
        assert torch.allclose(digits, torch.round(digits), atol=1e-3)
    if signed == "differential":  # one side of the pair is off
        assert torch.all((g_pos.sum(0) == 0) | (g_neg.sum(0) == 0))
    if signed == "unsigned":
        assert torch.all(g_neg == 0)


@pytest.mark.parametrize("w_bits,cells,bpc,signed", LAYOUTS)
def test_quantisation_error_at_most_half_a_step(w_bits: int, cells: int, bpc: int, signed: str) -> None:
    lay = ni.cell_layout(w_bits, cells, bpc, signed)
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(4096, generator=gen)
    if signed == "unsigned":
        w = w.abs()
    w_max = w.abs().max()
    q = ni.from_cells(*ni.to_cells(w, w_max, lay), w_max, lay)
    err = (q - w).abs().max()
    assert float(err) <= _step(lay, float(w_max)) / 2 * (1 + 1e-4)
    assert _step(lay, float(w_max)) <= 2.0 * float(w_max) / (lay.levels - 1) * (1 + 1e-6)
    # and the quantiser is not trivial: finer weights give smaller errors
    if w_bits >= 5:
        coarse = ni.cell_layout(w_bits - 3, 1, 1, signed)
        qc = ni.from_cells(*ni.to_cells(w, w_max, coarse), w_max, coarse)
        assert float((qc - w).abs().mean()) > 4 * float((q - w).abs().mean())


def test_unsigned_clips_negative_weights_and_everything_clips_at_w_max() -> None:
    lay = ni.cell_layout(4, 1, 4, "unsigned")
    w = torch.tensor([-1.0, -0.1, 0.5, 2.0])
    q = ni.from_cells(*ni.to_cells(w, torch.tensor(1.0), lay), torch.tensor(1.0), lay)
    assert q[0] == 0 and q[1] == 0 and q[3] == pytest.approx(1.0)
    lay = ni.cell_layout(8, 4, 2, "differential")
    q = ni.from_cells(*ni.to_cells(torch.tensor([-5.0, 5.0]), torch.tensor(1.0), lay), torch.tensor(1.0), lay)
    assert q.tolist() == pytest.approx([-1.0, 1.0])


@pytest.mark.parametrize("w_bits,cells,bpc", [(8, 8, 1), (8, 4, 2)])
def test_offset_code_is_a_realisable_integer_and_zero_is_exact(w_bits: int, cells: int, bpc: int) -> None:
    lay = ni.cell_layout(w_bits, cells, bpc, "offset")
    w = torch.tensor([-1.0, -0.25, 0.0, 0.5, 1.0])
    g_pos, g_neg = ni.to_cells(w, torch.tensor(1.0), lay)
    for g in (g_pos, g_neg):  # every cell (also the offset/reference cells) is a level of a real cell
        assert float(g.max()) <= 1.0
        assert torch.allclose(g * lay.cell_levels, torch.round(g * lay.cell_levels))
    back = ni.from_cells(g_pos, g_neg, torch.tensor(1.0), lay)
    assert float(back[2]) == 0.0  # a zero (e.g. pruned) weight stays zero
