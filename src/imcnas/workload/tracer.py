"""Trace any ``nn.Module`` and example input into a :class:`~imcnas.workload.ops.Workload`.

Strategy: ``torch.fx.symbolic_trace`` (with a tracer that keeps every module we have a rule for as a leaf)
plus shape propagation by ``ShapeProp`` on the real example input. When fx cannot trace the model
(data-dependent control flow, unsupported Python, HF models, PyG message passing, ...), the model is run once
with forward hooks on every module and a ``TorchFunctionMode`` that sees functional calls made outside the
recognised leaf modules (``torch.matmul``, ``F.scaled_dot_product_attention``, ``F.linear``, ``+``, softmax, ...).
Both tracers classify calls with the same rules (:mod:`imcnas.workload._classify`), so they give the same ops.

A tensor counts as *static* when it derives only from parameters, buffers, tensor attributes and constants;
a static weight in a module of :func:`imcnas.workload.analog_layers` is a MATRIX op (crossbars), in a function
call a DIGITAL_MATMUL; a matmul with two activation operands is a DYNAMIC_MATMUL. A module or function without
a rule, or whose rule fails, is UNSUPPORTED and named in ``Workload.unsupported``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import itertools
from collections.abc import Iterator
from functools import partial
from typing import Any

import torch
import torch.fx as fx
from torch import Tensor, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torch.overrides import TorchFunctionMode

from imcnas.errors import TraceError
from imcnas.workload._modules import is_graph_model, keeps_static, module_rule
from imcnas.workload._classify import SKIP, T, function_ops, normalize, tensors, unsupported
from imcnas.workload.ops import Op, Workload

__all__ = ["trace"]

TRACERS = ("auto", "fx", "hooks")


def trace(model: nn.Module, example_input: Tensor | tuple | dict, name: str | None = None, *,
          tracer: str = "auto", batch: int | None = None) -> Workload:
    """Trace ``model`` on ``example_input`` into a Workload of ordered ops with shapes and counts.

    ``example_input`` is a tensor (``model(x)``), a tuple (``model(*x)``) or a dict (``model(**x)``). Counts
    cover the whole input; ``Workload.batch`` is the leading dim of its first tensor, except 1 for models with
    torch_geometric message passing (their first input is the node features of one graph); ``batch``
    overrides both. The model runs under ``torch.no_grad()`` in eval mode; its train flags are restored.
    ``tracer`` is "auto" (fx, falling back to hooks), "fx" or "hooks"; the one used is in
    ``Workload.tracer`` and each op's ``meta["tracer"]`` (a model that is itself a leaf, e.g. a bare
    ``nn.Linear``, always uses hooks). ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` give
    two DYNAMIC_MATMUL ops each, ``<name>.qk`` (QK^T) and ``<name>.av`` (weights x V), with a SOFTMAX op
    ``<name>.softmax`` between. Raises TraceError naming the failing module (qualified name and type).
    """
    if tracer not in TRACERS:
        raise TraceError(f"unknown tracer '{tracer}'; known: {', '.join(TRACERS)}")
    args, kwargs = _split(example_input)
    first = next((t for t in itertools.chain(args, kwargs.values()) if isinstance(t, Tensor)), None)
    if first is None:
        raise TraceError(f"example input of {type(model).__name__} holds no tensor")
    wname = name or type(model).__name__
    ops: list[Op] | None = None
    used = "fx"
    with _inference(model):
        if tracer in ("auto", "fx") and module_rule(model) is None:  # a bare leaf module needs no graph
            try:
                ops = _fx_ops(model, args, kwargs)
            except _Failure as f:
                if tracer == "fx":
                    raise TraceError(f"cannot trace {wname} with torch.fx: {f.describe(model)}") from f.cause
        if ops is None:
            used = "hooks"
            try:
                ops = _hook_ops(model, args, kwargs)
            except _Failure as f:
                raise TraceError(f"cannot trace {wname}: {f.describe(model)}") from f.cause
    if batch is None:
        batch = 1 if first.dim() == 0 or is_graph_model(model) else int(first.shape[0])
    return Workload(name=wname, ops=tuple(_finish(ops, used)), batch=batch, input_shape=tuple(first.shape),
                    tracer=used)


# ---------------------------------------------------------------------------------------------- common
class _Failure(Exception):
    """The model failed to run/trace at module ``where`` (qualified name, "" for the root)."""

    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(where)
        self.where, self.cause = where, cause

    def describe(self, model: nn.Module) -> str:
        try:
            mod = model.get_submodule(self.where) if self.where else model
            what = f"module '{self.where or '<root>'}' ({type(mod).__name__})"
        except AttributeError:
            what = f"'{self.where}'"
        lines = str(self.cause).strip().splitlines()
        return f"{what} raised {type(self.cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _split(example: Tensor | tuple | list | dict) -> tuple[tuple, dict]:
    if isinstance(example, dict):
        return (), dict(example)
    if isinstance(example, (tuple, list)):
        return tuple(example), {}
    return (example,), {}


@contextlib.contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Eval mode, no grad and no fused MHA fast path; restores the train flags afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    fast = torch.backends.mha.get_fastpath_enabled()
    model.eval()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
        for m, training in flags:
            m.training = training


def _safe(rule: Any, name: str, *args: Any, layer: str = "") -> list[Op]:
    """Apply a rule; an op it cannot read becomes UNSUPPORTED (listed in ``Workload.unsupported``, with
    ``meta["reason"]``) rather than an error. Every op is tagged with ``meta["layer"]``: the path of the
    module it belongs to (the module called, or the one a function was called from)."""
    try:
        ops = rule(name, *args)
    except Exception as e:  # noqa: BLE001 - one odd call must not lose the whole workload
        out = args[-1]
        src = str(args[0] if isinstance(args[0], str) else type(args[0]).__name__)
        ops = [unsupported(name, src, None, out if isinstance(out, T) else None,
                           f"the cost rule for {src} failed: {type(e).__name__}: {e}")]
    return [dataclasses.replace(o, meta={**o.meta, "layer": layer}) for o in ops]


def _finish(ops: list[Op], used: str) -> list[Op]:
    """Make names unique (``x``, ``x_1``, ...) and tag each op with the tracer used."""
    seen: dict[str, int] = {}
    done = []
    for op in ops:
        n = seen.get(op.name, 0)
        seen[op.name] = n + 1
        op = dataclasses.replace(op, name=f"{op.name}_{n}" if n else op.name, meta={**op.meta, "tracer": used})
        done.append(op)
    return done


def _fn_name(module: str, fn: str) -> str:
    return f"{module}.{fn}" if module else fn


# ---------------------------------------------------------------------------------------------- fx
class _Tracer(fx.Tracer):
    """Keeps modules with a rule as leaves; remembers the innermost module where tracing failed."""

    failed_at: str | None = None

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return module_rule(m) is not None

    def call_module(self, m: nn.Module, forward: Any, args: tuple, kwargs: dict) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_at is None:
                self.failed_at = self.path_of_module(m)
            raise


class _ShapeProp(ShapeProp):
    current: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        self.current = n
        return super().run_node(n)


def _tensor_meta(meta: Any) -> TensorMetadata | None:
    if isinstance(meta, TensorMetadata):
        return meta
    if isinstance(meta, dict):
        meta = list(meta.values())
    if isinstance(meta, (list, tuple)):
        for m in meta:
            found = _tensor_meta(m)
            if found is not None:
                return found
    return None


def _node_module(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack.values()))[0] if stack else ""


def _fx_ops(model: nn.Module, args: tuple, kwargs: dict) -> list[Op]:
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    tracer = _Tracer()
    try:
        if set(kwargs) - {p.name for p in params} or len(args) > len(params):
            raise TypeError("forward takes *args/**kwargs the fx path cannot bind")
        given = {p.name for p in params[:len(args)]} | set(kwargs)
        concrete = {p.name: p.default for p in params if p.name not in given and p.default is not p.empty}
        graph = tracer.trace(model, concrete_args=concrete or None)
        gm = fx.GraphModule(tracer.root, graph)
        values = list(args) + [kwargs[p.name] if p.name in kwargs else concrete.get(p.name, p.default)
                               for p in params[len(args):]]
    except Exception as e:  # noqa: BLE001
        raise _Failure(tracer.failed_at or "", e) from e
    prop = _ShapeProp(gm)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            prop.propagate(*values)
    except Exception as e:  # noqa: BLE001
        node = prop.current
        where = (node.target if node is not None and node.op == "call_module" else
                 _node_module(node) if node is not None else "")
        raise _Failure(str(where), e.__cause__ or e) from e
    try:
        return _classify_graph(gm)
    except Exception as e:  # noqa: BLE001
        raise _Failure("", e) from e


def _classify_graph(gm: fx.GraphModule) -> list[Op]:
    static: dict[fx.Node, bool] = {}
    ops: list[Op] = []

    def val(v: Any) -> Any:
        if isinstance(v, fx.Node):
            tm = v.meta.get("tensor_meta")
            return T(tuple(tm.shape), static[v]) if isinstance(tm, TensorMetadata) else None
        return v

    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr", "output"):
            static[node] = node.op == "get_attr"
            continue
        static[node] = all(static.get(d, True) for d in node.all_input_nodes)
        target = module_rule(gm.get_submodule(node.target)) if node.op == "call_module" else normalize(node.target)
        if static[node] and not keeps_static(target):  # computed from constants only
            continue
        tm = _tensor_meta(node.meta.get("tensor_meta"))
        out = T(tuple(tm.shape)) if tm is not None else None
        args, kwargs = fx.node.map_aggregate(node.args, val), fx.node.map_aggregate(node.kwargs, val)
        if node.op == "call_module":
            ops += _safe(target, node.target, gm.get_submodule(node.target), args, dict(kwargs), out,
                         layer=str(node.target))
        elif target not in SKIP:
            where = _node_module(node)
            ops += _safe(function_ops, _fn_name(where, target), target, args, dict(kwargs), out, layer=where)
    return ops


# ---------------------------------------------------------------------------------------------- hooks
def _to_T(obj: Any, static: dict[int, Tensor]) -> Any:
    if isinstance(obj, Tensor):
        return T(tuple(obj.shape), id(obj) in static)
    if isinstance(obj, dict):
        return {k: _to_T(v, static) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not isinstance(obj, torch.Size):
        return tuple(_to_T(v, static) for v in obj)
    return obj


def _real_tensors(obj: Any, depth: int = 0) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if depth > 3:
        return []
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _real_tensors(o, depth + 1)]
    return []


def _out_T(out: Any) -> T | None:
    ts = _real_tensors(out)
    return T(tuple(ts[0].shape)) if ts else None


class _Recorder(TorchFunctionMode):
    """Forward hooks on every module + a function mode for calls outside modules that have a rule."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.ops: list[Op] = []
        self.stack: list[str] = []
        self.depth = 0  # > 0 inside a module that has a rule: its internals are not recorded again
        self.busy = 0  # > 0 while our own code runs
        self.static: dict[int, Tensor] = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
        for m in model.modules():
            self.static.update({id(v): v for v in vars(m).values() if isinstance(v, Tensor)})
        # weight -> its crossbar module: a module called through ``m.forward(x)`` (torch_geometric's ChebConv
        # does this) fires no hooks, but its F.linear still uses the module's own weight
        self.owners: dict[int, tuple[str, nn.Module]] = {
            id(m.weight): (qn, m) for qn, m in model.named_modules()
            if module_rule(m) is not None and isinstance(getattr(m, "weight", None), Tensor)}

    def pre(self, qn: str, has_rule: bool, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.stack.append(qn)
        self.depth += has_rule

    def post(self, qn: str, rule: Any, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        self.stack.pop()
        if rule is None:
            return
        self.depth -= 1
        if self.depth == 0:
            self.busy += 1
            try:
                args, kwargs = _to_T(args, self.static), _to_T(kwargs, self.static)
                static = all(t.static for t in tensors((args, kwargs)))
                if static:  # computed from constants only, as in fx
                    self.static.update({id(o): o for o in _real_tensors(out)})
                if keeps_static(rule) or not static:
                    self.ops += _safe(rule, qn or type(module).__name__, module, args, kwargs, _out_T(out), layer=qn)
            finally:
                self.busy -= 1

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.busy or self.depth:
            return out
        self.busy += 1
        try:
            ins = _real_tensors((args, kwargs))
            static = all(id(t) in self.static for t in ins)
            for o in _real_tensors(out):
                if static:
                    self.static[id(o)] = o
                else:
                    self.static.pop(id(o), None)
            fn = normalize(func)
            owner = self.owners.get(id(args[1] if len(args) > 1 else kwargs.get("weight"))) if fn == "linear" \
                else None
            if owner is not None and not static:  # the module's own call, made without its hooks
                qn, m = owner
                self.ops += _safe(module_rule(m), qn, m, _to_T(args[:1], self.static), {}, _out_T(out), layer=qn)
            elif ins and (not static or keeps_static(fn)) and fn not in SKIP:
                where = self.stack[-1] if self.stack else ""
                self.ops += _safe(function_ops, _fn_name(where, fn), fn, _to_T(args, self.static),
                                  _to_T(kwargs, self.static), _out_T(out), layer=where)
        finally:
            self.busy -= 1
        return out


def _hook_ops(model: nn.Module, args: tuple, kwargs: dict) -> list[Op]:
    rec = _Recorder(model)
    handles = []
    for qn, m in model.named_modules():
        rule = module_rule(m)
        handles.append(m.register_forward_pre_hook(partial(rec.pre, qn, rule is not None), with_kwargs=True))
        handles.append(m.register_forward_hook(partial(rec.post, qn, rule), with_kwargs=True))
    try:
        with rec:
            model(*args, **kwargs)
    except Exception as e:  # noqa: BLE001
        raise _Failure(rec.stack[-1] if rec.stack else "", e) from e
    finally:
        for h in handles:
            h.remove()
        rec.static.clear()
    return rec.ops
