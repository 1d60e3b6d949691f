"""Non-idealities of an IMC crossbar as tensor functions: quantisers with straight-through gradients, weight ->
conductance mapping (bit slicing, signed schemes), device noise (programming, drift, 1/f read noise, stuck
cells), global drift compensation and the ADC.

Conductances are normalised: ``g_hat = g / g_max`` in [0, 1]. The PCM model follows Nandakumar et al.
(ICECS 2019) as implemented in aihwkit's ``PCMLikeNoiseModel`` (see shared/references/noise.md); the gaussian
model uses constant relative sigmas from the hardware description.
"""
from __future__ import annotations

import math
from typing import Any
from dataclasses import dataclass

import torch
from torch import Tensor

from imcnas.hardware.layout import is_sliced
from imcnas.hardware.spec import Noise

PCM_PROG_COEFF = (0.26348, 1.9650, -1.1731)  # sigma_prog in uS at g_max = 25 uS (Nandakumar 2019)
PCM_G_REF_US = 25.0  # the conductance scale the PCM coefficients were fitted at
PCM_READ_Q = 0.0088  # 1/f read noise amplitude Q_s numerator (Nandakumar 2019)
PCM_T_READ_S = 250e-9  # read duration in the 1/f integral


# ------------------------------------------------------------------------------------------------ quantisers
def ste_round(x: Tensor) -> Tensor:
    """Round with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


def quantise(x: Tensor, bits: int, bound: Tensor | float, signed: bool) -> Tensor:
    """Uniform quantiser to ``bits`` bits over [-bound, bound] (signed) or [0, bound], clipping outside.

    Gradients pass straight through inside the range and are zero where the value is clipped.
    """
    bound_t = torch.as_tensor(bound, dtype=x.dtype, device=x.device).clamp_min(1e-12)
    levels = 2 ** (bits - 1) - 1 if signed and bits > 1 else 2**bits - 1
    lo = -bound_t if signed else torch.zeros_like(bound_t)
    step = bound_t / max(levels, 1)
    if not (torch.is_grad_enabled() and (x.requires_grad or bound_t.requires_grad)):  # inference: same arithmetic, in place, no STE
        return torch.clamp(x, lo, bound_t).div_(step).round_().mul_(step)
    clipped = torch.maximum(torch.minimum(x, bound_t), lo)
    return ste_round(clipped / step) * step


# -------------------------------------------------------------------------------------------- weight mapping
@dataclass(frozen=True)
class CellLayout:
    """How one weight is spread over cells.

    ``levels``: integer magnitude levels per weight (per side of a differential pair, or of the offset code);
    ``slices``: cells per side; ``base``: significance ratio of consecutive cells (2**bits_per_cell when the
    cells slice the weight's bits, 1 when there are too few cells to slice and each cell holds the whole
    weight in analog, HERMES-style); ``cell_levels``: programmable levels of one cell minus one.
    """

    levels: int
    slices: int
    base: int
    cell_levels: int
    signed: str  # "differential" | "offset" | "unsigned"


def cell_layout(w_bits: int, cells: int, bits_per_cell: int, signed: str) -> CellLayout:
    """The layout the cost model prices: ``cells`` cells of ``bits_per_cell`` bits per side."""
    levels = 2**w_bits - 1
    if cells > 1 and is_sliced(w_bits, cells, bits_per_cell):
        return CellLayout(levels, cells, 2**bits_per_cell, 2**bits_per_cell - 1, signed)
    return CellLayout(levels, cells, 1, levels, signed)


def to_cells(w: Tensor, w_max: Tensor, lay: CellLayout) -> tuple[Tensor, Tensor]:
    """Quantise weights and split them into normalised cell conductances.

    Returns ``(g_pos, g_neg)``, each of shape (slices, *w.shape) with values in [0, 1]. For the offset scheme
    ``g_neg`` holds the shared offset code (half scale); for unsigned weights it is zero.
    """
    r = (w / w_max.clamp_min(1e-12)).clamp(-1.0, 1.0)
    if lay.signed == "offset":  # code = round(r * half) + half, the offset column holds ``half`` (zero exact)
        half = lay.levels // 2 if lay.levels >= 2 else lay.levels / 2.0
        codes = [torch.round(r * half) + half, torch.full_like(r, float(half))]
    elif lay.signed == "unsigned":
        codes = [torch.round(r.clamp_min(0.0) * lay.levels), torch.zeros_like(r)]
    else:
        codes = [torch.round(r.clamp_min(0.0) * lay.levels), torch.round((-r).clamp_min(0.0) * lay.levels)]
    out = []
    for code in codes:
        if lay.base == 1:  # analog cells of equal significance, each holding the whole weight
            out.append((code / lay.levels).unsqueeze(0).expand(lay.slices, *code.shape).clone())
            continue
        digits, rest = [], code
        for _ in range(lay.slices):
            d = torch.remainder(rest, lay.base)
            digits.append(d / lay.cell_levels)
            rest = torch.div(rest - d, lay.base, rounding_mode="floor")
        out.append(torch.stack(digits))
    return out[0], out[1]


def from_cells(g_pos: Tensor, g_neg: Tensor, w_max: Tensor, lay: CellLayout) -> Tensor:
    """Recombine (noisy) cell conductances into effective weights: shift-add of the slices, then the signed
    scheme (difference of the pair, or subtraction of the offset code)."""
    if lay.base == 1:  # equal significance: the cells average
        weight = torch.full((lay.slices,), 1.0 / lay.slices, dtype=g_pos.dtype, device=g_pos.device)
    else:  # slice i carries base**i of the integer code; a cell's g_hat is its digit / cell_levels
        weight = torch.tensor([float(lay.base) ** i * lay.cell_levels / lay.levels for i in range(lay.slices)],
                              dtype=g_pos.dtype, device=g_pos.device)
    shape = (lay.slices,) + (1,) * (g_pos.dim() - 1)
    pos = (g_pos * weight.view(shape)).sum(0)
    neg = (g_neg * weight.view(shape)).sum(0)
    if lay.signed == "offset":
        half = lay.levels // 2 if lay.levels >= 2 else lay.levels / 2.0
        return (pos - neg) * (lay.levels / half) * w_max
    return (pos - neg) * w_max


# ----------------------------------------------------------------------------------------------- device noise
def _gen(seed: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def _randn(like: Tensor, gen: torch.Generator) -> Tensor:
    return torch.randn(like.shape, generator=gen, dtype=like.dtype, device=like.device)


class PCMNoise:
    """Nandakumar et al. (ICECS 2019) PCM statistics as in aihwkit: conductance-dependent programming noise,
    drift exponents and 1/f read noise (noise.md)."""

    def program(self, g: Tensor, noise: Noise, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Programmed conductances and drift exponents."""
        c0, c1, c2 = PCM_PROG_COEFF
        sigma = (c0 + c1 * g + c2 * g * g) / PCM_G_REF_US  # relative to g_max (noise.md)
        g_prog = (g + sigma * _randn(g, gen)).clamp_min(0.0)
        gr = g_prog.clamp_min(1e-7).log()
        mu = (-0.0155 * gr + 0.0244).clamp(0.049, 0.1)
        sd = (-0.0125 * gr - 0.0059).clamp(0.008, 0.045)
        return g_prog, (mu + sd * _randn(g, gen)).abs()

    def read(self, g_prog: Tensor, nu: Tensor, t_s: float, noise: Noise, gen: torch.Generator) -> Tensor:
        """Drift, then 1/f read noise integrated up to ``t_s + t0``."""
        g = g_prog * ((t_s + noise.t0_s) / noise.t0_s) ** (-nu)
        q_s = (PCM_READ_Q / g_prog.clamp_min(0.0).pow(0.65).clamp_min(1e-3)).clamp(max=0.2)
        t_read = t_s + noise.t0_s
        sig = q_s * math.sqrt(math.log((t_read + PCM_T_READ_S) / (2 * PCM_T_READ_S)))
        return (g + g.abs() * sig * _randn(g, gen)).clamp_min(0.0)


class GaussianNoise:
    """Constant relative programming and read sigmas, power-law drift with a gaussian spread of exponents."""

    def program(self, g: Tensor, noise: Noise, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Programmed conductances and drift exponents."""
        g_prog = (g + noise.prog_sigma * _randn(g, gen)).clamp(0.0, 1.0)
        return g_prog, (noise.drift_nu + noise.drift_nu_std * _randn(g, gen)).abs()

    def read(self, g_prog: Tensor, nu: Tensor, t_s: float, noise: Noise, gen: torch.Generator) -> Tensor:
        """Drift, then constant relative read noise."""
        g = g_prog * ((t_s + noise.t0_s) / noise.t0_s) ** (-nu)
        return (g + noise.read_sigma * _randn(g, gen)).clamp(0.0, 1.0)


class NoNoise:
    """Ideal cells: programmed exactly, no drift, no read noise."""

    def program(self, g: Tensor, noise: Noise, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """The targets themselves."""
        return g.clone(), torch.zeros_like(g)

    def read(self, g_prog: Tensor, nu: Tensor, t_s: float, noise: Noise, gen: torch.Generator) -> Tensor:
        """The programmed conductances."""
        return g_prog.clone()


def _model(noise: Noise) -> Any:
    from imcnas import plugins

    model = plugins.get("noise", noise.model)
    return model() if isinstance(model, type) else model


def program(g: Tensor, noise: Noise, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Programme target conductances: the chip's noise model (registry kind ``noise``), then stuck cells.
    Returns ``(g_prog, nu)`` where ``nu`` is each device's drift exponent (drawn once per programming, as in
    aihwkit)."""
    g_prog, nu = _model(noise).program(g, noise, gen)
    if noise.stuck_on > 0 or noise.stuck_off > 0:
        u = torch.rand(g.shape, generator=gen, dtype=g.dtype, device=g.device)
        g_prog = torch.where(u < noise.stuck_off, torch.zeros_like(g_prog), g_prog)
        stuck_on = (u >= noise.stuck_off) & (u < noise.stuck_off + noise.stuck_on)
        g_prog = torch.where(stuck_on, torch.ones_like(g_prog), g_prog)
        nu = torch.where(u < noise.stuck_off + noise.stuck_on, torch.zeros_like(nu), nu)
    return g_prog, nu


def drift_and_read(g_prog: Tensor, nu: Tensor, t_s: float, noise: Noise, gen: torch.Generator) -> Tensor:
    """Conductances read ``t_s`` seconds after programming, by the chip's noise model: power-law drift, then
    read noise (1/f for PCM, constant relative for the gaussian model). The first read happens at ``t0``: the
    1/f noise integrates up to ``t_s + t0`` as in aihwkit's ``PCMLikeNoiseModel``."""
    return _model(noise).read(g_prog, nu, max(float(t_s), 0.0), noise, gen)


def drift_compensation(w_ref: Tensor, w_now: Tensor) -> Tensor:
    """Global drift compensation: one scalar per layer, the ratio of the mean absolute outputs for one-hot
    reference inputs right after programming and now, i.e. mean|W_ref| / mean|W_now| (aihwkit 1.1.0's
    ``GlobalDriftCompensation`` reads out with ``eye(in_size)``)."""
    return (w_ref.abs().mean() / w_now.abs().mean().clamp_min(1e-12)).detach()


# ---------------------------------------------------------------------------------------------------- ADC
def adc(partial: Tensor, bits: int, bound: Tensor | float) -> Tensor:
    """Digitise column partial sums with a ``bits``-bit ADC over [-bound, bound] (signed output of a
    differential or offset-corrected column pair)."""
    return quantise(partial, bits, bound, signed=True)


def ir_drop(partial: Tensor, bound: Tensor | float, strength: float) -> Tensor:
    """First-order IR drop: a column's partial sum is attenuated in proportion to its current relative to
    full scale, ``y * (1 - strength * |y| / bound)``."""
    if strength <= 0:
        return partial
    b = torch.as_tensor(bound, dtype=partial.dtype, device=partial.device).clamp_min(1e-12)
    return partial * (1.0 - strength * (partial.abs() / b).clamp(max=1.0))


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A seeded torch generator on ``device`` (noise draws are deterministic given the seed)."""
    return _gen(seed, torch.device(device))
