"""Rules that turn one module call or one function call into ``Op`` records.

Both tracers (torch.fx and forward hooks) describe a call the same way: a target (an ``nn.Module`` or a
normalised function name), arguments in which every tensor is replaced by a :class:`T` (its shape and
whether it is static, i.e. derived from parameters/buffers/constants only), and the output :class:`T`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from imcnas.workload.ops import Op, OpKind


@dataclass(frozen=True)
class T:
    """A tensor as the rules see it: shape, and whether it derives from parameters/constants only."""

    shape: tuple[int, ...]
    static: bool = False

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


Rule = Callable[[str, Any, tuple, dict, "T | None"], list[Op]]

# ---------------------------------------------------------------------------------------------- names
_REVERSED = {"radd": "add", "rsub": "sub", "rmul": "mul", "rtruediv": "div", "rdiv": "div", "rpow": "pow",
             "rfloordiv": "floordiv", "rmod": "mod", "rand": "and", "ror": "or", "rxor": "xor"}
_INPLACE = {"iadd", "isub", "imul", "itruediv", "idiv", "ifloordiv", "imod", "ipow", "iand", "ior", "ixor",
            "imatmul"}


def normalize(func: Any) -> str:
    """Canonical lower-case name of a function or method: ``Tensor.__iadd__`` -> "add", ``relu_`` -> "relu"."""
    name = func if isinstance(func, str) else getattr(func, "__name__", "") or ""
    name = name.strip("_") if name.startswith("__") else name
    if name in _INPLACE:
        name = name[1:]
    name = _REVERSED.get(name, name)
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return {"truediv": "div", "true_divide": "div", "floordiv": "floor_divide", "matrix_power": "matmul"}.get(
        name, name)


SKIP = frozenset("""
view reshape flatten unflatten permute transpose t contiguous getitem setitem size dim squeeze unsqueeze expand
expand_as repeat repeat_interleave to type type_as float half double int long bool bfloat16 clone detach split
split_with_sizes chunk unbind cat concat concatenate stack hstack vstack narrow select dropout dropout1d dropout2d
dropout3d alpha_dropout feature_alpha_dropout identity getattr numel pad index_select gather movedim moveaxis
swapaxes swapdims view_as reshape_as flip roll tile zeros_like ones_like empty_like full_like rand_like randn_like
new_zeros new_ones new_empty new_full new_tensor arange zeros ones empty full tensor as_tensor get item tolist
is_floating_point is_complex element_size stride data_ptr storage_offset is_contiguous broadcast_to
broadcast_tensors unfold triu tril cpu cuda requires_grad len iter contains format repr hash set_ detach_
bernoulli uniform normal randn rand randint kaiming_uniform kaiming_normal xavier_uniform xavier_normal
fill zero copy diagonal meshgrid as_strided nonzero unique all any is_nonzero equal allclose
""".split())

_ACT1 = frozenset("relu relu6 hardtanh leaky_relu threshold prelu rrelu".split())
_ACT3 = frozenset("hardswish hardsigmoid".split())
_ACT4 = frozenset("gelu silu swish sigmoid tanh elu selu celu mish softplus softsign glu logsigmoid erf "
                  "tanhshrink softshrink hardshrink".split())
_NORM = frozenset("batch_norm layer_norm group_norm instance_norm rms_norm normalize local_response_norm".split())
_SOFTMAX = frozenset("softmax log_softmax softmin".split())
_ELEM = frozenset("""
add sub mul div floor_divide remainder mod fmod pow sqrt rsqrt exp exp2 expm1 log log2 log10 log1p neg negative
abs where masked_fill maximum minimum clamp clip clamp_min clamp_max addcmul addcdiv lerp square reciprocal sign
eq ne lt le gt ge and or xor invert bitwise_and bitwise_or bitwise_not logical_and logical_or logical_not
logical_xor sin cos floor ceil round trunc frac isnan isinf nan_to_num hypot atan2 scale
""".split())
_REDUCE = frozenset("sum mean amax amin max min prod var std norm logsumexp cumsum cumprod argmax argmin topk sort "
                    "var_mean std_mean any all count_nonzero".split())
_AGGR = frozenset("scatter_add scatter_reduce index_add index_reduce segment_reduce".split())
# digital work priced at one flop per output element (resampling, data movement, distances, losses)
_MISC = frozenset("""
interpolate upsample upsample_nearest upsample_bilinear grid_sample affine_grid pixel_shuffle pixel_unshuffle
channel_shuffle native_channel_shuffle fold im2col col2im one_hot cosine_similarity pairwise_distance dist
masked_scatter masked_select index_put index_copy index_fill scatter take take_along_dim bucketize searchsorted
kthvalue median nanmedian mode quantile nanquantile histc diff cross_entropy nll_loss mse_loss l1_loss
binary_cross_entropy binary_cross_entropy_with_logits kl_div smooth_l1_loss huber_loss
""".split())


# ---------------------------------------------------------------------------------------------- helpers
def tensors(obj: Any) -> list[T]:
    """All :class:`T` in nested args/kwargs, in order."""
    if isinstance(obj, T):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in tensors(o)]
    return []


def _arg(args: tuple, kwargs: dict, i: int, key: str, default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(key, default)


def _tup(v: Any, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        return tuple(v)
    return (v,) * n


def _simple(name: str, kind: OpKind, src: str, x: T | None, out: T | None, per_elem: float = 1.0,
            flops: int | None = None, **meta: Any) -> Op:
    el = out.numel if out is not None else 0
    return Op(name=name, kind=kind, module=src, elements=el,
              flops=int(flops if flops is not None else round(per_elem * el)),
              in_shape=x.shape if x is not None else (), out_shape=out.shape if out is not None else (),
              meta=dict(meta))


def _matrix(name: str, src: str, x: T, out: T | None, rows: int, cols: int, groups: int, vectors: int,
            **meta: Any) -> Op:
    return Op(name=name, kind=OpKind.MATRIX, module=src, rows=int(rows), cols=int(cols), groups=int(groups),
              vectors=int(vectors), macs=int(rows * cols * groups * vectors),
              elements=out.numel if out is not None else 0, in_shape=x.shape,
              out_shape=out.shape if out is not None else (), meta=dict(meta))


def unsupported(name: str, src: str, x: T | None, out: T | None, reason: str) -> Op:
    """An op the tracer cannot price: priced as one digital flop per output element and listed in
    ``Workload.unsupported``."""
    return _simple(name, OpKind.UNSUPPORTED, src, x, out, reason=reason)


def _dynamic(name: str, src: str, x: T, out: T | None, macs: int, **meta: Any) -> Op:
    return Op(name=name, kind=OpKind.DYNAMIC_MATMUL, module=src, macs=int(macs),
              elements=out.numel if out is not None else 0, in_shape=x.shape,
              out_shape=out.shape if out is not None else (), meta=dict(meta))


# ---------------------------------------------------------------------------------------------- matmuls
def _conv(name: str, src: str, x: T, out: T | None, wshape: tuple[int, ...], groups: int, transposed: bool,
          **meta: Any) -> Op:
    """Conv as a weight matrix per group. Vectors come from the output shape, so strides are exact."""
    kernel = tuple(wshape[2:])
    meta = {"kernel": kernel, **meta}
    if transposed:  # weight (cin, cout/g, *k): each input pixel drives a cin/g x (cout/g * k) matrix
        rows, cols = wshape[0] // groups, wshape[1] * math.prod(kernel)
        return _matrix(name, src, x, out, rows, cols, groups, x.numel // max(wshape[0], 1), **meta)
    rows, cols = math.prod(wshape[1:]), wshape[0] // groups
    vectors = (out.numel if out is not None else 0) // max(wshape[0], 1)
    return _matrix(name, src, x, out, rows, cols, groups, vectors, **meta)


def _mm(name: str, src: str, a: T, b: T, out: T | None) -> list[Op]:
    """``a @ b`` with torch.matmul broadcasting; a static operand makes it a MATRIX op."""
    sa = (1, *a.shape) if len(a.shape) == 1 else a.shape
    sb = (*b.shape, 1) if len(b.shape) == 1 else b.shape
    m, k, n = sa[-2], sa[-1], sb[-1]
    batch = math.prod(torch.broadcast_shapes(sa[:-2], sb[:-2]))
    if a.static and b.static:
        return []
    if b.static:  # x @ W: W is k x n, one group per leading index of W
        g = math.prod(sb[:-2])
        return [_matrix(name, src, a, out, k, n, g, batch * m // g)]
    if a.static:  # W @ x: the columns of x are the vectors
        g = math.prod(sa[:-2])
        return [_matrix(name, src, b, out, k, m, g, batch * n // g)]
    return [_dynamic(name, src, a, out, batch * m * k * n, m=m, k=k, n=n, batch=batch)]


def _einsum(name: str, src: str, args: tuple, out: T | None) -> list[Op]:
    eq = str(args[0]).replace(" ", "")
    ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
    if not all(isinstance(o, T) for o in ops):
        return []
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    nd = max((len(o.shape) - len(t.replace("...", "")) for t, o in zip(terms, ops) if "..." in t), default=0)
    ell = "".join(chr(0x391 + i) for i in range(nd))
    sizes: dict[str, int] = {}
    expanded = []
    for t, o in zip(terms, ops):
        if "..." in t:
            t = t.replace("...", ell[nd - (len(o.shape) - len(t.replace("...", ""))):])
        for c, d in zip(t, o.shape):
            sizes[c] = max(sizes.get(c, 1), d)
        expanded.append(set(t))
    if arrow:
        outl = set(rhs.replace("...", ell))
    else:
        outl = {c for c in sizes if sum(c in s for s in expanded) == 1} | set(ell)
    if len(ops) < 2:
        return [_simple(name, OpKind.OTHER, src, ops[0] if ops else None, out)] if out else []
    size = lambda letters: math.prod(sizes[c] for c in letters)  # noqa: E731
    macs = size(sizes)
    if len(ops) == 2 and ops[0].static != ops[1].static:
        w, x = (expanded[0], expanded[1]) if ops[0].static else (expanded[1], expanded[0])
        xt = ops[1] if ops[0].static else ops[0]
        shared = w & x
        return [_matrix(name, src, xt, out, size(shared - outl), size(w - x), size(shared & outl), size(x - w),
                        equation=eq)]
    if all(o.static for o in ops):
        return []
    return [_dynamic(name, src, ops[0], out, macs, equation=eq)]


def _sdpa(name: str, src: str, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    """Scaled dot-product attention as three ops: ``.qk`` (QK^T), ``.softmax`` and ``.av`` (weights x V)."""
    q, k, v = (_arg(args, kwargs, i, key) for i, key in enumerate(("query", "key", "value")))
    batch, L, E = math.prod(q.shape[:-2]), q.shape[-2], q.shape[-1]
    S, Ev = k.shape[-2], v.shape[-1]
    scores = T((*q.shape[:-1], S))
    return [_dynamic(f"{name}.qk", src, q, scores, batch * L * S * E, m=L, k=E, n=S, batch=batch),
            _simple(f"{name}.softmax", OpKind.SOFTMAX, src, scores, scores, 3.0),
            _dynamic(f"{name}.av", src, scores, out, batch * L * S * Ev, m=L, k=S, n=Ev, batch=batch)]


def _pool_window(kernel: Any, nd: int) -> int:
    return math.prod(_tup(kernel, nd)) if kernel is not None else 1


# ---------------------------------------------------------------------------------------------- functions
_FUNCTIONAL = ("static weight used by a function call: accuracy.convert cannot place it on crossbars, so it is "
               "priced on the digital units")


def function_ops(name: str, fn: str, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    """Ops for one call of the function ``fn`` (a :func:`normalize`-d name) outside any recognised module.

    A static weight used by a function call (``F.linear(x, self.w)``, ``x @ self.w``, ``F.conv2d(x, self.k)``)
    is a DIGITAL_MATMUL, not a crossbar MATRIX op: only the modules of :func:`imcnas.workload.analog_layers`
    run analog, in the cost model as in ``imcnas.accuracy.convert``. A function without a rule is UNSUPPORTED.
    """
    return [dataclasses.replace(o, kind=OpKind.DIGITAL_MATMUL, meta={**o.meta, "digital": _FUNCTIONAL})
            if o.kind is OpKind.MATRIX else o for o in _function_ops(name, fn, args, kwargs, out)]


def _function_ops(name: str, fn: str, args: tuple, kwargs: dict, out: T | None) -> list[Op]:
    from imcnas.workload._modules import keeps_static  # _modules builds on this module

    ts = tensors((args, kwargs))
    if fn in SKIP or not ts or (all(t.static for t in ts) and not keeps_static(fn)):
        return []
    x = ts[0]
    if fn in ("matmul", "mm", "bmm"):
        return _mm(name, fn, args[0], args[1], out)
    if fn == "rmatmul":
        return _mm(name, "matmul", args[1], args[0], out)
    if fn in ("addmm", "baddbmm", "addbmm"):
        return _mm(name, fn, _arg(args, kwargs, 1, "mat1" if fn == "addmm" else "batch1"),
                   _arg(args, kwargs, 2, "mat2" if fn == "addmm" else "batch2"), out)
    if fn == "einsum":
        return _einsum(name, fn, args, out)
    if fn == "linear":
        w = _arg(args, kwargs, 1, "weight")
        if len(w.shape) != 2 or not w.static:
            return _mm(name, fn, x, T((w.shape[-1], w.shape[0]) if len(w.shape) == 2 else w.shape, w.static), out)
        return [_matrix(name, fn, x, out, w.shape[1], w.shape[0], 1, x.numel // max(w.shape[1], 1),
                        bias=_arg(args, kwargs, 2, "bias") is not None)]
    if fn.startswith("conv") and fn[-2:] in ("1d", "2d", "3d"):
        w = _arg(args, kwargs, 1, "weight")
        transposed = fn.startswith("conv_transpose")
        groups = int(_arg(args, kwargs, 6, "groups", 1) or 1)
        op = _conv(name, fn, x, out, w.shape, groups, transposed, stride=_arg(args, kwargs, 3, "stride", 1),
                   padding=_arg(args, kwargs, 4, "padding", 0))
        if not w.static:
            return [_dynamic(name, fn, x, out, op.macs)]
        return [op]
    if fn == "embedding":
        idx, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
        if not w.static:
            return []
        return [Op(name=name, kind=OpKind.EMBEDDING, module=fn, rows=w.shape[0], cols=w.shape[1],
                   vectors=idx.numel, elements=out.numel if out else 0, in_shape=idx.shape,
                   out_shape=out.shape if out else ())]
    if fn == "scaled_dot_product_attention":
        return _sdpa(name, fn, args, kwargs, out)
    if fn in _AGGR or (fn == "scatter" and "reduce" in kwargs):
        src = ts[-1]
        dim = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), kwargs.get("dim", 0))
        edges = src.shape[dim] if src.shape else 0
        return [_simple(name, OpKind.AGGREGATE, fn, src, out, flops=src.numel, edges=edges)]
    if out is None:
        return []
    if fn in _ACT1 | _ACT3 | _ACT4:
        return [_simple(name, OpKind.ACTIVATION, fn, x, out, 1.0 if fn in _ACT1 else 3.0 if fn in _ACT3 else 4.0)]
    if fn in _NORM:
        return [_simple(name, OpKind.NORM, fn, x, out, 2.0 if fn == "batch_norm" else 5.0)]
    if fn in _SOFTMAX:
        return [_simple(name, OpKind.SOFTMAX, fn, x, out, 3.0)]
    if "pool" in fn:
        nd = int(fn[-2]) if fn[-1] == "d" and fn[-2].isdigit() else max(len(out.shape) - 2, 1)
        if fn.startswith("adaptive"):
            return [_simple(name, OpKind.POOL, fn, x, out, flops=x.numel)]
        window = _pool_window(_arg(args, kwargs, 1, "kernel_size"), nd)
        return [_simple(name, OpKind.POOL, fn, x, out, float(window), kernel=window)]
    if fn in _ELEM:
        return [_simple(name, OpKind.ELEMENTWISE, fn, x, out)]
    if fn in _REDUCE:
        return [_simple(name, OpKind.OTHER, fn, x, out, flops=x.numel)]
    if fn in _MISC:
        return [_simple(name, OpKind.OTHER, fn, x, out)]
    return [unsupported(name, fn, x, out, f"no cost rule for function '{fn}'")]
