"""The ADC conversion and digital shift-add of one row group's partial sums, in one fused pass when it pays.

:func:`convert_sum` takes the partial sums of one read of a row group as a view ``(B, P, X, S, Y)`` of the
convolution output (``P`` input planes, ``S`` weight packs; ``X``, ``Y`` the outputs, in whichever memory layout
the convolution wrote), takes each packed field out (see :mod:`imcnas.accuracy.bitlevel`, "Packing"), applies
IR drop and the ADC to it, and returns ``sum_(p, s, j) coef[p, s, j] * code * unit``: ``(B, X, Y)``.

Every ADC mapping is one formula, ``code = clamp(floor((ps * m + h) / d), 0, top)``, then codes below ``z``
read 0, with whole-number ``m``, ``h``, ``d`` where the range is whole (so level boundaries land exactly on
whole-number sums, as an integer ADC's do):

- ``uniform``, step ``r / (2^bits - 1)`` above one cell unit: round half up of ``ps / step``
  (``m = 2^bits - 1``, ``h = r / 2``, ``d = r``);
- ``uniform`` with a step of one cell unit or less: round half up to the unit (``m = 1``, ``h = 1/2``, ``d = 1``);
- ``neurosim``: ``floor(ps * L / r)`` with the first two codes read as 0 (``z = 2``, top code ``L = 2^bits``).

Eagerly this is about seven in-place passes over memory per field plus one strided add per (plane, pack).
``IMCNAS_COMPILE=1`` (opt-in) runs reads of at least ``COMPILE_MIN_ELEMENTS`` elements through one
``torch.compile`` (inductor) kernel instead: one read of the convolution output. It is off by default because the
first compile of each variant takes 8-30 s per process and new shapes recompile (dynamo's limit is 8, then it
runs eagerly); measured on ResNet-20 it saves 25-40 % of the bit-level time (docs/accuracy.md). A compile
failure (no C++ compiler) falls back to the eager path with one warning. Both paths compute the same
whole-number arithmetic (tests/accuracy/test_bitlevel.py checks the compiled one too).
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

__all__ = ["COMPILE_MIN_ELEMENTS", "adc_params", "convert_sum", "field_values"]

COMPILE_MIN_ELEMENTS = 1 << 24
_compiled: dict[str, Any] = {}


def adc_params(bits: int, rng: float, mapping: str) -> tuple[float, float, float, int, int, float]:
    """``(m, h, d, top, z, unit)`` of the ADC formula (module docstring) for a range ``rng`` in cell units;
    ``unit`` is the value of one code step. ``bits >= 16`` means no ADC (``top = -1``)."""
    levels = 1 << bits
    if bits >= 16:
        return 1.0, 0.0, 1.0, -1, 0, 1.0
    if rng <= 0:
        return 0.0, 0.0, 1.0, 0, 0, 0.0
    if mapping == "neurosim":  # floor(ps / (r / L)), as ps * L / r
        return float(levels), 0.0, rng, levels, 2, rng / levels
    step = rng / (levels - 1)
    if step <= 1.0:  # an LSB of one cell unit: round half up
        return 1.0, 0.5, 1.0, levels - 1, 0, 1.0
    return float(levels - 1), rng / 2, rng, levels - 1, 0, step  # round half up of ps / step


def field_values(v: Tensor, j: int, k: int, f: int) -> Tensor:
    """Field ``j`` of packed whole-number sums ``v`` (``k`` fields of ``f`` bits): ``floor(frac(v / 2^(f (j+1)))
    * 2^f)``, exact in float (powers of two)."""
    if k == 1:
        return v
    t = v * (2.0 ** (-f * (j + 1)))
    return torch.floor((t - torch.floor(t)) * (2.0 ** f))


def _kernel(v: Tensor, coef: Tensor, m: Tensor, h: Tensor, d: Tensor, ir: Tensor, rng: Tensor, k: int, f: int,
            top: int, z: int, ir_on: bool) -> Tensor:
    """Pure form of :func:`convert_sum` (compiled or eager): codes of every field, weighted and summed."""
    acc = torch.zeros_like(v[:, 0, :, 0])
    for j in range(k):
        ps = field_values(v, j, k, f)
        if ir_on:
            ps = ps * (1.0 - ir * torch.clamp(ps / rng, max=1.0))
        if top >= 0:
            ps = torch.clamp(torch.floor((ps * m + h) / d), 0, top)
            if z > 0:
                ps = torch.where(ps < z, torch.zeros_like(ps), ps)
        acc = acc + (ps * coef[:, None, :, j, None]).sum((1, 3))
    return acc


def _eager(v: Tensor, coef: Tensor, p: tuple, ir_drop: float, rng: float, k: int, f: int) -> Tensor:
    """In-place eager path: the same arithmetic as :func:`_kernel`, one field at a time."""
    m, h, d, top, z, _ = p
    acc = torch.zeros_like(v[:, 0, :, 0])
    cl = coef.tolist()
    buf = torch.empty_like(v) if k > 1 else None
    for j in range(k):
        if k == 1:
            ps = v
        else:
            torch.mul(v, 2.0 ** (-f * (j + 1)), out=buf)
            ps = buf.frac_().mul_(2.0 ** f).floor_()  # v >= 0: frac = x - floor(x)
        if ir_drop > 0:
            ps = ps * (1.0 - ir_drop * (ps / max(rng, 1e-12)).clamp(max=1.0))
        if top >= 0:
            ps = ps.mul_(m).add_(h).div_(d).floor_().clamp_(0, top)
            if z > 0:
                ps = ps.masked_fill_(ps < z, 0.0)
        for a in range(v.shape[1]):  # one strided pass per (plane, pack): ~10x faster than sum over dims (1, 3)
            for b in range(v.shape[3]):
                acc.add_(ps[:, a, :, b], alpha=cl[a][b][j])
    return acc


def _policy() -> str:
    return os.environ.get("IMCNAS_COMPILE", "0").strip().lower()


def _compiled_kernel() -> Callable | None:
    if "fn" not in _compiled:
        _compiled["fn"] = torch.compile(_kernel, dynamic=True)
    return _compiled["fn"]


def convert_sum(v: Tensor, coef: Tensor, k: int, f: int, bits: int, rng: float, mapping: str,
                ir_drop: float = 0.0) -> Tensor:
    """ADC conversion and shift-add of one read ``v`` (B, P, X, S, Y) of ``k``-field packs (``k = 1``:
    unpacked), ``coef`` (P, S, k) the shift-add weight of each (plane, pack, field): ``(B, X, Y)``. ``v`` may be
    overwritten. ``ir_drop`` scales each sum by ``1 - ir_drop * min(ps / rng, 1)`` before conversion."""
    p = adc_params(bits, rng, mapping)
    unit = p[5]
    if _policy() in ("1", "on", "true") and v.numel() >= COMPILE_MIN_ELEMENTS:
        if _compiled.get("failed") is None:
            m, h, d, top, z, _ = p
            t = [torch.tensor(x, dtype=v.dtype, device=v.device) for x in (m, h, d, ir_drop, max(rng, 1e-12))]
            try:
                fn = _compiled_kernel()
                return fn(v, coef.to(v.dtype), *t, k, f, top, z, ir_drop > 0) * unit
            except Exception as err:  # no compiler, unsupported backend: the eager path computes the same
                _compiled["failed"] = str(err).splitlines()[0] if str(err) else type(err).__name__
                warnings.warn(f"imcnas: torch.compile unavailable for the bit-level ADC ({_compiled['failed']}); "
                              "using the eager path", RuntimeWarning, stacklevel=2)
    return _eager(v, coef.to(v.dtype), p, ir_drop, rng, k, f) * unit
