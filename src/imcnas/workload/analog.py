"""The one decision of which layers run analog, on crossbars.

Both the cost model's tracer (:mod:`imcnas.workload._modules`: a module whose :func:`analog_kind` is not None
is priced as crossbar MATRIX ops) and ``imcnas.accuracy.convert`` (which replaces exactly the modules of
:func:`analog_layers` by simulated IMC versions) call this module, so the layers priced on crossbars and the
layers simulated with crossbar non-idealities are the same, path by path.

Analog: ``nn.Linear``, every ``nn.Conv1d/2d/3d`` and ``nn.ConvTranspose1d/2d/3d`` (any padding mode),
``nn.MultiheadAttention`` (its q/k/v and output projections; QK^T and AV stay digital), ``nn.LSTM``/``GRU``/
``RNN`` and their ``*Cell`` versions (input-to-hidden, hidden-to-hidden and projection weights), HF
``Conv1D`` and torch_geometric ``Linear``. Not analog: embedding lookups, norms, and static weights used by a
function call inside another module (``F.linear(x, self.w)``, ``x @ self.w``), which convert cannot reach:
the cost model prices those as digital matmuls (``OpKind.DIGITAL_MATMUL``).
"""
from __future__ import annotations

from torch import nn

__all__ = ["ANALOG_KINDS", "analog_kind", "analog_layers", "rnn_mode"]

ANALOG_KINDS = ("linear", "conv", "attention", "rnn", "rnn_cell")


def _has_mro(m: nn.Module, cls_name: str, pkg: str) -> bool:
    return any(c.__name__ == cls_name and c.__module__.startswith(pkg) for c in type(m).__mro__)


def _materialised_2d(m: nn.Module) -> bool:
    """A registered 2-D ``weight`` parameter (read from ``_parameters``: torch.fx patches attribute access)."""
    w = m._parameters.get("weight", m._parameters.get("weight_orig"))  # a pruned layer keeps weight_orig
    return isinstance(w, nn.Parameter) and not isinstance(w, nn.parameter.UninitializedParameter) and w.dim() == 2


def rnn_mode(m: nn.Module) -> str:
    """The recurrence of an RNN module or cell: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU"."""
    if isinstance(m, (nn.LSTM, nn.LSTMCell)):
        return "LSTM"
    if isinstance(m, (nn.GRU, nn.GRUCell)):
        return "GRU"
    if isinstance(m, nn.RNNBase):
        return str(m.mode)
    return "RNN_RELU" if getattr(m, "nonlinearity", "tanh") == "relu" else "RNN_TANH"


def analog_kind(m: nn.Module) -> str | None:
    """How module ``m`` runs on crossbars: "linear", "conv", "attention", "rnn" or "rnn_cell"; None when it
    does not (digital, or a container whose children decide). Simulated IMC layers (already converted) are
    not analog again."""
    if getattr(m, "imc_simulated", False):
        return None
    if isinstance(m, nn.Linear):
        return "linear"
    if isinstance(m, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(m, nn.MultiheadAttention):
        return "attention"
    if isinstance(m, nn.RNNBase):
        return "rnn"
    if isinstance(m, nn.RNNCellBase):
        return "rnn_cell"
    mod = type(m).__module__
    if type(m).__name__ == "Conv1D" and mod.startswith("transformers") and _materialised_2d(m):
        return "linear"  # HF GPT-2 style: weight (in, out)
    if _has_mro(m, "Linear", "torch_geometric") and _materialised_2d(m):
        return "linear"
    return None


def analog_layers(model: nn.Module) -> dict[str, str]:
    """Module path -> :func:`analog_kind` of every module of ``model`` that runs on crossbars, in module order
    ("" when ``model`` itself is one). Modules inside an analog module (e.g. the ``out_proj`` of
    ``nn.MultiheadAttention``) belong to it and are not listed."""
    found: dict[str, str] = {}
    claimed: list[str] = []  # analog or already simulated modules: their insides are theirs
    for name, m in model.named_modules():
        if any(p == "" or name.startswith(p + ".") for p in claimed):
            continue
        kind = analog_kind(m)
        if kind is not None:
            found[name] = kind
        if kind is not None or getattr(m, "imc_simulated", False):
            claimed.append(name)
    return found
