"""The bit-level datapath: every (input-bit plane x weight slice x row group) partial sum through the ADC.

A bit-serial (or DAC) chip with sliced weights never forms ``x . w`` in analog. It drives one input *plane* at a
time (one bit for bit-serial inputs, ``dac_bits`` bits for a DAC), every weight *slice* sits in its own column
(one cell of ``bits_per_cell`` bits), and each read activates one *row group* (``crossbar.parallel_rows`` rows;
a convolution keeps whole input channels together). Each column's partial sum of one read is converted by the
ADC on its own, clipping and rounding on its own; the digital periphery then shift-adds the codes:

    y = s_in * k * w_max / levels * sum_{p, s, g} 2^(p * plane_bits) * c_s * [ADC(P_pos[p,s,g]) - ADC(P_neg[p,s,g])]

with ``P[p,s,g] = sum_{i in group g} plane_p(x_i) * digit_s(w_i)`` in cell units (a cell at its top level = its
``cell_levels``), ``c_s`` the slice's significance (``base ** s``, or ``1 / slices`` for cells that each hold
the whole weight in analog), ``P_neg`` the differential pair's negative column or the offset scheme's
reference (dummy) column, converted the same way (as NeuroSim V1.4's ``QConv2d`` does with its dummy column),
and ``s_in``, ``k``, ``w_max``, ``levels`` the input step and the weight code's scale (``nonideal.from_cells``).
Signed inputs are driven in two phases (positive and negative magnitudes, ``in_bits - 1`` bits each).

The ADC (``adc.levels`` and ``adc.range`` of the chip description):

- ``uniform``: 2^bits levels from 0 with step ``max(range / (2^bits - 1), 1)``, rounding half up to the
  nearest level and clipping at the top. The step never goes below one cell unit: a finer LSB resolves nothing more of
  an ideal integer partial sum, and with ``2^bits - 1 >= full scale`` the conversion is exact (lossless).
- ``neurosim``: NeuroSim V1.4's multilevel sense amplifier (``MultilevelSenseAmp::Initialize``, parallel read:
  reference conductances ``G_start (1 - i / L)``, i = 0 .. L-2, L = 2^bits): thresholds at ``k * range / L``
  for k = 2 .. L, each code read back at its lower edge, so the levels are 0, 2 Delta, 3 Delta, ..., L Delta
  (Delta = range / L): a floor quantiser whose first bin is twice as wide.
- ``range``: ``full_scale`` = the read's full scale, ``parallel_rows x cell_levels x (2^plane_bits - 1)``
  cell units (fixed references, as NeuroSim's); ``calibrated`` = a per-layer range set from data (clip
  quantile of the layer's partial sums, like the one-read model's ADC range).

All planes and slices are computed in one convolution / matmul per row group (planes stacked into the batch,
slices and the reference column into the output channels) and quantised in one elementwise pass.

Packing: when the cells hold whole levels (unprogrammed, or noiseless digital cells) every partial sum is a
whole number below ``2**f`` (``f`` bits: the largest read of a row group), so ``k`` slices share one weight
``sum_j digit_(i k + j) 2**(f j)`` and one convolution gives ``k`` partial sums at once, exactly, as long as
``f k`` fits the float mantissa (24 bits for float32); the ADC then reads each field, ``floor(frac(v / 2**(f (j +
1))) * 2**f)``, on its own (:mod:`imcnas.accuracy.adcsum`). The arithmetic is the same whole numbers; only fewer convolution
outputs are written (2-4x fewer for 32-256 rows). Programmed noisy cells are read unpacked.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from imcnas.accuracy import adcsum

__all__ = ["forward", "full_scale", "input_planes", "pack_plan", "pack_slices", "plane_scheme", "significance",
           "stack_slices"]

MANTISSA_BITS = {torch.float32: 24, torch.float64: 53}


def plane_scheme(scheme: str, in_bits: int, dac_bits: int, signed: bool) -> tuple[int, int]:
    """``(plane_bits, planes)`` of an input of ``in_bits`` (magnitude bits ``in_bits - 1`` when signed):
    bit-serial 1-bit planes, DAC planes of ``dac_bits``, or one plane (pulse width: the whole value at once)."""
    mag = max(in_bits - 1, 1) if signed else in_bits
    if scheme == "bit_serial":
        return 1, mag
    if scheme == "dac":
        return dac_bits, -(-mag // dac_bits)
    return mag, 1


def input_planes(codes: Tensor, plane_bits: int, planes: int, dim: int = 0) -> Tensor:
    """Digits of non-negative integer ``codes`` (float tensor of whole numbers) in base ``2**plane_bits``,
    least significant first, along a new dimension ``dim`` of size ``planes``."""
    top = plane_bits * planes
    c = codes.to(torch.uint8 if top <= 8 else torch.int32 if top <= 31 else torch.int64).unsqueeze(dim)
    shifts = torch.arange(planes, device=codes.device, dtype=c.dtype) * plane_bits
    shape = [1] * c.dim()
    shape[dim] = planes
    mask = (1 << plane_bits) - 1
    return ((c >> shifts.view(shape)) & mask).to(codes.dtype)


def full_scale(rows: int, cell_levels: int, plane_bits: int) -> float:
    """Largest partial sum of one read in cell units: all ``rows`` rows at the top input digit and cell level."""
    return float(rows * cell_levels * ((1 << plane_bits) - 1))


def pack_plan(max_sum: int, slices: int, dtype: torch.dtype) -> tuple[int, int]:
    """``(k, f)``: slices packed per weight and bits per field for whole-number partial sums up to ``max_sum``
    in ``dtype`` (``k = 1``: no packing)."""
    f = max(int(max_sum), 1).bit_length()
    k = min(slices, MANTISSA_BITS.get(dtype, 0) // f)
    return (k, f) if k >= 2 else (1, 0)


def pack_slices(g: Tensor, k: int, f: int) -> Tensor:
    """Whole-number cell digits ``g`` (S, O, ...) packed ``k`` slices per weight: ``(ceil(S / k), O, ...)`` with
    slice ``i k + j`` in bits ``[f j, f (j + 1))`` of pack ``i`` (missing slices are zero)."""
    S = g.shape[0]
    packs = -(-S // k)
    if packs * k > S:
        g = torch.cat([g, g.new_zeros(packs * k - S, *g.shape[1:])])
    scale = torch.tensor([float(1 << (f * j)) for j in range(k)], dtype=g.dtype, device=g.device)
    return (g.reshape(packs, k, *g.shape[1:]) * scale.view(1, k, *([1] * (g.dim() - 1)))).sum(1)


def stack_slices(w: Tensor, groups: int) -> Tensor:
    """Slices ``(S, O, ...)`` of a (grouped) convolution or linear weight as one weight of ``S * O`` outputs whose
    output channels stay in their groups: order (group, slice, output within group)."""
    S, O = w.shape[0], w.shape[1]
    if groups == 1:
        return w.reshape(S * O, *w.shape[2:])
    per = O // groups
    return w.reshape(S, groups, per, *w.shape[2:]).transpose(0, 1).reshape(S * O, *w.shape[2:])


def significance(planes: int, plane_bits: int, slices: int, base: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Shift-add weights of the planes (``2**(p * plane_bits)``) and slices (``base**s``, or ``1 / slices``
    for equal-significance analog cells)."""
    p = torch.tensor([float(1 << (i * plane_bits)) for i in range(planes)], dtype=like.dtype, device=like.device)
    if base == 1:
        s = torch.full((slices,), 1.0 / slices, dtype=like.dtype, device=like.device)
    else:
        s = torch.tensor([float(base) ** i for i in range(slices)], dtype=like.dtype, device=like.device)
    return p, s


def describe(cfg: Any) -> str:
    """One line for ``extra_repr``: the bit-level scheme of a layer config."""
    return f"bit_level({cfg.in_scheme}, adc {cfg.adc_levels}/{cfg.adc_range})"


def _cells(layer: Any) -> tuple[Tensor, Tensor]:
    """Cell conductances ``(g_pos, g_neg)`` (slices, *w.shape) the layer reads now: programmed (drifted,
    read-noisy) cells after ``program``/``set_time``, else the ideal levels of its current weights."""
    from imcnas.accuracy import nonideal as ni

    if layer._g_now is not None:
        return layer._g_now
    return ni.to_cells(layer.weight.detach(), layer.w_max(), layer.cfg.layout)


def _whole(*gs: Tensor) -> bool:
    """Whether cell values (in cell units) are whole numbers (to float rounding): ideal or noiseless cells."""
    return all(bool(((g - g.round()).abs() <= 1e-5).all()) for g in gs)


def _max_rows(layer: Any) -> int:
    """Rows of the largest row group (a convolution keeps whole input channels of ``kernel`` rows each)."""
    per = int(layer.weight[0, 0].numel()) if layer.is_conv else 1
    return max(b - a for a, b in layer.chunks()) * per


class _NoTF32:
    """Exact float32 products on CUDA while the partial sums are formed (TF32 keeps 10 mantissa bits)."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __enter__(self) -> None:
        if self.on:
            self.saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False

    def __exit__(self, *exc: Any) -> None:
        if self.on:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved


def _reads(layer: Any, xs: Tensor, g: Tensor, P: int, out_pad: Any) -> tuple[list[Tensor], Callable[[Tensor], Tensor]]:
    """Partial sums in cell units of every row group for cell digits ``g`` (slices first), each as a view
    ``(B, P, X, S, Y)`` of the convolution's output (S: slices or packs; the ADC sums over P and S), and the map
    from the summed ``(B, X, Y)`` to the layer's output shape."""
    S, O = g.shape[0], g.shape[1]
    groups = int(getattr(layer.base, "groups", 1)) if layer.is_conv else 1
    w = stack_slices(g, groups)
    if xs.dim() == 4 and xs.is_contiguous(memory_format=torch.channels_last):
        w = w.contiguous(memory_format=torch.channels_last)
    out: list[Tensor] = []
    finish: Callable[[Tensor], Tensor] = lambda t: t  # noqa: E731
    for a, b in layer.chunks():
        y = layer._partial(xs, w, a, b, out_pad)
        if not layer.is_conv:  # (*B, P, S*O)
            lead = y.shape[:-2]
            out.append(y.reshape(-1, P, 1, S, O))
            finish = lambda t, lead=lead: t.reshape(*lead, O)  # noqa: E731
            continue
        B, sp = y.shape[0] // P, tuple(y.shape[2:])
        n = int(torch.Size(sp).numel())
        if y.dim() == 4 and not y.is_contiguous() and y.is_contiguous(memory_format=torch.channels_last):
            # (B*P, H, W, C) in memory, channels ordered (group, slice, output in group)
            out.append(y.permute(0, 2, 3, 1).reshape(B, P, n * groups, S, O // groups))
            finish = lambda t, B=B, sp=sp: t.view(B, *sp, O).permute(0, 3, 1, 2)  # noqa: E731
        else:
            out.append(y.reshape(B, P, groups, S, (O // groups) * n))
            finish = lambda t, B=B, sp=sp: t.view(B, O, *sp)  # noqa: E731
    return out, finish


def forward(layer: Any, x: Tensor, out_pad: Any = 0) -> Tensor:
    """The layer's output with every plane x slice x row-group partial sum converted by the ADC (see the module
    docstring). ``x`` is the layer input after padding (not yet quantised); returns the output before the
    drift-compensation scale and the bias. No gradient."""
    cfg, lay = layer.cfg, layer.cfg.layout
    signed = bool(layer.in_signed)
    in_levels = 2 ** (cfg.in_bits - 1) - 1 if signed and cfg.in_bits > 1 else 2 ** cfg.in_bits - 1
    bound = layer.in_bound.clamp_min(1e-12)
    lo = -bound if signed else torch.zeros_like(bound)
    codes = torch.round(torch.maximum(torch.minimum(x, bound), lo) / (bound / in_levels))
    plane_bits, P = plane_scheme(cfg.in_scheme, cfg.in_bits, cfg.dac_bits, signed)
    planes = input_planes(codes.clamp_min(0), plane_bits, P, dim=1 if layer.is_conv else -2)
    sign = torch.ones(P, dtype=x.dtype, device=x.device)
    if signed:  # two phases: positive and negative magnitudes
        neg_planes = input_planes((-codes).clamp_min(0), plane_bits, P, dim=1 if layer.is_conv else -2)
        planes = torch.cat([planes, neg_planes], 1 if layer.is_conv else -2)
        sign = torch.cat([sign, -sign])
    n_planes = 2 * P if signed else P
    xs = planes  # linear: (*B, planes, in)
    if layer.is_conv:  # planes next to their sample in the batch: (B * planes, C, ...), channels last in 2-D
        xs = planes.reshape(x.shape[0] * n_planes, *x.shape[1:])
        if xs.dim() == 4:
            xs = xs.contiguous(memory_format=torch.channels_last)
    cell = float(lay.cell_levels)
    g_pos, g_neg = _cells(layer)
    g_pos, g_neg = g_pos * cell, g_neg * cell
    k, f = 1, 0
    if not layer.observe and _whole(g_pos, g_neg):  # whole-number sums: pack k slices per convolution output
        k, f = pack_plan(int(full_scale(_max_rows(layer), lay.cell_levels, plane_bits)), lay.slices, x.dtype)
        if k > 1:
            g_pos, g_neg = pack_slices(g_pos.round(), k, f), pack_slices(g_neg.round(), k, f)
    neg: list[Tensor] = []
    with _NoTF32(x.is_cuda):
        pos, shape = _reads(layer, xs, g_pos, n_planes, out_pad)
        ref_shape = shape
        if lay.signed == "differential":
            neg = _reads(layer, xs, g_neg, n_planes, out_pad)[0]
        elif lay.signed == "offset":  # the reference (dummy) column: the same half-scale code under every output
            groups = int(getattr(layer.base, "groups", 1)) if layer.is_conv else 1
            neg, ref_shape = _reads(layer, xs, g_neg[:, :1] if groups == 1 else g_neg, n_planes, out_pad)
    del xs, planes
    fs = full_scale(cfg.rows_per_read, lay.cell_levels, plane_bits)
    if layer.observe:
        with torch.no_grad():
            for r in pos + neg:
                layer._track(layer.adc_bound_bits, r)
    rng = fs if cfg.adc_range == "full_scale" else float(layer.adc_bound_bits)
    coef_p, coef_s = significance(P, plane_bits, lay.slices, lay.base, x)
    coef = (torch.cat([coef_p] * (n_planes // P)) * sign)[:, None] * coef_s[None, :]  # (planes, S)
    packs = -(-lay.slices // k)
    coef = torch.cat([coef, coef.new_zeros(n_planes, packs * k - lay.slices)], 1).view(n_planes, packs, k)

    def total(reads: list[Tensor]) -> Tensor:
        acc = None
        for v in reads:  # (B, X, Y): every field of every plane and pack converted, then shift-added
            part = adcsum.convert_sum(v, coef, k, f, cfg.adc_bits, rng, cfg.adc_levels, cfg.ir_drop)
            acc = part if acc is None else acc + part
        return acc

    y = shape(total(pos))
    if neg:  # the reference column's output broadcasts over the output channels
        y = y - ref_shape(total(neg))
    k = (lay.levels / (lay.levels // 2 if lay.levels >= 2 else lay.levels / 2.0)) if lay.signed == "offset" else 1.0
    return y * (bound / in_levels) * (k * layer.w_max() / lay.levels)
