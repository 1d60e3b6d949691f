"""Simulated IMC versions of modules whose weight matmuls torch calls functionally: ``nn.MultiheadAttention``
(q/k/v and output projections) and ``nn.LSTM``/``GRU``/``RNN`` and their cells (W_ih, W_hh, W_hr).

Each weight matmul is an :class:`imcnas.accuracy.layers.IMCLayer` over a view of the original parameter (so
the same non-idealities apply: input DAC, cell levels, row splitting, ADC, programming noise, drift), named as
the cost model names its crossbar op (``attn.q_proj``, ``rnn.weight_hh_l0_reverse``). The rest (QK^T, softmax,
AV, gate nonlinearities, state updates) is computed digitally in floating point. The original module stays in
``.base`` with the trainable parameters. Not simulated: ``PackedSequence`` inputs to recurrent modules.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imcnas.accuracy.layers import IMCLayer, LayerConfig
from imcnas.workload.analog import rnn_mode

__all__ = ["COMPOSITES", "IMCAttention", "IMCRecurrent", "matmul_names"]

ConfigFor = Callable[[str], LayerConfig]


class ParamView(nn.Module):
    """A Linear layer's ``weight``/``bias`` read from (row slices of) parameters owned by another module.
    The owner is not a submodule (no second copy of its parameters in the state dict)."""

    def __init__(self, owner: nn.Module, weight: str, bias: str | None, rows: tuple[int, int] | None = None):
        super().__init__()
        self.__dict__["owner"] = owner
        self.wname, self.bname, self.rows = weight, bias, rows

    def _get(self, name: str | None) -> Tensor | None:
        t = getattr(self.owner, name) if name else None
        return t if t is None or self.rows is None else t[self.rows[0]:self.rows[1]]

    @property
    def weight(self) -> Tensor:
        return self._get(self.wname)

    @property
    def bias(self) -> Tensor | None:
        return self._get(self.bname)


class _Composite(nn.Module):
    imc_simulated = True  # imcnas.workload.analog_kind: already converted

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            base = self.__dict__.get("_modules", {}).get("base")
            if base is None or name.startswith("__"):
                raise
            return getattr(base, name)


# ---------------------------------------------------------------------------------------------- attention
class IMCAttention(_Composite):
    """``nn.MultiheadAttention`` with simulated q/k/v/out projections; attention itself digital.
    Supports batch_first, unbatched inputs, key_padding_mask, attn_mask (bool or float), is_causal,
    need_weights/average_attn_weights, add_bias_kv, add_zero_attn, kdim/vdim and dropout."""

    _qkv_same_embed_dim = False  # keeps torch's fused transformer fast path (raw weights) off

    def __init__(self, base: nn.MultiheadAttention, cfg: ConfigFor) -> None:
        super().__init__()
        self.base = base
        E = base.embed_dim
        for i, sub in enumerate(("q_proj", "k_proj", "v_proj")):
            bias = "in_proj_bias" if base.in_proj_bias is not None else None
            if base._qkv_same_embed_dim:
                view = ParamView(base, "in_proj_weight", bias, (i * E, (i + 1) * E))
            else:
                view = _SplitBias(base, f"{sub}_weight", bias, (i * E, (i + 1) * E))
            setattr(self, sub, IMCLayer(view, cfg(sub)))
        self.out_proj = IMCLayer(ParamView(base.out_proj, "weight", "bias"), cfg("out_proj"))

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """As ``nn.MultiheadAttention.forward``."""
        m = self.base
        batched = query.dim() == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            key_padding_mask = key_padding_mask.unsqueeze(0) if key_padding_mask is not None else None
        elif m.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        L, N, E = query.shape
        H = m.num_heads
        hd = E // H
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if m.bias_k is not None:
            k, v = torch.cat([k, m.bias_k.repeat(1, N, 1)]), torch.cat([v, m.bias_v.repeat(1, N, 1)])
            attn_mask = F.pad(attn_mask, (0, 1)) if attn_mask is not None else None
            key_padding_mask = F.pad(key_padding_mask, (0, 1)) if key_padding_mask is not None else None
        q = q.reshape(L, N * H, hd).transpose(0, 1)
        k = k.reshape(k.shape[0], N * H, hd).transpose(0, 1)
        v = v.reshape(v.shape[0], N * H, hd).transpose(0, 1)
        if m.add_zero_attn:
            k = torch.cat([k, k.new_zeros(N * H, 1, hd)], dim=1)
            v = torch.cat([v, v.new_zeros(N * H, 1, hd)], dim=1)
            attn_mask = F.pad(attn_mask, (0, 1)) if attn_mask is not None else None
            key_padding_mask = F.pad(key_padding_mask, (0, 1)) if key_padding_mask is not None else None
        S = k.shape[1]
        mask = _additive(attn_mask, q.dtype)
        if mask is None and is_causal:
            mask = torch.full((L, S), float("-inf"), dtype=q.dtype, device=q.device).triu(1)
        if mask is not None and mask.dim() == 2:
            mask = mask.unsqueeze(0)
        kpm = _additive(key_padding_mask, q.dtype)
        if kpm is not None:
            kpm = kpm.view(N, 1, 1, S).expand(-1, H, -1, -1).reshape(N * H, 1, S)
            mask = kpm if mask is None else mask + kpm
        scores = torch.bmm(q * (1.0 / math.sqrt(hd)), k.transpose(1, 2))
        if mask is not None:
            scores = scores + mask
        attn = torch.softmax(scores, dim=-1)
        if m.dropout > 0.0 and self.training:
            attn = F.dropout(attn, p=m.dropout)
        out = self.out_proj(torch.bmm(attn, v).transpose(0, 1).reshape(L, N, E))
        if not batched:
            out = out.squeeze(1)
        elif m.batch_first:
            out = out.transpose(0, 1)
        weights = None
        if need_weights:
            weights = attn.view(N, H, L, S)
            weights = weights.mean(dim=1) if average_attn_weights else weights
            weights = weights.squeeze(0) if not batched else weights
        return out, weights


class _SplitBias(ParamView):
    """q/k/v projection with its own weight (kdim/vdim != embed_dim) and a slice of the shared in_proj_bias."""

    @property
    def weight(self) -> Tensor:
        return getattr(self.owner, self.wname)


def _additive(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


# ---------------------------------------------------------------------------------------------- recurrent
def _suffixes(m: nn.Module) -> list[str]:
    if isinstance(m, nn.RNNCellBase):
        return [""]
    return [f"_l{k}" + ("_reverse" if d else "") for k in range(m.num_layers) for d in range(1 + m.bidirectional)]


def matmul_names(m: nn.Module, kind: str) -> list[str]:
    """The simulated matmuls of an analog module of ``kind`` (see ``imcnas.workload.analog_kind``), named as
    the cost model names its crossbar ops (relative to the module's path; [""] for a plain layer)."""
    if kind == "attention":
        return ["q_proj", "k_proj", "v_proj", "out_proj"]
    if kind in ("rnn", "rnn_cell"):
        hr = ["weight_hr"] if getattr(m, "proj_size", 0) else []
        return [w + s for s in _suffixes(m) for w in ["weight_ih", "weight_hh", *hr]]
    return [""]


def _step(mode: str, gi: Tensor, gh: Tensor, h: Tensor, c: Tensor | None,
          hr: IMCLayer | None) -> tuple[Tensor, Tensor | None]:
    """One time step from the two (simulated) gate pre-activations: the digital gate arithmetic."""
    if mode == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return (hr(h) if hr is not None else h), c
    if mode == "GRU":
        ir, iz, i_n = gi.chunk(3, -1)
        hr_, hz, h_n = gh.chunk(3, -1)
        r, z = torch.sigmoid(ir + hr_), torch.sigmoid(iz + hz)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h, None
    return (torch.tanh if mode == "RNN_TANH" else torch.relu)(gi + gh), None


class IMCRecurrent(_Composite):
    """``nn.LSTM``/``GRU``/``RNN`` (multi-layer, bidirectional, batch_first, proj_size, dropout) or
    ``nn.LSTMCell``/``GRUCell``/``RNNCell`` with simulated W_ih, W_hh (and W_hr) per layer and direction;
    the gate arithmetic digital. Input-to-hidden matmuls of a whole sequence are computed in one call."""

    def __init__(self, base: nn.Module, cfg: ConfigFor) -> None:
        super().__init__()
        self.base, self.mode = base, rnn_mode(base)
        self.cell = isinstance(base, nn.RNNCellBase)
        has_bias = bool(base.bias)
        for s in _suffixes(base):  # into _modules directly: the base's parameters have the same names
            for w, b in (("weight_ih", "bias_ih"), ("weight_hh", "bias_hh"), ("weight_hr", None)):
                if w == "weight_hr" and not getattr(base, "proj_size", 0):
                    continue
                view = ParamView(base, w + s, b + s if b and has_bias else None)
                self._modules[w + s] = IMCLayer(view, cfg(w + s))

    def _layer(self, s: str) -> tuple[IMCLayer, IMCLayer, IMCLayer | None]:
        return self._modules[f"weight_ih{s}"], self._modules[f"weight_hh{s}"], self._modules.get(f"weight_hr{s}")

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        """As the base module's forward (no PackedSequence)."""
        if not isinstance(input, Tensor):
            raise NotImplementedError(f"simulated {type(self.base).__name__}: PackedSequence input is not supported")
        return self._cell(input, hx) if self.cell else self._seq(input, hx)

    def _cell(self, x: Tensor, hx: Any) -> Any:
        m, lstm = self.base, self.mode == "LSTM"
        batched = x.dim() == 2
        x = x if batched else x.unsqueeze(0)
        if hx is None:
            zeros = x.new_zeros(x.shape[0], m.hidden_size)
            h, c = zeros, (zeros if lstm else None)
        else:
            h, c = hx if lstm else (hx, None)
            if not batched:
                h, c = h.unsqueeze(0), (c.unsqueeze(0) if c is not None else None)
        ih, hh, _ = self._layer("")
        h, c = _step(self.mode, ih(x), hh(h), h, c, None)
        if not batched:
            h, c = h.squeeze(0), (c.squeeze(0) if c is not None else None)
        return (h, c) if lstm else h

    def _seq(self, x: Tensor, hx: Any) -> Any:
        m, lstm = self.base, self.mode == "LSTM"
        batched = x.dim() == 3
        x = (x.transpose(0, 1) if m.batch_first else x) if batched else x.unsqueeze(1)  # (T, N, in)
        T, N = x.shape[0], x.shape[1]
        dirs, H = 1 + m.bidirectional, m.hidden_size
        P = getattr(m, "proj_size", 0) or H
        if hx is None:
            h0, c0 = x.new_zeros(m.num_layers * dirs, N, P), x.new_zeros(m.num_layers * dirs, N, H)
        else:
            h0, c0 = hx if lstm else (hx, None)
            if not batched:
                h0, c0 = h0.unsqueeze(1), (c0.unsqueeze(1) if c0 is not None else None)
        hn, cn = [], []
        for layer in range(m.num_layers):
            outs = []
            for d in range(dirs):
                idx, s = layer * dirs + d, f"_l{layer}" + ("_reverse" if d else "")
                ih, hh, hr = self._layer(s)
                gi = ih(x)  # the whole sequence's input-to-hidden matmuls
                h, c = h0[idx], (c0[idx] if lstm else None)
                ys: list[Tensor] = [x] * T
                for t in (range(T - 1, -1, -1) if d else range(T)):
                    h, c = _step(self.mode, gi[t], hh(h), h, c, hr)
                    ys[t] = h
                outs.append(torch.stack(ys))
                hn.append(h)
                cn.append(c)
            x = outs[0] if dirs == 1 else torch.cat(outs, dim=-1)
            if m.dropout > 0 and self.training and layer < m.num_layers - 1:
                x = F.dropout(x, p=m.dropout)
        out, h_n = x, torch.stack(hn)
        c_n = torch.stack(cn) if lstm else None
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif m.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)


COMPOSITES: dict[str, Callable[[nn.Module, ConfigFor], nn.Module]] = {
    "attention": IMCAttention, "rnn": IMCRecurrent, "rnn_cell": IMCRecurrent}
