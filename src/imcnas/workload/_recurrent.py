"""Rules for recurrent modules: ``nn.LSTM``/``GRU``/``RNN`` and ``nn.LSTMCell``/``GRUCell``/``RNNCell``.

A recurrent layer is priced as its gate matmuls per time step: for every layer and direction, the
input-to-hidden weight ``W_ih`` (``gates*hidden`` x ``in``), the hidden-to-hidden weight ``W_hh``
(``gates*hidden`` x ``hidden`` or ``proj_size``) and, for an LSTM with ``proj_size``, the projection ``W_hr``
(``proj_size`` x ``hidden``) sit in crossbars and are each applied once per time step and sequence, i.e.
``vectors = seq_len x batch``. The op names are the module path plus the parameter name
(``rnn.weight_ih_l0``, ``rnn.weight_hh_l1_reverse``), as ``imcnas.accuracy.convert`` names the simulated
layers. The gate arithmetic (adds, sigmoids, tanhs, products) is one digital ELEMENTWISE op per layer and
direction, ``<path>.gates_l<k>[_reverse]``.
"""
from __future__ import annotations

from typing import Any


from imcnas.workload._classify import T, _matrix, _simple, tensors
from imcnas.workload.ops import Op, OpKind
from imcnas.workload.analog import rnn_mode

__all__ = ["rnn_rule", "rnn_cell_rule"]

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
# digital flops per hidden element and time step: gate sums (W_ih x + W_hh h), nonlinearities at 4 flops
# (1 for ReLU), the cell/state updates
GATE_FLOPS = {"LSTM": 4 + 3 * 4 + 4 + 3 + 4 + 1, "GRU": 2 + 2 * 4 + 2 + 4 + 3, "RNN_TANH": 1 + 4, "RNN_RELU": 1 + 1}


def _step_ops(name: str, sfx: str, src: str, mode: str, tokens: int, n_in: int, hidden: int, proj: int,
              bias: bool) -> list[Op]:
    g = GATES[mode]
    h_out = proj or hidden
    x, pre, h = T((tokens, n_in)), T((tokens, g * hidden)), T((tokens, hidden))
    ops = [_matrix(f"{name}.weight_ih{sfx}", src, x, pre, n_in, g * hidden, 1, tokens, bias=bias),
           _matrix(f"{name}.weight_hh{sfx}", src, T((tokens, h_out)), pre, h_out, g * hidden, 1, tokens, bias=bias)]
    gates = _simple(f"{name}.gates{sfx}", OpKind.ELEMENTWISE, src, pre, h, flops=GATE_FLOPS[mode] * tokens * hidden)
    ops.append(gates)
    if proj:
        ops.append(_matrix(f"{name}.weight_hr{sfx}", src, h, T((tokens, proj)), hidden, proj, 1, tokens))
    return ops


def rnn_rule(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    """nn.LSTM / nn.GRU / nn.RNN: per layer and direction, W_ih, W_hh (and W_hr) once per time step."""
    x = args[0] if args else kwargs.get("input")
    if isinstance(x, tuple):  # a PackedSequence: (data (tokens, in), batch_sizes, ...)
        tokens = x[0].shape[0]
    else:
        ts = tensors(x)
        shape = ts[0].shape if ts else ()
        tokens = shape[0] * shape[1] if len(shape) == 3 else shape[0] if shape else 0
    mode, dirs = rnn_mode(m), 2 if m.bidirectional else 1
    proj = int(getattr(m, "proj_size", 0) or 0)
    h_out = proj or m.hidden_size
    ops: list[Op] = []
    for layer in range(m.num_layers):
        n_in = m.input_size if layer == 0 else h_out * dirs
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            ops += _step_ops(name, sfx, type(m).__name__, mode, tokens, n_in, m.hidden_size, proj, m.bias)
    return ops


def rnn_cell_rule(name: str, m: Any, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    """nn.LSTMCell / nn.GRUCell / nn.RNNCell: one time step, W_ih and W_hh once per sequence."""
    ts = tensors(args[:1] if args else kwargs.get("input"))
    shape = ts[0].shape if ts else ()
    tokens = shape[0] if len(shape) == 2 else 1
    return _step_ops(name, "", type(m).__name__, rnn_mode(m), tokens, m.input_size, m.hidden_size, 0, m.bias)
