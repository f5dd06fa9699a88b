"""Abstract syntax tree of a DiffSL model.

Frozen dataclasses, one per node of the reference grammar (``ds_grammar.pest``, diffsl
0.12). Every node carries a :class:`Span`, so that later stages can point at the
offending text. ``str(node)`` prints DiffSL text that parses back to an equal tree
(spans aside), which the tests use as a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BinOp",
    "Call",
    "Element",
    "Expr",
    "InputList",
    "IntBinOp",
    "IntExpr",
    "IntLiteral",
    "IntUnaryOp",
    "Model",
    "ModelIndex",
    "Name",
    "Number",
    "Range",
    "Slice",
    "Span",
    "Tensor",
    "UnaryOp",
]


@dataclass(frozen=True)
class Span:
    """Position of a node in the source: 1-based line/column and 0-based offsets."""

    line: int
    column: int
    start: int
    end: int


NO_SPAN = Span(0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


# ----------------------------------------------------------------- integer index expressions


@dataclass(frozen=True)
class IntLiteral:
    """Non-negative integer literal inside ``[...]``."""

    value: int
    span: Span = _span()

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class ModelIndex:
    """The model index ``N`` inside ``[...]``."""

    span: Span = _span()

    def __str__(self) -> str:
        return "N"


@dataclass(frozen=True)
class IntUnaryOp:
    """Unary ``-`` or ``+`` in an index expression."""

    op: str
    operand: IntExpr
    span: Span = _span()

    def __str__(self) -> str:
        return f"{self.op}({self.operand})"


@dataclass(frozen=True)
class IntBinOp:
    """``+ - * / %`` on integers; ``/`` truncates and ``%`` takes the dividend's sign."""

    op: str
    left: IntExpr
    right: IntExpr
    span: Span = _span()

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


IntExpr = IntLiteral | ModelIndex | IntUnaryOp | IntBinOp


# ----------------------------------------------------------------------- real expressions


@dataclass(frozen=True)
class Number:
    """A numeric literal (always a double)."""

    value: float
    span: Span = _span()

    def __str__(self) -> str:
        return repr(float(self.value)).replace("inf", "1e999")


@dataclass(frozen=True)
class Name:
    """A reference to a tensor, label or ``t``/``N``: ``x``, ``u_i``, ``A_ij``."""

    name: str
    indices: tuple[str, ...] = ()
    span: Span = _span()

    def __str__(self) -> str:
        return self.name + ("_" + "".join(self.indices) if self.indices else "")


@dataclass(frozen=True)
class Slice:
    """Indexing or slicing of a 1-D tensor: ``a_i[2]``, ``a_i[1:3]``, ``a_i[N % 2]``.

    ``last`` is ``None`` for a single index; ``sep`` is ``":"`` or ``".."`` for a range
    (both mean the same half-open range here).
    """

    target: Name
    first: IntExpr
    last: IntExpr | None = None
    sep: str | None = None
    span: Span = _span()

    def __str__(self) -> str:
        inner = str(self.first) if self.last is None else f"{self.first}{self.sep}{self.last}"
        return f"{self.target}[{inner}]"


@dataclass(frozen=True)
class UnaryOp:
    """Unary ``-`` (negation) or ``+`` (identity)."""

    op: str
    operand: Expr
    span: Span = _span()

    def __str__(self) -> str:
        return f"{self.op}({self.operand})"


@dataclass(frozen=True)
class BinOp:
    """Binary ``+ - * /``, element-wise after broadcasting."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True)
class Call:
    """A builtin function call, e.g. ``pow(x, 2)``; resolved during analysis."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _span()

    def __str__(self) -> str:
        return f"{self.func}({', '.join(str(a) for a in self.args)})"


Expr = Number | Name | Slice | UnaryOp | BinOp | Call


# ------------------------------------------------------------------- tensors and the model


@dataclass(frozen=True)
class Range:
    """One axis of an element index spec: ``3``, ``0:5`` (half-open) or ``0..5`` (diagonal)."""

    first: int
    last: int | None = None
    sep: str | None = None
    span: Span = _span()

    def __str__(self) -> str:
        return str(self.first) if self.last is None else f"{self.first}{self.sep}{self.last}"


@dataclass(frozen=True)
class Element:
    """One element of a tensor definition: ``[(ranges):] [label =] expression``.

    Exactly one of ``expr`` and ``read_path`` is set; ``read_path`` is the string of a
    ``read('file.tns')`` sparse import.
    """

    expr: Expr | None
    indices: tuple[Range, ...] | None = None
    label: str | None = None
    read_path: str | None = None
    span: Span = _span()
    label_span: Span = _span()

    def __str__(self) -> str:
        head = "" if self.indices is None else "(" + ", ".join(map(str, self.indices)) + "): "
        if self.label is not None:
            head += f"{self.label} = "
        body = f"read('{self.read_path}')" if self.read_path is not None else str(self.expr)
        return head + body


@dataclass(frozen=True)
class Tensor:
    """A tensor definition ``name_indices { elements }``."""

    name: str
    indices: tuple[str, ...]
    elements: tuple[Element, ...]
    span: Span = _span()

    def __str__(self) -> str:
        head = self.name + ("_" + "".join(self.indices) if self.indices else "")
        body = ",\n".join("    " + str(e) for e in self.elements)
        return f"{head} {{\n{body}\n}}"


@dataclass(frozen=True)
class InputList:
    """The legacy (diffsl < 0.8) input list ``in = [a, b]``; rejected by analysis."""

    names: tuple[str, ...]
    span: Span = _span()

    def __str__(self) -> str:
        return "in = [" + ", ".join(self.names) + "]"


@dataclass(frozen=True)
class Model:
    """A whole DiffSL model: an optional legacy input list and the tensor definitions."""

    tensors: tuple[Tensor, ...]
    inputs: InputList | None = None

    def __str__(self) -> str:
        parts = ([str(self.inputs)] if self.inputs else []) + [str(t) for t in self.tensors]
        return "\n".join(parts) + "\n"
