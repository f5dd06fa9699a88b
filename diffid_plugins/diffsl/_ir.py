"""Scalar expression graph: the intermediate representation of a DiffSL model.

Every tensor of a model has a shape known at compile time, so the analysis lowers each
tensor element to a scalar expression over a handful of leaves (``t``, the states ``u``, the
state derivatives ``dudt``, the inputs ``p`` and the model index ``N``). The nodes live in
one :class:`Graph`, hash-consed (equal sub-expressions are shared, which gives common
sub-expression elimination for free) and simplified on construction: operations on
constants are folded with the run-time semantics of :mod:`._ops`, and ``x + 0``, ``x * 1``,
``x * 0`` are removed (the reference stores sparse tensors without their structural zeros,
so a product with a structural zero is zero there too).

Differentiation (:meth:`Graph.derivative`) is forward mode over the graph and yields new
nodes, so exact Jacobians go through the same code generator as everything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from diffid_plugins.diffsl._ops import fold, int_div, int_mod

__all__ = ["DEP_DUDT", "DEP_N", "DEP_P", "DEP_T", "DEP_U", "Graph", "IntExpr", "eval_int"]

DEP_T = 1
DEP_U = 2
DEP_DUDT = 4
DEP_P = 8
DEP_N = 16

_VAR_DEPS = {"t": DEP_T, "u": DEP_U, "dudt": DEP_DUDT, "p": DEP_P, "N": DEP_N}

#: An integer index expression: ``("lit", k)``, ``("N",)``, ``("neg", a)`` or ``(op, a, b)``
#: with ``op`` in ``+ - * / %``.
IntExpr = tuple


def eval_int(e: IntExpr, n: int) -> int | None:
    """Evaluate an index expression for model index ``n``; ``None`` on division by zero."""
    tag = e[0]
    if tag == "lit":
        return int(e[1])
    if tag == "N":
        return n
    if tag == "neg":
        v = eval_int(e[1], n)
        return None if v is None else -v
    a = eval_int(e[1], n)
    b = eval_int(e[2], n)
    if a is None or b is None:
        return None
    if tag == "+":
        return a + b
    if tag == "-":
        return a - b
    if tag == "*":
        return a * b
    if b == 0:
        return None
    return int_div(a, b) if tag == "/" else int_mod(a, b)


def int_uses_n(e: IntExpr) -> bool:
    """Whether an index expression mentions ``N``."""
    if e[0] == "N":
        return True
    if e[0] == "lit":
        return False
    return any(int_uses_n(x) for x in e[1:])


def int_max_literal(e: IntExpr) -> int:
    """Largest absolute integer literal in an index expression (0 if it has none)."""
    if e[0] == "lit":
        return abs(int(e[1]))
    if e[0] == "N":
        return 0
    return max(int_max_literal(x) for x in e[1:])


@dataclass(frozen=True)
class Node:
    """One node: ``kind`` is ``const``, ``var``, ``op``, ``select`` or ``interp``."""

    kind: str
    key: tuple
    deps: int


class Graph:
    """A hash-consed scalar expression graph (node ids are topologically ordered)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._index: dict[tuple, int] = {}
        self._const_values: dict[int, float] = {}
        self.tables: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
        self._deriv_cache: dict[tuple[int, str], dict[int, int]] = {}
        self.zero = self.const(0.0)
        self.one = self.const(1.0)

    # ------------------------------------------------------------------ construction
    def _add(self, kind: str, key: tuple, deps: int) -> int:
        found = self._index.get(key)
        if found is not None:
            return found
        nid = len(self.nodes)
        self.nodes.append(Node(kind, key, deps))
        self._index[key] = nid
        return nid

    def const(self, value: float) -> int:
        """The constant ``value`` (``-0.0`` and NaN are kept distinct by their bits)."""
        value = float(value)
        nid = self._add("const", ("c", value.hex()), 0)
        self._const_values[nid] = value
        return nid

    def var(self, name: str, index: int = 0) -> int:
        """A leaf: ``t``, ``N``, ``u[i]``, ``dudt[i]`` or ``p[i]``."""
        return self._add("var", ("v", name, index), _VAR_DEPS[name])

    def is_const(self, nid: int) -> bool:
        return nid in self._const_values

    def value(self, nid: int) -> float:
        """The value of a constant node."""
        return self._const_values[nid]

    def op(self, name: str, *args: int) -> int:
        """Apply a scalar operation, folding and simplifying where exact."""
        if all(a in self._const_values for a in args):
            return self.const(fold(name, tuple(self._const_values[a] for a in args)))
        z, o = self.zero, self.one
        if name == "add":
            a, b = args
            if a == z:
                return b
            if b == z:
                return a
        elif name == "sub":
            a, b = args
            if b == z:
                return a
            if a == z:
                return self.op("neg", b)
        elif name == "mul":
            a, b = args
            if z in (a, b):
                return z
            if a == o:
                return b
            if b == o:
                return a
        elif name == "div":
            if args[1] == o:
                return args[0]
        elif name == "neg":
            inner = self.nodes[args[0]]
            if inner.kind == "op" and inner.key[1] == "neg":
                return int(inner.key[2])
        deps = 0
        for a in args:
            deps |= self.nodes[a].deps
        return self._add("op", ("o", name, *args), deps)

    def select(self, index: IntExpr, table: tuple[int, ...]) -> int:
        """``table[index(N)]``, NaN when the index is out of range at run time."""
        deps = DEP_N
        for a in table:
            deps |= self.nodes[a].deps
        if len(set(table)) == 1 and len(table) > 0:
            # same value everywhere: the index only matters for the range check
            pass
        return self._add("select", ("s", index, tuple(table)), deps)

    def table(self, xs: tuple[float, ...], ys: tuple[float, ...]) -> int:
        """Register an ``interp1d`` table; returns its id."""
        entry = (xs, ys)
        if entry in self.tables:
            return self.tables.index(entry)
        self.tables.append(entry)
        return len(self.tables) - 1

    def interp(self, table: int, q: int, slope: bool = False) -> int:
        """Piecewise-linear interpolation of table ``table`` at ``q`` (or its slope)."""
        if self.is_const(q):
            return self.const(interp_value(self.tables[table], self.value(q), slope))
        tag = "interp_slope" if slope else "interp"
        return self._add("interp", (tag, table, q), self.nodes[q].deps)

    # ------------------------------------------------------------------ arithmetic sugar
    def add(self, a: int, b: int) -> int:
        return self.op("add", a, b)

    def mul(self, a: int, b: int) -> int:
        return self.op("mul", a, b)

    def sum(self, items: list[int]) -> int:
        """Sum of several nodes (left to right, as the reference accumulates)."""
        acc = self.zero
        for it in items:
            acc = self.add(acc, it)
        return acc

    # ------------------------------------------------------------------ differentiation
    def derivative(self, nid: int, wrt: str) -> dict[int, int]:
        """Forward-mode derivative of node ``nid`` with respect to the leaves ``wrt``.

        Returns a sparse map ``leaf index -> derivative node`` (``wrt`` is ``"u"``,
        ``"p"`` or ``"dudt"``). Derivatives of piecewise-constant helpers are zero.
        """
        flag = _VAR_DEPS[wrt]
        for node_id in range(nid + 1):
            # iterative fill in topological order avoids deep recursion
            if (node_id, wrt) not in self._deriv_cache:
                self._deriv_cache[(node_id, wrt)] = (
                    self._derive(node_id, wrt) if self.nodes[node_id].deps & flag else {}
                )
        return self._deriv_cache[(nid, wrt)]

    def _d(self, nid: int, wrt: str) -> dict[int, int]:
        return self._deriv_cache[(nid, wrt)]

    def _combine(self, terms: list[tuple[int, dict[int, int]]]) -> dict[int, int]:
        out: dict[int, int] = {}
        for factor, d in terms:
            for k, v in d.items():
                term = self.mul(factor, v)
                out[k] = self.add(out[k], term) if k in out else term
        return {k: v for k, v in out.items() if v != self.zero}

    def _derive(self, nid: int, wrt: str) -> dict[int, int]:
        node = self.nodes[nid]
        if node.kind == "var":
            return {node.key[2]: self.one} if node.key[1] == wrt else {}
        if node.kind == "select":
            index, table = node.key[1], node.key[2]
            ds = [self._d(a, wrt) for a in table]
            keys = sorted({k for d in ds for k in d})
            return {k: self.select(index, tuple(d.get(k, self.zero) for d in ds)) for k in keys}
        if node.kind == "interp":
            if node.key[0] == "interp_slope":
                return {}
            table, q = node.key[1], node.key[2]
            return self._combine([(self.interp(table, q, slope=True), self._d(q, wrt))])
        return self._derive_op(nid, node.key[1], node.key[2:], wrt)

    def _derive_op(self, nid: int, name: str, args: tuple, wrt: str) -> dict[int, int]:
        op, c = self.op, self.const
        a = args[0]
        da = self._d(a, wrt)
        if name in ("add", "sub"):
            sign = c(1.0) if name == "add" else c(-1.0)
            return self._combine([(self.one, da), (sign, self._d(args[1], wrt))])
        if name == "neg":
            return self._combine([(c(-1.0), da)])
        if name == "mul":
            b = args[1]
            return self._combine([(b, da), (a, self._d(b, wrt))])
        if name == "div":
            b = args[1]
            inv = op("div", self.one, b)
            return self._combine([(inv, da), (op("neg", op("div", nid, b)), self._d(b, wrt))])
        if name in ("pow", "min", "max", "copysign"):
            return self._derive_binary(nid, name, a, args[1], wrt)
        factor = {
            "sin": lambda: op("cos", a),
            "cos": lambda: op("neg", op("sin", a)),
            "tan": lambda: op("div", self.one, op("mul", op("cos", a), op("cos", a))),
            "exp": lambda: nid,
            "log": lambda: op("div", self.one, a),
            "log10": lambda: op("div", self.one, op("mul", a, c(math.log(10.0)))),
            "sqrt": lambda: op("div", c(0.5), nid),
            "abs": lambda: op("d_abs", a),
            "sigmoid": lambda: op("mul", nid, op("sub", self.one, nid)),
            "tanh": lambda: op("sub", self.one, op("mul", nid, nid)),
            "sinh": lambda: op("cosh", a),
            "cosh": lambda: op("sinh", a),
            "arcsinh": lambda: op(
                "div", self.one, op("sqrt", op("add", op("mul", a, a), self.one))
            ),
            "arccosh": lambda: op(
                "div",
                self.one,
                op("mul", op("sqrt", op("sub", a, self.one)), op("sqrt", op("add", a, self.one))),
            ),
        }.get(name)
        if factor is None:  # heaviside and the piecewise-constant d_* helpers
            return {}
        return self._combine([(factor(), da)])

    def _derive_binary(self, nid: int, name: str, a: int, b: int, wrt: str) -> dict[int, int]:
        op = self.op
        da, db = self._d(a, wrt), self._d(b, wrt)
        if name == "pow":
            fa = op("mul", b, op("pow", a, op("sub", b, self.one)))
            return self._combine([(fa, da), (op("d_pow_dy", a, b), db)])
        if name in ("min", "max"):
            sel = op("d_minsel" if name == "min" else "d_maxsel", a, b)
            return self._combine([(sel, da), (op("sub", self.one, sel), db)])
        # copysign(a, b) = |a| sign(b): d/da = sign(a) sign(b), d/db = 0
        sgn = op("copysign", op("copysign", self.one, a), b)
        return self._combine([(sgn, da)])


def interp_value(
    table: tuple[tuple[float, ...], tuple[float, ...]], q: float, slope: bool
) -> float:
    """Reference ``interp1d``: clamp, then linear on segment ``max k: x_k <= q``, k <= n-2."""
    xs, ys = table
    n = len(xs)
    if n == 1:
        return 0.0 if slope else ys[0]
    if q != q:
        return math.nan
    k = 0
    while k < n - 2 and xs[k + 1] <= q:
        k += 1
    s = (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k])
    if q <= xs[0]:
        return 0.0 if slope else ys[0]
    if q >= xs[n - 1]:
        return 0.0 if slope else ys[n - 1]
    return s if slope else ys[k] + s * (q - xs[k])


__all__ += ["Node", "int_uses_n", "interp_value"]
