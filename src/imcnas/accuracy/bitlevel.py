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
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["adc_codes", "adc_convert", "forward", "full_scale", "input_planes", "plane_scheme", "significance",
           "stack_slices"]


def plane_scheme(scheme: str, in_bits: int, dac_bits: int, signed: bool) -> tuple[int, int]:
    """``(plane_bits, planes)`` of an input of ``in_bits`` (magnitude bits ``in_bits - 1`` when signed):
    bit-serial 1-bit planes, DAC planes of ``dac_bits``, or one plane (pulse width: the whole value at once)."""
    mag = max(in_bits - 1, 1) if signed else in_bits
    if scheme == "bit_serial":
        return 1, mag
    if scheme == "dac":
        return dac_bits, -(-mag // dac_bits)
    return mag, 1


def input_planes(codes: Tensor, plane_bits: int, planes: int) -> Tensor:
    """Digits of non-negative integer ``codes`` (float tensor of whole numbers) in base ``2**plane_bits``,
    least significant first: shape ``(planes, *codes.shape)``."""
    c = codes.to(torch.int64)
    shifts = torch.arange(planes, device=codes.device) * plane_bits
    view = shifts.view(-1, *([1] * c.dim()))
    mask = (1 << plane_bits) - 1
    return ((c.unsqueeze(0) >> view) & mask).to(codes.dtype)


def full_scale(rows: int, cell_levels: int, plane_bits: int) -> float:
    """Largest partial sum of one read in cell units: all ``rows`` rows at the top input digit and cell level."""
    return float(rows * cell_levels * ((1 << plane_bits) - 1))


def adc_codes(ps: Tensor, bits: int, rng: Tensor | float, mapping: str) -> tuple[Tensor, float]:
    """ADC codes of non-negative partial sums ``ps`` (cell units) over ``[0, rng]``, computed in place, and the
    value of one code step: ``codes * unit`` is what the digital periphery adds (no gradient)."""
    levels = 1 << bits
    r = float(rng)
    if r <= 0:
        return ps.zero_(), 0.0
    if mapping == "neurosim":  # floor(ps / (r / L)), as ps * L / r: exact for whole-number sums and ranges
        code = ps.mul_(levels).div_(r).floor_().clamp_(0, levels)
        return code.masked_fill_(code < 2, 0.0), r / levels
    step = r / (levels - 1)
    if step <= 1.0:  # an LSB of one cell unit: round half up
        return ps.add_(0.5).floor_().clamp_(0, levels - 1), 1.0
    # round half up of ps / step, as (ps (L - 1) + r / 2) / r: level boundaries land exactly on whole-number sums
    return ps.mul_(levels - 1).add_(r / 2).div_(r).floor_().clamp_(0, levels - 1), step


def adc_convert(ps: Tensor, bits: int, rng: Tensor | float, mapping: str) -> Tensor:
    """Quantise non-negative partial sums ``ps`` (cell units) as the ADC does over ``[0, rng]`` (see the module
    docstring for the mappings); in place, no gradient."""
    codes, unit = adc_codes(ps, bits, rng, mapping)
    return codes.mul_(unit)


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


def _reads(layer: Any, xs: Tensor, g: Tensor, P: int, out_pad: Any) -> tuple[list[Tensor], tuple[int, ...]]:
    """Partial sums in cell units of every row group for cell digits ``g`` (slices first), each as
    ``(B, P * S, N)`` (N: the outputs of one sample), and the shape of the layer's output."""
    S, O = g.shape[0], g.shape[1]
    groups = int(getattr(layer.base, "groups", 1)) if layer.is_conv else 1
    w = stack_slices(g, groups)
    out, shape = [], ()
    for a, b in layer.chunks():
        y = layer._partial(xs, w, a, b, out_pad)
        if not layer.is_conv:  # (*B, P, S*O)
            shape = (*y.shape[:-2], O)
            out.append(y.reshape(-1, P * S, O))
            continue
        B = y.shape[0] // P
        shape = (B, O, *y.shape[2:])
        if groups == 1:  # (B*P, S*O, *spatial): a view
            out.append(y.view(B, P * S, -1))
        else:  # channels ordered (group, slice, output in group)
            y = y.view(B, P, groups, S, O // groups, -1).permute(0, 1, 3, 2, 4, 5)
            out.append(y.reshape(B, P * S, -1))
    return out, shape


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
    planes = input_planes(codes.clamp_min(0), plane_bits, P)
    sign = torch.ones(P, dtype=x.dtype, device=x.device)
    if signed:  # two phases: positive and negative magnitudes
        planes = torch.cat([planes, input_planes((-codes).clamp_min(0), plane_bits, P)])
        sign = torch.cat([sign, -sign])
    n_planes = planes.shape[0]
    if layer.is_conv:  # planes next to their sample in the batch: (B * planes, C, ...)
        xs = planes.movedim(0, 1).reshape(x.shape[0] * n_planes, *x.shape[1:])
    else:  # (*B, planes, in)
        xs = planes.movedim(0, -2)
    cell = float(lay.cell_levels)
    g_pos, g_neg = _cells(layer)
    pos, shape = _reads(layer, xs, g_pos * cell, n_planes, out_pad)
    neg: list[Tensor] = []
    ref_shape = shape
    if lay.signed == "differential":
        neg = _reads(layer, xs, g_neg * cell, n_planes, out_pad)[0]
    elif lay.signed == "offset":  # the reference (dummy) column: the same half-scale code under every output
        groups = int(getattr(layer.base, "groups", 1)) if layer.is_conv else 1
        neg, ref_shape = _reads(layer, xs, (g_neg[:, :1] if groups == 1 else g_neg) * cell, n_planes, out_pad)
    fs = full_scale(cfg.rows_per_read, lay.cell_levels, plane_bits)
    if layer.observe:
        with torch.no_grad():
            for r in pos + neg:
                layer._track(layer.adc_bound_bits, r)
    rng = fs if cfg.adc_range == "full_scale" else float(layer.adc_bound_bits)
    coef_p, coef_s = significance(P, plane_bits, lay.slices, lay.base, x)
    coef = (torch.cat([coef_p] * (n_planes // P)) * sign)[:, None] * coef_s[None, :]  # (planes, S)

    def total(reads: list[Tensor]) -> Tensor:
        acc = None
        for r in reads:
            if cfg.ir_drop > 0:
                r = r * (1.0 - cfg.ir_drop * (r / max(rng, 1e-12)).clamp(max=1.0))
            unit = 1.0
            if cfg.adc_bits < 16:
                r, unit = adc_codes(r, cfg.adc_bits, rng, cfg.adc_levels)
            part = torch.matmul((coef * unit).reshape(1, -1), r)  # (B, 1, N): planes and slices shift-added
            acc = part if acc is None else acc + part
        return acc

    y = total(pos).reshape(shape)
    if neg:  # the reference column's output broadcasts over the output channels
        y = y - total(neg).reshape(ref_shape)
    k = (lay.levels / (lay.levels // 2 if lay.levels >= 2 else lay.levels / 2.0)) if lay.signed == "offset" else 1.0
    return y * (bound / in_levels) * (k * layer.w_max() / lay.levels)
