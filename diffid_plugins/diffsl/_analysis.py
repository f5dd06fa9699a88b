"""Semantic analysis of a DiffSL model: names, shapes, layouts and the special tensors.

Tensors are processed in file order (a definition only sees earlier names). Each element is
lowered to scalar graph nodes by :mod:`._expr`, placed into its tensor following the
reference's placement algorithm (``diffsl-reference.md`` section 4.3), and the special
tensors are checked against the rules of sections 6-8. Every error is collected; an element
that failed poisons its tensor and labels, so that later references to them stay silent
instead of cascading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diffid_plugins.diffsl import _syntax as syntax
from diffid_plugins.diffsl._expr import (
    MAX_ELEMENTS,
    Abort,
    ExprLowering,
    ObjArray,
    Scope,
    Symbol,
    Value,
    dep_name,
    fmt_shape,
    letters_of,
    trim,
)
from diffid_plugins.diffsl._ir import DEP_DUDT, DEP_T, DEP_U, Graph
from diffid_plugins.diffsl._layout import Layout
from diffid_plugins.diffsl._source import render_context
from diffid_plugins.errors import Diagnostic

__all__ = ["LoweredModel", "analyse"]

RESERVED = frozenset(
    ["u0", "t", "N", "data", "root", "thread_id", "thread_dim", "rr"]
    + ["states", "inputs", "outputs", "hass_mass"]
)
SPECIAL = ("in", "u", "dudt", "M", "F", "out", "stop", "reset")
_DENSE_MSG = {
    "in": "input 'in' must have a dense layout",
    "u": "state 'u' must have a dense layout",
    "dudt": "state derivative 'dudt' must have a dense layout",
    "F": "RHS 'F' must have a dense layout",
    "M": "LHS 'M' must have a dense layout",
    "out": "output 'out' must have a dense layout",
    "stop": "stop must have a dense layout",
    "reset": "reset must have a dense layout",
}
_RANK_MSG = {
    "u": "u must be a scalar or 1D vector",
    "dudt": "dudt must be a scalar or 1D vector",
    "in": "in must be a scalar or 1D vector",
    "out": "output shape must be a scalar or 1D vector",
    "stop": "stop must be a scalar or 1D vector",
    "reset": "reset must be a scalar or 1D vector",
    "F": "F must be a scalar or 1D vector",
    "M": "M must be a scalar or 1D vector",
}


@dataclass
class LoweredModel:
    """The analysed model: flat node lists per special tensor plus every named tensor."""

    graph: Graph
    n_states: int
    state_init: list[int]
    rhs: list[int]
    mass_expr: list[int] | None
    outputs: list[int] | None
    stop: list[int]
    reset: list[int] | None
    input_names: list[str]
    default_inputs: list[float]
    tensors: dict[str, ObjArray] = field(default_factory=dict)


@dataclass
class _Block:
    start: tuple[int, ...]
    shape: tuple[int, ...]
    diagonal: bool
    value: Value


class _Analysis(Scope):
    def __init__(self, text: str, read_dir: Path | None) -> None:
        self.text = text
        self.read_dir = read_dir
        self.g = Graph()
        self.symbols: dict[str, Symbol] = {}
        self.diagnostics: list[Diagnostic] = []
        self.specials: dict[str, Symbol] = {}
        self.special_spans: dict[str, syntax.Span] = {}
        self.init_nodes: ObjArray | None = None
        self.defaults: list[float] = []
        self.input_names: list[str] = []
        self.tensors: dict[str, ObjArray] = {}
        self.declared_shapes: dict[str, tuple[int, ...]] = {}

    # ------------------------------------------------------------------ Scope interface
    def error(self, message: str, span: syntax.Span | None) -> None:
        if span is None or span.line == 0:
            self.diagnostics.append(Diagnostic(message))
        else:
            ctx = render_context(self.text, span.line, span.column)
            self.diagnostics.append(Diagnostic(message, span.line, span.column, "compile", ctx))

    def source_of(self, node: Any) -> str:
        span = getattr(node, "span", None)
        if span is not None and span.end > span.start:
            return " ".join(self.text[span.start : span.end].split())
        return str(node)

    # ------------------------------------------------------------------ the model
    def run(self, model: syntax.Model) -> LoweredModel | None:
        if model.inputs is not None:
            self.legacy_inputs(model)
        for tensor in model.tensors:
            self.tensor(tensor)
        return self.finish(model)

    def legacy_inputs(self, model: syntax.Model) -> None:
        assert model.inputs is not None
        defs = {t.name: t for t in model.tensors}
        parts = []
        for name in model.inputs.names:
            t = defs.get(name)
            value = "0"
            if t is not None and len(t.elements) == 1 and t.elements[0].expr is not None:
                value = self.source_of(t.elements[0].expr)
            parts.append(f"{name} = {value}")
        suggestion = "in_i { " + ", ".join(parts) + " }" if parts else "in_i { }"
        self.error(
            "input list is no longer supported, define the 'in' tensor instead, e.g. \n\t "
            "in { input1 = 0, input2 = 0 }\nFor this model, replace the list and the "
            f"tensors {', '.join(model.inputs.names) or '(none)'} by: {suggestion}",
            model.inputs.span,
        )

    def check_name(self, name: str, span: syntax.Span) -> bool:
        ok = True
        if name in self.symbols or name == "t":
            self.error(f"{name} is already defined", span)
            ok = False
        if name in RESERVED:
            self.error(f"{name} is a reserved name", span)
            ok = False
        return ok

    def poison(self, tensor: syntax.Tensor) -> None:
        shape: tuple[int, ...] = ()
        empty = np.empty(shape, dtype=object)
        sym = Symbol(tensor.name, empty, Layout.dense(shape), tensor.span, poisoned=True)
        self.symbols.setdefault(tensor.name, sym)
        if tensor.name in SPECIAL:
            self.specials.setdefault(tensor.name, sym)
        for e in tensor.elements:
            if e.label is not None:
                self.symbols.setdefault(e.label, Symbol(e.label, empty, sym.layout, e.span, True))

    def tensor(self, t: syntax.Tensor) -> None:
        rank = len(t.indices)
        if not self.check_name(t.name, t.span):
            if t.name not in self.symbols:
                self.poison(t)
            return
        if t.name in SPECIAL and rank > 1:
            self.error(_RANK_MSG[t.name], t.span)
            self.poison(t)
            return
        if not t.elements:
            self.error(f"tensor {t.name} has no elements", t.span)
            self.poison(t)
            return
        if rank == 0 and len(t.elements) > 1:
            self.error("cannot have more than one element in a scalar", t.span)
            self.poison(t)
            if t.name in SPECIAL:
                self.declared_shapes[t.name] = ()
                self.special_spans[t.name] = t.span
            return
        ok = True
        blocks: list[_Block] = []
        start = [0] * rank
        for e in t.elements:
            try:
                block = self.element(t, e, start)
            except Abort:
                ok = False
                continue
            blocks.append(block)
            start = list(block.start)
            if rank:
                start[0] += block.shape[0]
        if not ok:
            self.poison(t)
            return
        try:
            nodes, layout = self.assemble(t, blocks)
        except Abort:
            self.poison(t)
            return
        self.define(t, blocks, nodes, layout)

    # ------------------------------------------------------------------ elements
    def element(self, t: syntax.Tensor, e: syntax.Element, start: list[int]) -> _Block:
        rank = len(t.indices)
        ranges = e.indices
        if ranges is not None and len(ranges) != rank:
            self.error(
                f"number of dimensions of tensor element ({len(ranges)}) does not match "
                f"number of dimensions of tensor ({rank})",
                e.span,
            )
            raise Abort()
        for r in ranges or ():
            for bound in (r.first, r.last):
                if bound is not None and abs(bound) > MAX_ELEMENTS:
                    self.error(
                        f"range bound {bound} is too large: a tensor may have at most "
                        f"{MAX_ELEMENTS:,} elements (every element is generated as code)",
                        r.span,
                    )
                    raise Abort()
        if e.read_path is not None:
            return self.read_element(t, e)
        assert e.expr is not None
        value = self.lower_element(t, e.expr, e.span)
        if ranges is None:
            return _Block(tuple(start), value.shape, False, value)
        seps = [r.sep for r in ranges]
        if ".." in seps:
            return self.diagonal_block(e, ranges, value)
        extents = []
        for r in ranges:
            if r.last is None:
                extents.append(1)
            elif r.last < r.first:
                self.error("range end must be greater than range start", r.span)
                raise Abort()
            else:
                extents.append(r.last - r.first)
        shape = tuple(extents)
        if 0 in shape or any(v not in (1, s) for v, s in zip(value.shape, shape, strict=True)):
            self.error(
                f"cannot broadcast expression shape {fmt_shape(value.shape)} to tensor "
                f"element shape {fmt_shape(shape)}",
                e.span,
            )
            raise Abort()
        return _Block(tuple(r.first for r in ranges), shape, False, value)

    def diagonal_block(
        self, e: syntax.Element, ranges: tuple[syntax.Range, ...], value: Value
    ) -> _Block:
        if any(r.sep != ".." for r in ranges):
            self.error("can only use range separator if all indices are ranges", e.span)
            raise Abort()
        widths = {(r.last or 0) - r.first for r in ranges}
        if len(widths) != 1:
            self.error("range indices must have the same dimension", e.span)
            raise Abort()
        w = widths.pop()
        if w <= 0:
            self.error("range end must be greater than range start", e.span)
            raise Abort()
        if value.layout.kind != "dense":
            self.error(f"cannot use range indices with {value.layout.kind} expression", e.span)
            raise Abort()
        shape = (w,) * len(ranges)
        vs = value.shape
        if any(s != 1 for s in vs[1:]) or (vs and vs[0] not in (1, w)):
            self.error(
                f"cannot broadcast expression shape {fmt_shape(vs)} to tensor element shape "
                f"{fmt_shape(shape)}",
                e.span,
            )
            raise Abort()
        return _Block(tuple(r.first for r in ranges), shape, True, value)

    def lower_element(self, t: syntax.Tensor, expr: syntax.Expr, span: syntax.Span) -> Value:
        letters: list[str] = []
        letters_of(expr, letters)
        extra = [c for c in letters if c not in t.indices]
        rank = len(t.indices)
        space = list(t.indices) + extra
        if len(extra) > 1:
            self.check_names(expr)
            if rank == 0:
                shape = fmt_shape(tuple(self.letter_extent(expr, c) for c in extra[1:]))
                self.error(
                    "cannot assign an expression with rank > 1 to a scalar, rhs has shape "
                    + shape,
                    span,
                )
            else:
                self.error(
                    "cannot concatenate layouts with rank greater than the rank of the target "
                    "tensor",
                    span,
                )
            raise Abort()
        value = ExprLowering(self, self.g, space).lower(expr)
        if extra:
            summed = np.empty(value.shape[:-1], dtype=object)
            for idx in np.ndindex(*summed.shape):
                summed[idx] = self.g.sum([int(n) for n in value.nodes[idx]])
            value = Value(summed, value.layout.contract_last())
        return value

    def check_names(self, expr: syntax.Expr) -> None:
        """Report the first unknown name in ``expr`` (before any shape error)."""
        if isinstance(expr, syntax.Name):
            if expr.name not in ("t", "N") or expr.name in self.symbols:
                sym = self.symbols.get(expr.name)
                if sym is None:
                    self.error(f"cannot find variable {expr.name}", expr.span)
                    raise Abort()
                if sym.poisoned:
                    raise Abort()
            return
        if isinstance(expr, syntax.Slice):
            self.check_names(expr.target)
            return
        for child in ("left", "right", "operand"):
            sub = getattr(expr, child, None)
            if sub is not None:
                self.check_names(sub)
        for a in getattr(expr, "args", ()):
            self.check_names(a)

    def letter_extent(self, expr: syntax.Expr, letter: str) -> int:
        """Best-effort extent of ``letter`` in ``expr`` (for an error message only)."""
        if isinstance(expr, syntax.Name) and letter in expr.indices:
            sym = self.symbols.get(expr.name)
            if sym is not None and not sym.poisoned:
                k = expr.indices.index(letter)
                return sym.shape[k] if k < len(sym.shape) else 1
        for child in ("left", "right", "operand", "target"):
            sub = getattr(expr, child, None)
            if sub is not None:
                n = self.letter_extent(sub, letter)
                if n > 1:
                    return n
        for a in getattr(expr, "args", ()):
            n = self.letter_extent(a, letter)
            if n > 1:
                return n
        return 1

    def read_element(self, t: syntax.Tensor, e: syntax.Element) -> _Block:
        from diffid_plugins.diffsl._frostt import load_frostt

        ranges = e.indices
        if ranges is None or any(r.sep != ":" for r in ranges):
            self.error(
                "read(...) imports require explicit ':' ranges on every tensor axis", e.span
            )
            raise Abort()
        if any((r.last or 0) <= r.first for r in ranges):
            self.error("read(...) range end must be greater than range start", e.span)
            raise Abort()
        shape = tuple((r.last or 0) - r.first for r in ranges)
        assert e.read_path is not None
        try:
            dense, mask = load_frostt(e.read_path, shape, self.read_dir)
        except ValueError as exc:
            self.error(str(exc), e.span)
            raise Abort() from None
        nodes = np.empty(shape, dtype=object)
        for idx in np.ndindex(*shape):
            nodes[idx] = self.g.const(float(dense[idx]))
        value = Value(nodes, Layout.from_mask(mask))
        return _Block(tuple(r.first for r in ranges), shape, False, value)

    # ------------------------------------------------------------------ assembling a tensor
    def assemble(self, t: syntax.Tensor, blocks: list[_Block]) -> tuple[ObjArray, Layout]:
        rank = len(t.indices)
        if rank == 0:
            v = blocks[0].value
            if v.nodes.size != 1:
                self.error(
                    f"cannot assign an expression with rank > 1 to a scalar, rhs has shape "
                    f"{fmt_shape(trim(v.shape))}",
                    t.span,
                )
                raise Abort()
            return v.nodes.reshape(()), v.layout.reshape(())
        shape = tuple(max(b.start[k] + b.shape[k] for b in blocks) for k in range(rank))
        size = int(np.prod(shape, dtype=object))
        if size > MAX_ELEMENTS:
            self.error(
                f"tensor {t.name} has shape {fmt_shape(shape)} ({size:,} elements); at most "
                f"{MAX_ELEMENTS:,} elements are supported (every element is generated as code)",
                t.span,
            )
            raise Abort()
        nodes = np.full(shape, self.g.zero, dtype=object)
        mask = np.zeros(shape, dtype=bool)
        for b in blocks:
            box = tuple(slice(s, s + n) for s, n in zip(b.start, b.shape, strict=True))
            if b.diagonal:
                flat = b.value.nodes.reshape(-1)
                for k in range(b.shape[0]):
                    idx = tuple(s + k for s in b.start)
                    nodes[idx] = flat[k if flat.size > 1 else 0]
                    mask[idx] = not b.value.literal_zero
            else:
                nodes[box] = np.broadcast_to(b.value.nodes, b.shape)
                if not b.value.literal_zero:
                    mask[box] |= np.broadcast_to(b.value.layout.mask, b.shape)
        return nodes, self.layout_of(t, blocks, shape, mask)

    def layout_of(
        self, t: syntax.Tensor, blocks: list[_Block], shape: tuple[int, ...], mask: Any
    ) -> Layout:
        offset = 0
        contiguous = True
        for b in blocks:
            if b.diagonal or not b.value.layout.is_dense:
                contiguous = False
                break
            if b.start[0] != offset or any(s != 0 for s in b.start[1:]):
                contiguous = False
                break
            offset += b.shape[0]
        if contiguous:
            tails = [b.shape[1:] for b in blocks]
            for k in range(1, len(tails)):
                for a, c in zip(tails[k - 1], tails[k], strict=True):
                    if a != c and 1 not in (a, c):
                        self.error(
                            "cannot concatenate layouts that cannot be broadcast into each other "
                            f"(got shapes {fmt_shape(blocks[k - 1].shape)}, "
                            f"{fmt_shape(blocks[k].shape)})",
                            t.span,
                        )
                        raise Abort()
            if all(tl == shape[1:] for tl in tails):
                return Layout.dense(shape)
        on_diag = len(shape) >= 2
        pos = 0
        for b in blocks:
            square = b.diagonal or all(n == 1 for n in b.shape)
            if not square or any(s != pos for s in b.start):
                on_diag = False
                break
            pos += b.shape[0]
        if on_diag and all(n == pos for n in shape):
            return Layout("diagonal", mask) if not mask.all() else Layout.dense(shape)
        return Layout.from_mask(mask)

    # ------------------------------------------------------------------ defining symbols
    def define(
        self, t: syntax.Tensor, blocks: list[_Block], nodes: ObjArray, layout: Layout
    ) -> None:
        name = t.name
        visible = nodes
        if name in ("u", "dudt", "in"):
            if not layout.is_dense:
                self.error(_DENSE_MSG[name], t.span)
                self.poison(t)
                return
            var = {"u": "u", "dudt": "dudt", "in": "p"}[name]
            visible = np.empty(nodes.size, dtype=object)
            visible[:] = [self.g.var(var, k) for k in range(nodes.size)]
            visible = visible.reshape(nodes.shape)
            if not self.check_special_values(t, nodes):
                self.poison(t)
                return
        sym = Symbol(name, visible, layout, t.span)
        self.symbols[name] = sym
        self.tensors[name] = visible
        if name in SPECIAL:
            self.specials[name] = sym
            self.special_spans[name] = t.span
            if name == "u":
                self.init_nodes = nodes
        for b, e in zip(blocks, t.elements, strict=True):
            if e.label is None:
                continue
            if not self.check_name(e.label, e.label_span if e.label_span.line else e.span):
                continue
            if len(t.indices) == 0:
                lab_nodes, lab_mask = visible.reshape((1,)), layout.mask.reshape((1,))
            else:
                box = tuple(slice(s, s + n) for s, n in zip(b.start, b.shape, strict=True))
                lab_nodes = visible[box]
                lab_mask = layout.mask[box]
            lab = Symbol(e.label, lab_nodes, Layout.from_mask(np.array(lab_mask)), e.span)
            self.symbols[e.label] = lab
            self.tensors[e.label] = lab_nodes
        if name == "in":
            self.input_names = self.names_of_inputs(t, blocks, nodes.size)

    def check_special_values(self, t: syntax.Tensor, nodes: ObjArray) -> bool:
        deps = 0
        for n in nodes.flat:
            deps |= self.g.nodes[int(n)].deps
        if t.name == "in":
            if deps:
                self.error(
                    "the values of 'in' are the default parameter values and must be "
                    f"constants, but they depend on '{dep_name(deps)}'",
                    t.span,
                )
                return False
            self.defaults = [self.g.value(int(n)) for n in nodes.flat]
        elif t.name == "u" and deps & (DEP_T | DEP_U | DEP_DUDT):
            self.error(
                f"u (the initial state) must not depend on '{dep_name(deps & ~0b11000)}'; "
                "initial values may use constants, inputs and N",
                t.span,
            )
            return False
        elif t.name == "dudt" and deps & DEP_U:
            self.error("dudt must not be dependent on u", t.span)
            return False
        return True

    @staticmethod
    def names_of_inputs(t: syntax.Tensor, blocks: list[_Block], n: int) -> list[str]:
        names = [f"in[{k}]" for k in range(n)]
        for b, e in zip(blocks, t.elements, strict=True):
            if e.label is None:
                continue
            first = b.start[0] if b.start else 0
            width = b.shape[0] if b.shape else 1
            for k in range(width):
                names[first + k] = e.label if width == 1 else f"{e.label}[{k}]"
        return names

    # ------------------------------------------------------------------ final checks
    def finish(self, model: syntax.Model) -> LoweredModel | None:
        first_span = model.tensors[0].span if model.tensors else None
        sp = self.specials
        for name in ("u", "F"):
            if name not in sp:
                self.error(f"missing '{name}' array", first_span)
        u = sp.get("u")
        healthy = {k: v for k, v in sp.items() if not v.poisoned}
        if u is not None and not u.poisoned:
            for name in ("F", "M", "reset"):
                s = healthy.get(name)
                shape = s.shape if s is not None else self.declared_shapes.get(name)
                if shape is not None and shape != u.shape:
                    self.error(
                        f"{name} and u must have the same shape, but {name} has shape "
                        f"{fmt_shape(shape)} and u has shape {fmt_shape(u.shape)}",
                        self.special_spans[name],
                    )
        for name, s in healthy.items():
            if name in ("u", "dudt", "in"):
                continue
            if not s.layout.is_dense:
                self.error(_DENSE_MSG[name], self.special_spans[name])
            deps = 0
            for nid in s.nodes.flat:
                deps |= self.g.nodes[int(nid)].deps
            if name != "M" and deps & DEP_DUDT:
                self.error(f"{name} must not be dependent on dudt", self.special_spans[name])
            if name == "M" and deps & DEP_U:
                self.error("M must not be dependent on u", self.special_spans[name])
            if name == "M" and deps & DEP_DUDT and not self._linear_in_dudt(s.nodes):
                # M(t) dudt is assembled from dM/d(dudt): a product of dudt's would be lost.
                self.error(
                    "M must be linear in dudt (each element a sum of terms c * dudt_j with c "
                    "independent of dudt)",
                    self.special_spans[name],
                )
        if "reset" in sp and "stop" not in sp:
            self.error("reset requires stop to also be defined", self.special_spans.get("reset"))
        if "M" in healthy and "dudt" not in sp:
            self.error(
                "M is defined but dudt is not: define dudt to name du/dt", self.special_spans["M"]
            )
        if self.diagnostics:
            return None
        return self.lowered()

    def _linear_in_dudt(self, nodes: ObjArray) -> bool:
        """Whether every element's derivative with respect to dudt is free of dudt."""
        g = self.g
        for nid in nodes.flat:
            for d in g.derivative(int(nid), "dudt").values():
                if g.nodes[d].deps & DEP_DUDT:
                    return False
        return True

    def lowered(self) -> LoweredModel:
        sp = self.specials
        assert self.init_nodes is not None

        def flat(name: str) -> list[int] | None:
            s = sp.get(name)
            return None if s is None else [int(n) for n in s.nodes.flat]

        return LoweredModel(
            graph=self.g,
            n_states=int(self.init_nodes.size),
            state_init=[int(n) for n in self.init_nodes.flat],
            rhs=flat("F") or [],
            mass_expr=flat("M"),
            outputs=flat("out"),
            stop=flat("stop") or [],
            reset=flat("reset"),
            input_names=self.input_names,
            default_inputs=self.defaults,
            tensors=self.tensors,
        )


def analyse(
    text: str, model: syntax.Model, read_dir: Path | None = None
) -> tuple[LoweredModel | None, list[Diagnostic]]:
    """Analyse a parsed model; returns the lowered model (or ``None``) and all diagnostics."""
    a = _Analysis(text, read_dir)
    lowered = a.run(model)
    return lowered, a.diagnostics
