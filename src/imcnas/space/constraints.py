"""Constraints between parameters: Python callables, or safe expressions over sample keys (for YAML).

Expressions are parsed once with ``ast`` and interpreted by a tiny evaluator that knows only: sample keys
(dotted names such as ``adc.bits`` allowed), numbers, strings, ``+ - * / // % **``, comparisons (also ``in``),
``and``/``or``/``not`` and the functions min, max, abs, log2, ceil, floor. Anything else is a one-line
ConfigError when the constraint is built.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Callable, Iterable, Mapping

from imcnas.errors import ConfigError

Sample = dict[str, Any]
_SCALARS = (bool, int, float, str)

_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "log2": math.log2,
                                         "ceil": math.ceil, "floor": math.floor}
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
           ast.Pow: lambda a, b: a ** b}
_CMPOPS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
           ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
           ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


def _dotted(node: ast.AST) -> str | None:
    """``adc.bits`` parses as Attribute(Name(adc), bits): give back the dotted key, or None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)) is not None:
        return f"{base}.{node.attr}"
    return None


def _names(node: ast.AST, text: str) -> set[str]:
    """Check that the tree only uses the allowed syntax; return the sample keys it reads."""
    if isinstance(node, ast.Expression):
        return _names(node.body, text)
    if (key := _dotted(node)) is not None:
        return {key}
    if isinstance(node, ast.Constant) and isinstance(node.value, _SCALARS):
        return set()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
            and not node.keywords and node.args:
        return set().union(*(_names(a, text) for a in node.args))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _names(node.left, text) | _names(node.right, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
        return _names(node.operand, text)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_names(v, text) for v in node.values))
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        return set().union(*(_names(v, text) for v in [node.left, *node.comparators]))
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(set(), *(_names(v, text) for v in node.elts))
    what = f"call to {ast.unparse(node.func)}()" if isinstance(node, ast.Call) else type(node).__name__
    raise ConfigError(f"constraint '{text}': unsupported syntax ({what}); allowed: keys, numbers, + - * / ** "
                      f"comparisons, and/or/not, {', '.join(_FUNCS)}")


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if (key := _dotted(node)) is not None:
        return values[key]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_eval(a, values) for a in node.args))  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, values), _eval(node.right, values)
        if not all(isinstance(v, (int, float)) for v in (a, b)):
            raise TypeError("arithmetic needs numbers")
        if isinstance(node.op, ast.Pow) and abs(b) > 1024:
            raise ValueError("exponent too large")
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, values)
        return (not v) if isinstance(node.op, ast.Not) else (-v if isinstance(node.op, ast.USub) else +v)
    if isinstance(node, ast.BoolOp):
        results = (_eval(v, values) for v in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, values)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(v, values) for v in node.elts)
    raise TypeError(type(node).__name__)  # pragma: no cover - _names rejected it


class Constraint:
    """A predicate over a sample: ``Constraint(fn, message)`` from Python, ``Constraint.expr(text)`` from YAML.

    ``names`` (the keys it reads; known for expressions) lets the space skip it when one of them is inactive.
    """

    def __init__(self, fn: Callable[[Sample], bool], message: str = "", *,
                 names: Iterable[str] | None = None) -> None:
        self.fn = fn
        self.message = message or getattr(fn, "__name__", "constraint")
        self.names = frozenset(names) if names is not None else None
        self.expression: str | None = None

    @classmethod
    def expr(cls, expression: str, message: str | None = None) -> "Constraint":
        """A constraint from a safe expression such as ``"adc.bits >= log2(xbar.rows)"``."""
        if not isinstance(expression, str):
            raise ConfigError(f"constraint expression must be a string, got {expression!r}")
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except SyntaxError as err:
            raise ConfigError(f"constraint '{expression}': invalid syntax ({err.msg})") from None
        names = _names(tree, expression)
        out = cls(lambda s: bool(_eval(tree.body, s)), message or expression, names=names)
        out.expression = expression
        return out

    def applies(self, sample: Mapping[str, Any]) -> bool:
        """False when a key it reads is absent (inactive) from the sample."""
        return self.names is None or all(n in sample for n in self.names)

    def __call__(self, sample: Mapping[str, Any]) -> bool:
        return bool(self.fn(dict(sample)))

    def to_dict(self) -> dict[str, Any]:
        if self.expression is None:
            raise ConfigError(f"constraint '{self.message}' is a Python callable and cannot be written to YAML")
        out: dict[str, Any] = {"expr": self.expression}
        if self.message != self.expression:
            out["message"] = self.message
        return out

    def __repr__(self) -> str:
        return f"Constraint({self.expression or self.message!r})"
