"""Simulated IMC layers and ``convert``: the layers that run on crossbars replaced by layers that compute the way
the chip described by the SAME :class:`imcnas.hardware.Chip` computes.

Which layers run on crossbars is decided by :func:`imcnas.workload.analog_layers`, the function the cost model's
tracer calls too: Linear, Conv1d/2d/3d and ConvTranspose1d/2d/3d (any padding mode) become :class:`IMCLayer`;
``nn.MultiheadAttention`` and the recurrent modules become the composites of :mod:`imcnas.accuracy.composite`,
whose weight matmuls (q/k/v/out projections; W_ih, W_hh, W_hr) are IMCLayers.

A simulated layer quantises its inputs (DAC or bit-serial precision), maps its weights onto conductances
(weight bits, cells per weight, bits per cell, signed scheme), splits the matmul along the rows the way the chip
splits it (``crossbar.parallel_rows`` rows per analog read; convolutions keep whole input channels together),
digitises every partial sum with the ADC (resolution ``adc.bits``, range calibrated per layer), adds the
partial sums digitally and applies the bias. After :func:`program` the weights carry programming noise and
stuck cells; :func:`set_time` applies drift, read noise and global drift compensation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imcnas import plugins
from imcnas.accuracy import bitlevel
from imcnas.accuracy import nonideal as ni
from imcnas.errors import ConfigError
from imcnas.hardware.layout import cells_per_weight, check_layout
from imcnas.hardware.spec import Chip, Noise

FULL_PRECISION_BITS = 16  # bits at or above which a quantiser is bypassed
SAMPLE_LIMIT = 65536  # elements sampled to estimate a range quantile


@dataclass(frozen=True)
class LayerConfig:
    """Everything one simulated layer needs, resolved from the chip and per-layer overrides."""

    w_bits: int
    in_bits: int
    adc_bits: int
    rows_per_read: int
    layout: ni.CellLayout
    noise: Noise
    ir_drop: float = 0.0
    clip_quantile: float = 0.999
    bit_level: bool = False  # every plane x slice x row-group partial sum through the ADC (accuracy.bitlevel)
    in_scheme: str = "bit_serial"
    dac_bits: int = 1
    adc_levels: str = "uniform"
    adc_range: str = "calibrated"


DATAPATHS = ("auto", "bit_level", "one_read")


def layer_config(chip: Chip, overrides: dict[str, int] | None = None, clip_quantile: float = 0.999,
                 datapath: str = "auto") -> LayerConfig:
    """Resolve a layer's configuration from the chip; ``overrides`` may set ``weights``, ``inputs``, ``adc``
    bits for this layer (per-layer quantisation). ``datapath`` "auto" simulates the bit-level datapath
    (:mod:`imcnas.accuracy.bitlevel`) when the chip reads an input in several planes (bit-serial or DAC
    pulses) or slices its weights over cells of different significance, else one read per row group;
    "bit_level" / "one_read" force either (to compare them)."""
    if datapath not in DATAPATHS:
        raise ConfigError(f"datapath must be one of {', '.join(DATAPATHS)}, got {datapath!r}")
    o = dict(overrides or {})
    unknown = set(o) - {"weights", "inputs", "adc"}
    if unknown:
        raise ConfigError(f"layer bits: unknown key '{sorted(unknown)[0]}'; known: adc, inputs, weights")
    for key, val in o.items():
        if isinstance(val, bool) or not isinstance(val, int) or not 1 <= val <= FULL_PRECISION_BITS:
            raise ConfigError(f"layer bits: '{key}' must be an integer from 1 to {FULL_PRECISION_BITS}, got {val!r}")
    w_bits = int(o.get("weights", chip.weights.bits))
    cells = cells_per_weight(w_bits, chip.device.bits_per_cell, chip.weights.cells_per_weight)
    check_layout(w_bits, cells, chip.device.bits_per_cell, chip.device.type, where="layer bits")
    lay = ni.cell_layout(w_bits, cells, chip.device.bits_per_cell, chip.weights.signed)
    in_bits = int(o.get("inputs", chip.inputs.bits))
    planes = bitlevel.plane_scheme(chip.inputs.scheme, in_bits, chip.inputs.dac_bits, False)[1]
    serial_or_sliced = planes > 1 or (lay.slices > 1 and lay.base > 1)
    bit_level = datapath == "bit_level" or (datapath == "auto" and serial_or_sliced)
    exact = bool(getattr(plugins.get("converter", chip.adc.law), "exact", False))  # digital adder tree: no ADC
    return LayerConfig(w_bits=w_bits, in_bits=in_bits,
                       adc_bits=FULL_PRECISION_BITS if exact else int(o.get("adc", chip.adc.bits)), rows_per_read=chip.crossbar.active_rows,
                       layout=lay, noise=chip.device.noise, ir_drop=chip.crossbar.ir_drop,
                       clip_quantile=clip_quantile, bit_level=bit_level, in_scheme=chip.inputs.scheme,
                       dac_bits=chip.inputs.dac_bits, adc_levels=chip.adc.levels, adc_range=chip.adc.range)


def _quantile(x: Tensor, q: float) -> Tensor:
    flat = x.detach().abs().flatten()
    if flat.numel() > SAMPLE_LIMIT:
        dtype = torch.float32 if flat.numel() <= 2**24 else torch.float64  # float32 indices stop being exact
        idx = torch.linspace(0, flat.numel() - 1, SAMPLE_LIMIT, device=flat.device, dtype=dtype).long()
        flat = flat[idx]
    return _exact_quantile(flat.float(), q).to(x.dtype)


def _exact_quantile(flat: Tensor, q: float) -> Tensor:
    """``torch.quantile(flat, q)`` (linear interpolation) bit for bit, by two selections instead of a sort."""
    if flat.numel() == 0 or bool(torch.isnan(flat).any()):
        return torch.quantile(flat, q)
    rank = torch.tensor(q, dtype=flat.dtype) * (flat.numel() - 1)  # torch computes the rank in the input dtype
    lo, hi = int(rank.to(torch.long)), int(torch.ceil(rank).to(torch.long))
    below = flat.kthvalue(lo + 1).values
    above = below if hi == lo else flat.kthvalue(hi + 1).values
    return torch.lerp(below, above, rank - lo)


def _layer_mode(base: nn.Module) -> str:
    """How the layer computes: "linear" (weight out x in), "linear_t" (HF Conv1D, weight in x out), "conv",
    "conv_t" (transposed convolution, weight cin x cout/g x k)."""
    if isinstance(base, nn.modules.conv._ConvNd):
        return "conv_t" if base.transposed else "conv"
    return "linear_t" if type(base).__name__ == "Conv1D" else "linear"


class IMCLayer(nn.Module):
    """A Linear / convolution (1-3-D, transposed) computed as on the crossbar chip. ``base`` keeps the trainable
    weight and bias (or is a view on parameters owned by an attention or recurrent module)."""

    imc_simulated = True  # imcnas.workload.analog_kind: already converted, not analog again

    def __init__(self, base: nn.Module, cfg: LayerConfig) -> None:
        super().__init__()
        self.base, self.cfg = base, cfg
        self.mode = _layer_mode(base)
        dev = base.weight.device
        self.register_buffer("in_bound", torch.zeros((), device=dev))
        self.register_buffer("adc_bound", torch.zeros((), device=dev))
        self.register_buffer("in_signed", torch.zeros((), dtype=torch.bool, device=dev))
        self.register_buffer("alpha", torch.ones((), device=dev))
        self.register_buffer("adc_bound_bits", torch.zeros((), device=dev))  # bit-level ADC range, cell units
        self.register_buffer("bit_sigma", torch.zeros((), device=dev))  # surrogate noise, relative to adc_bound
        self.observe = False  # update the ranges from the data (calibration and training)
        self.momentum = 1.0  # 1: take the newest estimate (calibration keeps a running max instead)
        self.train_noise = (0.0, 0.0)  # (weight sigma relative to max |w|, output sigma relative to ADC range)
        self._cells: tuple[Tensor, Tensor, Tensor, Tensor] | None = None  # g_pos, g_neg, nu_pos, nu_neg
        self._w_eff: Tensor | None = None
        self._g_now: tuple[Tensor, Tensor] | None = None  # cells as read now (bit-level datapath)

    def __getattr__(self, name: str) -> Any:
        """Attributes the simulated layer lacks (``in_features``, ``out_channels``, ``bias``, ...) come from
        ``base``, so code that reads them off the layer keeps working after conversion."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            base = self.__dict__.get("_modules", {}).get("base")
            if base is None or name.startswith("_"):
                raise
            return getattr(base, name)

    # ------------------------------------------------------------------------------------------ geometry
    @property
    def weight(self) -> Tensor:
        """The layer's weight (out x in for a Linear); for a pruned module (torch.nn.utils.prune) the masked
        ``weight_orig``, since the module's own forward pre-hook that refreshes ``weight`` never runs inside
        this layer."""
        base = self.base
        if "weight_orig" in base._parameters and hasattr(base, "weight_mask"):
            w = base.weight_orig * base.weight_mask
        else:
            w = base.weight
        return w.t() if self.mode == "linear_t" else w

    @property
    def is_conv(self) -> bool:
        """True for convolutions (transposed too)."""
        return self.mode in ("conv", "conv_t")

    @property
    def fan_in(self) -> int:
        """Rows of one group's unrolled weight matrix (input channels of a group for a transposed conv)."""
        w = self.weight
        if self.mode == "conv_t":
            return int(w.shape[0] // self.base.groups)
        return int(w[0].numel())

    def chunks(self) -> list[tuple[int, int]]:
        """Input-channel (conv, group-local) or input-feature (linear) ranges read by one analog step each."""
        w = self.weight
        per = int(w[0, 0].numel()) if self.mode == "conv" else 1  # rows per input channel (kernel size)
        width = self.fan_in if self.mode == "conv_t" else w.shape[1]
        step = max(1, self.cfg.rows_per_read // per)
        return [(a, min(a + step, width)) for a in range(0, width, step)]

    # ------------------------------------------------------------------------------------------- weights
    def w_max(self) -> Tensor:
        """The weight mapped to the full conductance range (max |w| of the layer)."""
        return self.weight.detach().abs().max().clamp_min(1e-12)

    def ideal_weight(self) -> Tensor:
        """Weights quantised onto the cell levels without noise (straight-through gradient)."""
        w, w_max = self.weight, self.w_max()
        with torch.no_grad():
            q = ni.from_cells(*ni.to_cells(w, w_max, self.cfg.layout), w_max, self.cfg.layout)
        return w + (q - w).detach()

    def effective_weight(self) -> Tensor:
        """The weight the crossbar holds now: noisy after programming, ideal before, noisy during training."""
        if self._w_eff is not None and not self.training:
            return self._w_eff
        w = self.ideal_weight()
        sigma = self.train_noise[0]
        if self.training and sigma > 0:
            w = w + sigma * self.w_max() * torch.randn_like(w)
        return w

    def program(self, gen: torch.Generator) -> None:
        """Programme the current weights into (noisy) cells; the layer then computes with them."""
        w_max = self.w_max()
        g_pos, g_neg = ni.to_cells(self.weight.detach(), w_max, self.cfg.layout)
        pos, nu_pos = ni.program(g_pos, self.cfg.noise, gen)
        if self.cfg.layout.signed == "differential":
            neg, nu_neg = ni.program(g_neg, self.cfg.noise, gen)
        else:  # the offset column / zero column is a digital or reference constant
            neg, nu_neg = g_neg, torch.zeros_like(g_neg)
        self._cells = (pos, neg, nu_pos, nu_neg)
        self._g_now = (pos, neg)
        self._w_eff = ni.from_cells(pos, neg, w_max, self.cfg.layout)
        self.alpha.fill_(1.0)

    def set_time(self, t_s: float, gen: torch.Generator) -> None:
        """Read the programmed cells ``t_s`` seconds after programming (drift, read noise, compensation)."""
        if self._cells is None:
            raise RuntimeError("set_time before program")
        pos, neg, nu_pos, nu_neg = self._cells
        noise, lay, w_max = self.cfg.noise, self.cfg.layout, self.w_max()
        p = ni.drift_and_read(pos, nu_pos, t_s, noise, gen)
        n = ni.drift_and_read(neg, nu_neg, t_s, noise, gen) if lay.signed == "differential" else neg
        self._w_eff = ni.from_cells(p, n, w_max, lay)
        self._g_now = (p, n)
        if noise.drift_compensation and noise.model != "none":
            self.alpha.copy_(ni.drift_compensation(ni.from_cells(pos, neg, w_max, lay), self._w_eff))
        else:
            self.alpha.fill_(1.0)

    def reset(self) -> None:
        """Forget the programmed state (back to ideal quantised weights)."""
        self._cells, self._w_eff, self._g_now = None, None, None
        self.alpha.fill_(1.0)

    # ------------------------------------------------------------------------------------------- forward
    def _track(self, buf: Tensor, x: Tensor) -> None:
        est = _quantile(x, self.cfg.clip_quantile)
        if self.momentum >= 1.0:
            buf.copy_(torch.maximum(buf, est))
        else:
            buf.copy_(est if float(buf) == 0.0 else (1 - self.momentum) * buf + self.momentum * est)

    def _quant_in(self, x: Tensor) -> Tensor:
        if self.observe:
            with torch.no_grad():
                self.in_signed |= bool((x < 0).any())
                self._track(self.in_bound, x)
        if self.cfg.in_bits >= FULL_PRECISION_BITS or float(self.in_bound) == 0.0:
            return x
        return ni.quantise(x, self.cfg.in_bits, self.in_bound, signed=bool(self.in_signed))

    def _partial(self, x: Tensor, w: Tensor, a: int, b: int, out_pad: Any = 0) -> Tensor:
        base = self.base
        if not self.is_conv:
            return F.linear(x[..., a:b], w[:, a:b])
        nd = len(base.kernel_size)
        if self.mode == "conv":
            conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
            pad = base.padding if base.padding_mode == "zeros" else 0
            if base.groups == 1:
                return conv(x[:, a:b], w[:, a:b], None, base.stride, pad, base.dilation, 1)
            mask = torch.zeros(w.shape[1], dtype=w.dtype, device=w.device)
            mask[a:b] = 1.0
            return conv(x, w * mask.view(1, -1, *([1] * nd)), None, base.stride, pad, base.dilation, base.groups)
        conv_t = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        if base.groups == 1:
            return conv_t(x[:, a:b], w[a:b], None, base.stride, base.padding, out_pad, 1, base.dilation)
        local = torch.arange(w.shape[0], device=w.device) % self.fan_in  # group-local input channel
        mask = ((local >= a) & (local < b)).to(w.dtype)
        return conv_t(x, w * mask.view(-1, *([1] * (nd + 1))), None, base.stride, base.padding, out_pad,
                      base.groups, base.dilation)

    def _one_read(self, x: Tensor, out_pad: Any) -> Tensor:
        """Each row group read once with the recombined weights, its partial sum through the ADC."""
        w = self.effective_weight()
        parts = [self._partial(x, w, a, b, out_pad) for a, b in self.chunks()]
        if self.observe:
            with torch.no_grad():
                for p in parts:
                    self._track(self.adc_bound, p)
        bound = self.adc_bound
        use_adc = self.cfg.adc_bits < FULL_PRECISION_BITS and float(bound) > 0.0
        out_sigma = self.train_noise[1] if self.training else 0.0
        y = None
        for p in parts:
            if float(bound) > 0.0:
                p = ni.ir_drop(p, bound, self.cfg.ir_drop)
                if out_sigma > 0:
                    p = p + out_sigma * bound * torch.randn_like(p)
            if use_adc:
                p = ni.adc(p, self.cfg.adc_bits, bound)
            y = p if y is None else y + p
        return y

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        """Quantised input, per-read partial sums through the ADC, digital accumulation, bias.
        ``output_size`` is a transposed convolution's optional target size, as in torch."""
        base = self.base
        unbatched = self.is_conv and x.dim() == len(base.kernel_size) + 1
        if unbatched:
            x = x.unsqueeze(0)
        x = self._quant_in(x)
        out_pad: Any = 0
        if self.mode == "conv" and base.padding_mode != "zeros":  # reflect/replicate/circular: pad, then conv
            x = F.pad(x, base._reversed_padding_repeated_twice, mode=base.padding_mode)
        elif self.mode == "conv_t":
            nd = len(base.kernel_size)
            out_pad = base._output_padding(x, output_size, list(base.stride), list(base.padding),
                                           list(base.kernel_size), nd, list(base.dilation))
        # inputs of FULL_PRECISION_BITS are not quantised (full precision), so they have no bit planes
        bit = (self.cfg.bit_level and not self.training and self.mode != "conv_t"
               and self.cfg.in_bits < FULL_PRECISION_BITS and float(self.in_bound) > 0.0)
        if bit and not self.observe:
            with torch.no_grad():
                y = bitlevel.forward(self, x, out_pad)
        else:
            y = self._one_read(x, out_pad)
            if bit:  # calibration: the bit-level ADC range, and the noise of the training surrogate
                with torch.no_grad():
                    y_bit = bitlevel.forward(self, x, out_pad)
                    if float(self.adc_bound) > 0:
                        self.bit_sigma.copy_((y_bit - y).std() / self.adc_bound)
                y = y_bit
        if self.training and self.cfg.bit_level and float(self.bit_sigma) > 0:
            # hardware-aware training's surrogate of the bit-level ADC error: the one-read model plus gaussian
            # noise of the calibrated bit-level-minus-one-read spread (docs/accuracy.md, "Bit-level ADC")
            y = y + self.bit_sigma * self.adc_bound * torch.randn_like(y)
        if self._w_eff is not None and not self.training:  # drift compensation applies to programmed cells
            y = y * self.alpha
        bias = base.bias
        if bias is not None:
            shape = (1, -1) + (1,) * (y.dim() - 2) if self.is_conv else (-1,)
            y = y + bias.view(shape)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"w_bits={c.w_bits}, in_bits={c.in_bits}, adc_bits={c.adc_bits}, rows_per_read={c.rows_per_read}, "
                f"chunks={len(self.chunks())}, noise={c.noise.model}"
                + (f", {bitlevel.describe(c)}" if c.bit_level else ""))


# whole-model operations live in imcnas.accuracy.convert; re-exported here for ``layers.convert`` callers
from imcnas.accuracy.convert import (ConversionReport, calibrate, convert, imc_layers, program,  # noqa: E402,F401
                                     reset, set_time, set_training_noise, simulated_modules)  # noqa: F401
