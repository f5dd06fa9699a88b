"""Lowering of DiffSL expressions to arrays of scalar graph nodes.

An element expression is evaluated over its *index space* (the letters of the tensor being
defined, then at most one contraction letter; ``diffsl-reference.md`` section 4.5). Each
reference is re-axised by letter, operands broadcast axis by axis (equal extents or 1), and
the result is an object array of node ids of rank ``len(space)`` together with its layout.
Errors are reported through the :class:`Scope` and abort the element with :class:`Abort`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.diffsl import _syntax as syntax
from diffid_plugins.diffsl._ir import DEP_DUDT, DEP_N, DEP_P, DEP_T, DEP_U, Graph, eval_int
from diffid_plugins.diffsl._layout import Layout
from diffid_plugins.diffsl._ops import BUILTINS

__all__ = ["Abort", "Scope", "Symbol", "Value", "ExprLowering", "fmt_shape", "letters_of"]

ObjArray = NDArray[Any]


class Abort(Exception):
    """Stops the lowering of one element (its error, if any, was already reported)."""


@dataclass
class Symbol:
    """A tensor or an element label, as later expressions see it."""

    name: str
    nodes: ObjArray
    layout: Layout
    span: syntax.Span
    poisoned: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.nodes.shape)


@dataclass
class Value:
    """The result of lowering an expression: node ids, layout and a literal-zero flag."""

    nodes: ObjArray
    layout: Layout
    literal_zero: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.nodes.shape)


class Scope:
    """What expression lowering needs from the analysis: symbols and error reporting."""

    symbols: dict[str, Symbol]

    def error(self, message: str, span: syntax.Span | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def source_of(self, node: Any) -> str:  # pragma: no cover
        raise NotImplementedError


def fmt_shape(shape: tuple[int, ...]) -> str:
    """Render a shape as the reference does: ``[3, 2]``."""
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def trim(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Drop trailing unit axes (the reference prints shapes this way)."""
    s = list(shape)
    while s and s[-1] == 1:
        s.pop()
    return tuple(s)


def letters_of(expr: syntax.Expr, out: list[str]) -> None:
    """Collect index letters in order of first appearance (section 4.5, rule 1)."""
    if isinstance(expr, syntax.Name):
        for c in expr.indices:
            if c not in out:
                out.append(c)
    elif isinstance(expr, syntax.Slice):
        if expr.last is not None:
            letters_of(expr.target, out)
    elif isinstance(expr, syntax.UnaryOp):
        letters_of(expr.operand, out)
    elif isinstance(expr, syntax.BinOp):
        letters_of(expr.left, out)
        letters_of(expr.right, out)
    elif isinstance(expr, syntax.Call):
        args = expr.args[2:] if expr.func == "interp1d" else expr.args
        for a in args:
            letters_of(a, out)


#: Largest tensor (elements) and largest index literal the compiler accepts: every element
#: is generated as code, so a bigger model is a mistake, not a workload.
MAX_ELEMENTS = 1_000_000
MAX_INDEX_LITERAL = 2**31 - 1


def int_expr(e: syntax.IntExpr) -> tuple:
    """Convert an index-expression AST to the graph's tuple form."""
    if isinstance(e, syntax.IntLiteral):
        return ("lit", e.value)
    if isinstance(e, syntax.ModelIndex):
        return ("N",)
    if isinstance(e, syntax.IntUnaryOp):
        inner = int_expr(e.operand)
        return ("neg", inner) if e.op == "-" else inner
    return (e.op, int_expr(e.left), int_expr(e.right))


_DEP_NAMES = ((DEP_U, "u"), (DEP_DUDT, "dudt"), (DEP_T, "t"), (DEP_P, "in"), (DEP_N, "N"))


def dep_name(deps: int) -> str:
    """Name of the first non-constant root a dependency mask mentions."""
    for flag, name in _DEP_NAMES:
        if deps & flag:
            return name
    return ""


class ExprLowering:
    """Lower expressions of one element over an index space."""

    def __init__(self, scope: Scope, graph: Graph, space: list[str]) -> None:
        self.scope = scope
        self.g = graph
        self.space = space
        self.rank = len(space)

    # ---------------------------------------------------------------- helpers
    def fail(self, message: str, span: syntax.Span | None) -> Abort:
        self.scope.error(message, span)
        return Abort()

    def scalar(self, nid: int, literal_zero: bool = False) -> Value:
        shape = (1,) * self.rank
        arr = np.empty(shape, dtype=object)
        arr[...] = nid
        return Value(arr, Layout.dense(shape), literal_zero)

    def elementwise(self, fn: Callable[..., int], *arrays: ObjArray) -> ObjArray:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        out = np.empty(shape, dtype=object)
        bs = [np.broadcast_to(a, shape) for a in arrays]
        for idx in np.ndindex(*shape):
            out[idx] = fn(*(b[idx] for b in bs))
        return out

    def broadcast_shape(self, shapes: list[tuple[int, ...]]) -> tuple[int, ...] | None:
        result = []
        for extents in zip(*shapes, strict=True):
            big = {e for e in extents if e != 1}
            if len(big) > 1:
                return None
            result.append(big.pop() if big else 1)
        return tuple(result)

    # ---------------------------------------------------------------- dispatch
    def lower(self, expr: syntax.Expr) -> Value:
        if isinstance(expr, syntax.Number):
            return self.scalar(self.g.const(expr.value), literal_zero=expr.value == 0.0)
        if isinstance(expr, syntax.Name):
            return self.reference(expr)
        if isinstance(expr, syntax.Slice):
            return self.slice(expr)
        if isinstance(expr, syntax.UnaryOp):
            v = self.lower(expr.operand)
            if expr.op == "+":
                return Value(v.nodes, v.layout)
            return Value(self.elementwise(lambda a: self.g.op("neg", a), v.nodes), v.layout)
        if isinstance(expr, syntax.BinOp):
            return self.binop(expr)
        if isinstance(expr, syntax.Call):
            return self.call(expr)
        raise self.fail(f"unsupported expression {type(expr).__name__}", None)

    # ---------------------------------------------------------------- references
    def lookup(self, name: str, span: syntax.Span) -> Symbol:
        sym = self.scope.symbols.get(name)
        if sym is None:
            raise self.fail(f"cannot find variable {name}", span)
        if sym.poisoned:
            raise Abort()
        return sym

    def reference(self, ref: syntax.Name) -> Value:
        if ref.name in ("t", "N") and ref.name not in self.scope.symbols:
            if ref.indices:
                raise self.fail("too many permutation indices", ref.span)
            return self.scalar(self.g.var(ref.name))
        sym = self.lookup(ref.name, ref.span)
        shape, q = sym.shape, len(ref.indices)
        if q > len(shape):
            raise self.fail("too many permutation indices", ref.span)
        need = len(trim(shape))
        if need > q:
            raise self.fail(
                f"cannot index variable {ref.name} with {q} indices. "
                f"Expected at least {need} indices",
                ref.span,
            )
        nodes = sym.nodes.reshape(shape[:q])
        mask = sym.layout.mask.reshape(shape[:q])
        return self.align(nodes, mask, sym.layout.kind, ref.indices, ref.span)

    def align(
        self,
        nodes: ObjArray,
        mask: NDArray[np.bool_],
        kind: str,
        letters: tuple[str, ...],
        span: syntax.Span,
    ) -> Value:
        """Place the axes of ``nodes`` at the positions of their letters in the space."""
        out_shape = [1] * self.rank
        for k, c in enumerate(letters):
            pos = self.space.index(c)
            if out_shape[pos] != 1 and out_shape[pos] != nodes.shape[k]:
                raise self.fail(f"repeated index {c} needs equal extents", span)
            out_shape[pos] = max(out_shape[pos], nodes.shape[k])
        out = np.empty(tuple(out_shape), dtype=object)
        out_mask = np.zeros(tuple(out_shape), dtype=bool)
        positions = [self.space.index(c) for c in letters]
        for idx in np.ndindex(*out_shape):
            src = tuple(idx[p] for p in positions)
            out[idx] = nodes[src]
            out_mask[idx] = mask[src]
        if kind == "dense" or len(set(letters)) < len(letters):
            layout = (
                Layout.dense(tuple(out_shape)) if out_mask.all() else Layout("sparse", out_mask)
            )
        else:
            layout = Layout(kind, out_mask)
        return Value(out, layout)

    def slice(self, expr: syntax.Slice) -> Value:
        target = expr.target
        sym = self.lookup(target.name, target.span)
        if len(sym.shape) != 1 or not sym.layout.is_dense:
            raise self.fail(
                f"can only index dense 1D variables. Variable {target.name} has layout "
                f"{sym.layout.describe()} with shape {fmt_shape(sym.shape)}",
                expr.span,
            )
        if len(target.indices) > 1:
            raise self.fail("too many permutation indices", target.span)
        n = sym.shape[0]
        first = int_expr(expr.first)
        table = tuple(int(x) for x in sym.nodes)
        if expr.last is None:
            return self.scalar(self.pick(first, table, target.name, expr.span))
        if not target.indices:
            raise self.fail(
                f"a slice needs an index letter to align with, e.g. {target.name}_i[...]",
                expr.span,
            )
        last = int_expr(expr.last)
        widths = {self.width(first, last, nv) for nv in range(4)}
        if len(widths) != 1 or None in widths:
            raise self.fail("the width of a slice must not depend on N", expr.span)
        width = widths.pop()
        if width is None or width <= 0:
            raise self.fail("range end must be greater than range start", expr.span)
        if width > MAX_ELEMENTS:
            raise self.fail(
                f"slice of width {width} is too large for {target.name}, which has {n} elements",
                expr.span,
            )
        picked = np.empty((width,), dtype=object)
        for k in range(width):
            picked[k] = self.pick(("+", first, ("lit", k)), table, target.name, expr.span)
        return self.align(picked, np.ones(width, dtype=bool), "dense", target.indices, expr.span)

    @staticmethod
    def width(first: tuple, last: tuple, nv: int) -> int | None:
        a, b = eval_int(first, nv), eval_int(last, nv)
        return None if a is None or b is None else b - a

    def pick(self, index: tuple, table: tuple[int, ...], name: str, span: syntax.Span) -> int:
        from diffid_plugins.diffsl._ir import int_max_literal, int_uses_n

        if int_uses_n(index):
            big = int_max_literal(index)
            if big > MAX_INDEX_LITERAL:
                raise self.fail(
                    f"index literal {big} is too large (at most {MAX_INDEX_LITERAL})", span
                )
            return self.g.select(index, table)
        k = eval_int(index, 0)
        if k is None:
            raise self.fail("division by zero in an index expression", span)
        if not 0 <= k < len(table):
            raise self.fail(
                f"index {k} is out of range for {name}, which has {len(table)} elements",
                span,
            )
        return table[k]

    # ---------------------------------------------------------------- operators and calls
    def binop(self, expr: syntax.BinOp) -> Value:
        a, b = self.lower(expr.left), self.lower(expr.right)
        shape = self.broadcast_shape([a.shape, b.shape])
        if shape is None:
            raise self.fail(
                f"cannot broadcast shapes: {fmt_shape(trim(a.shape))}, "
                f"{fmt_shape(trim(b.shape))}. "
                f"Op is {expr.op}, lhs is {self.scope.source_of(expr.left)}, "
                f"rhs is {self.scope.source_of(expr.right)}.",
                expr.span,
            )
        name = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[expr.op]
        if expr.op in "+-":
            layout = a.layout.union(b.layout, shape)
        else:
            if expr.op == "/" and not b.layout.is_dense:
                am, bm = (
                    np.broadcast_to(a.layout.mask, shape),
                    np.broadcast_to(b.layout.mask, shape),
                )
                if a.layout.is_dense or not np.array_equal(am, bm):
                    raise self.fail(
                        "divide-by-zero detected, cannot only divide by a sparse layout if the "
                        "numerator has the same sparsity pattern. Op is /, lhs is "
                        f"{self.scope.source_of(expr.left)}, rhs is "
                        f"{self.scope.source_of(expr.right)}.",
                        expr.span,
                    )
            layout = a.layout.intersection(b.layout, shape)
        nodes = self.elementwise(lambda x, y: self.g.op(name, x, y), a.nodes, b.nodes)
        if expr.op == "/" and not b.layout.is_dense:
            # sparse / sparse with one pattern: structural zeros stay zero (not 0/0)
            nodes[~np.broadcast_to(layout.mask, shape)] = self.g.zero
        return Value(nodes, layout)

    def call(self, expr: syntax.Call) -> Value:
        if expr.func == "interp1d":
            return self.interp1d(expr)
        arity = BUILTINS.get(expr.func)
        if arity is None:
            raise self.fail(f"unknown function call '{expr.func}'", expr.span)
        if len(expr.args) != arity:
            raise self.fail(
                f"function '{expr.func}' takes {arity} argument{'s' if arity > 1 else ''}, "
                f"got {len(expr.args)}",
                expr.span,
            )
        args = [self.lower(a) for a in expr.args]
        shape = self.broadcast_shape([a.shape for a in args])
        if shape is None:
            shapes = ", ".join(fmt_shape(trim(a.shape)) for a in args)
            raise self.fail(f"cannot broadcast shapes: {shapes}", expr.span)
        nodes = self.elementwise(lambda *xs: self.g.op(expr.func, *xs), *(a.nodes for a in args))
        return Value(nodes, Layout.dense(shape))

    def interp1d(self, expr: syntax.Call) -> Value:
        if len(expr.args) != 3:
            raise self.fail(
                f"interp1d requires 3 arguments (x_i, y_i, q), got {len(expr.args)}", expr.span
            )
        table_letters: list[str] = []
        letters_of(expr.args[0], table_letters)
        sub = ExprLowering(self.scope, self.g, table_letters)
        cols = []
        for k, (arg, which) in enumerate(zip(expr.args[:2], ("first", "second"), strict=True)):
            extra: list[str] = []
            letters_of(arg, extra)
            for c in extra:
                if c not in table_letters:
                    raise self.fail(
                        f"cannot find index {c} in lhs indices {table_letters!r}", arg.span
                    )
            v = sub.lower(arg)
            deps = 0
            for nid in v.nodes.flat:
                deps |= self.g.nodes[int(nid)].deps
            if deps:
                raise self.fail(
                    f"interp1d argument {k + 1} depends on '{dep_name(deps)}' which is not "
                    "compile-time constant",
                    arg.span,
                )
            if len(trim(v.shape)) > 1:
                raise self.fail(
                    f"interp1d {which} argument must be 1D, got rank {len(v.shape)}", arg.span
                )
            if not v.layout.is_dense:
                raise self.fail(f"interp1d {which} argument must be a dense vector", arg.span)
            cols.append(tuple(self.g.value(int(n)) for n in v.nodes.flat))
        xs, ys = cols
        if len(xs) != len(ys):
            raise self.fail(
                f"interp1d: x and y must have the same shape, got {fmt_shape((len(xs),))} and "
                f"{fmt_shape((len(ys),))}",
                expr.span,
            )
        for x0, x1 in itertools.pairwise(xs):
            if not x1 > x0:
                raise self.fail(
                    "interp1d: x must be strictly increasing, found non-increasing pair "
                    f"({x0:g}, {x1:g})",
                    expr.args[0].span,
                )
        table = self.g.table(xs, ys)
        q = self.lower(expr.args[2])
        nodes = self.elementwise(lambda n: self.g.interp(table, n), q.nodes)
        return Value(nodes, Layout.dense(q.shape))
