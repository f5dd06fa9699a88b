"""DiffSL text -> :class:`~diffid_plugins.diffsl._syntax.Model` (the parse stage).

The grammar (``_grammar.lark``) mirrors the reference pest grammar; lark's LALR(1) parser
with its basic (context-free) lexer runs it, and the callbacks below build the frozen AST
nodes while parsing (no intermediate parse tree). Every node gets a :class:`~.ast.Span`
(1-based line/column, 0-based offsets; a parenthesised operand's parent spans the
parentheses, the operand's own node does not).

Syntax errors raise :class:`~diffid_plugins.errors.DiffSLError` with one ``stage="parse"``
:class:`~diffid_plugins.errors.Diagnostic`: what was found, what was expected, and a hint for
the common mistakes. ``parse`` raises nothing else for any ``str``.

Limits
------
* Expressions may nest at most ``MAX_DEPTH`` (200) levels: every operator, sign, call,
  ``[...]`` and pair of parentheses is one level, so a chain ``a + b + ...`` of more than
  200 terms is rejected as well. The expression trees handed to later (recursive) stages
  are therefore at most 200 deep, far from Python's recursion limit. Brackets deeper than
  that stop the parse at once (``_NestingGuard``), so hostile input fails fast.
* Integer literals inside ``(...):`` index specs and ``[...]`` have at most ``MAX_INT_DIGITS``
  digits (Python's ``int(str)`` refuses longer ones).
* The source must be ASCII (as in the reference).
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from importlib import resources
from typing import Any, NamedTuple, cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput
from lark.lark import PostLex

from diffid_plugins.diffsl._parse_errors import INDEX_HINT, ParseProblem, error, from_lark, short
from diffid_plugins.diffsl._syntax import (
    BinOp,
    Call,
    Element,
    Expr,
    InputList,
    IntBinOp,
    IntExpr,
    IntLiteral,
    IntUnaryOp,
    Model,
    ModelIndex,
    Name,
    Number,
    Range,
    Slice,
    Span,
    Tensor,
    UnaryOp,
)
from diffid_plugins.errors import ArgumentTypeError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "parse"]

#: Deepest allowed nesting of an expression (operators, signs, calls, indexing, parentheses).
MAX_DEPTH = 200
#: Most digits allowed in an integer literal of an index spec or ``[...]`` expression.
MAX_INT_DIGITS = 4000

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LONE_CR = re.compile(r"\r(?!\n)")

# An expression while it is being built: (node, depth, extent). The extent is the node's
# span widened to the parentheses around it, if any; parents span their operands' extents.
_Ex = tuple[Expr, int, Span]
_IEx = tuple[IntExpr, int, Span]


class _IndexSpec(NamedTuple):
    ranges: tuple[Range, ...]
    span: Span


class _Index(NamedTuple):
    first: IntExpr
    last: IntExpr | None
    sep: str | None
    depth: int


def _tspan(tok: Token) -> Span:
    """Span of one token (lark fills all positions for lexed tokens)."""
    return Span(tok.line, tok.column, tok.start_pos, tok.end_pos)  # type: ignore[arg-type]


def _join(first: Span, end: int) -> Span:
    """Span from the start of ``first`` to the offset ``end``."""
    return Span(first.line, first.column, first.start, end)


def _nest(depth: int, at: Token) -> int:
    """``depth`` if it is within ``MAX_DEPTH``; otherwise a syntax error at token ``at``."""
    if depth > MAX_DEPTH:
        raise ParseProblem(
            f"expression is nested too deeply (more than {MAX_DEPTH} levels of operators, "
            "calls, brackets and parentheses); split it into intermediate tensors",
            _tspan(at),
        )
    return depth


def _integer(tok: Token) -> int:
    """The value of a NUMBER token where pest's grammar has an ``integer``."""
    if not tok.isdigit():
        raise ParseProblem(
            f"unexpected number {short(tok)}; expected an integer. {INDEX_HINT}", _tspan(tok)
        )
    if len(tok) > MAX_INT_DIGITS:
        raise ParseProblem(f"integer is too long (more than {MAX_INT_DIGITS} digits)", _tspan(tok))
    return int(tok)


def _split_name(tok: Token) -> tuple[str, tuple[str, ...]]:
    name, _, letters = str(tok).partition("_")
    return name, tuple(letters)


class _Builder(Transformer[Token, Any]):
    """LALR callbacks: one method per rule alias of ``_grammar.lark``, building AST nodes.

    The callbacks are pure functions of their children (the parser is shared between
    threads); errors they find are raised as ``ParseProblem`` and turned into diagnostics by
    :func:`parse`.
    """

    # ----------------------------------------------------------------- real expressions
    def number(self, c: list[Token]) -> _Ex:
        span = _tspan(c[0])
        return Number(float(c[0]), span), 1, span

    def name(self, c: list[Token]) -> _Ex:
        span = _tspan(c[0])
        name, letters = _split_name(c[0])
        return Name(name, letters, span), 1, span

    def slice(self, c: list[Any]) -> _Ex:
        tok, lsqb, index, rsqb = c
        name, letters = _split_name(tok)
        target = Name(name, letters, _tspan(tok))
        span = _join(target.span, rsqb.end_pos)
        node = Slice(target, index.first, index.last, index.sep, span)
        return node, _nest(index.depth + 1, lsqb), span

    def call(self, c: list[Any]) -> _Ex:
        tok, args, rpar = c[0], c[2:-1], c[-1]
        span = _join(_tspan(tok), rpar.end_pos)
        depth = _nest(max(a[1] for a in args) + 1, tok)
        return Call(str(tok), tuple(a[0] for a in args), span), depth, span

    def paren(self, c: list[Any]) -> _Ex:
        lpar, (node, depth, _), rpar = c
        return node, _nest(depth + 1, lpar), _join(_tspan(lpar), rpar.end_pos)

    def unary(self, c: list[Any]) -> _Ex:
        sign, (node, depth, extent) = c
        span = _join(_tspan(sign), extent.end)
        return UnaryOp(str(sign), node, span), _nest(depth + 1, sign), span

    def binop(self, c: list[Any]) -> _Ex:
        (left, ldepth, lext), op, (right, rdepth, rext) = c
        span = _join(lext, rext.end)
        return BinOp(str(op), left, right, span), _nest(max(ldepth, rdepth) + 1, op), span

    # -------------------------------------------------------------- index expressions
    def index(self, c: list[Any]) -> _Index:
        if len(c) == 1:
            return _Index(c[0][0], None, None, c[0][1])
        first, sep, last = c
        return _Index(first[0], last[0], str(sep), max(first[1], last[1]))

    def iint(self, c: list[Token]) -> _IEx:
        span = _tspan(c[0])
        return IntLiteral(_integer(c[0]), span), 1, span

    def imodel(self, c: list[Token]) -> _IEx:
        span = _tspan(c[0])
        return ModelIndex(span), 1, span

    def iparen(self, c: list[Any]) -> _IEx:
        lpar, (node, depth, _), rpar = c
        return node, _nest(depth + 1, lpar), _join(_tspan(lpar), rpar.end_pos)

    def iunary(self, c: list[Any]) -> _IEx:
        sign, (node, depth, extent) = c
        span = _join(_tspan(sign), extent.end)
        return IntUnaryOp(str(sign), node, span), _nest(depth + 1, sign), span

    def ibinop(self, c: list[Any]) -> _IEx:
        (left, ldepth, lext), op, (right, rdepth, rext) = c
        span = _join(lext, rext.end)
        return IntBinOp(str(op), left, right, span), _nest(max(ldepth, rdepth) + 1, op), span

    # --------------------------------------------------------------------- elements
    def range(self, c: list[Token]) -> Range:
        first = _integer(c[0])
        if len(c) == 1:
            return Range(first, span=_tspan(c[0]))
        return Range(first, _integer(c[2]), str(c[1]), _join(_tspan(c[0]), c[2].end_pos or 0))

    def index_spec(self, c: list[Any]) -> _IndexSpec:
        colon = c[-1]
        return _IndexSpec(tuple(c[1:-2]), _join(_tspan(c[0]), colon.end_pos))

    def plain_element(self, c: list[Any]) -> Element:
        spec = c[0] if isinstance(c[0], _IndexSpec) else None
        node, _, extent = c[-1]
        start = spec.span if spec else extent
        return Element(node, spec.ranges if spec else None, span=_join(start, extent.end))

    def labelled_element(self, c: list[Any]) -> Element:
        spec = c[0] if isinstance(c[0], _IndexSpec) else None
        label, (node, _, extent) = c[-2], c[-1]
        label_span = _tspan(label)
        start = spec.span if spec else label_span
        return Element(
            node,
            spec.ranges if spec else None,
            label=str(label),
            span=_join(start, extent.end),
            label_span=label_span,
        )

    def read_element(self, c: list[Any]) -> Element:
        spec = c[0] if isinstance(c[0], _IndexSpec) else None
        func, path, rpar = c[-4], c[-2], c[-1]
        if func != "read":
            raise ParseProblem(
                f"unexpected string after '{func}('; a quoted path is only allowed in "
                "read('file.tns')",
                _tspan(path),
            )
        start = spec.span if spec else _tspan(func)
        return Element(
            None,
            spec.ranges if spec else None,
            read_path=str(path)[1:-1],
            span=_join(start, rpar.end_pos),
        )

    # ------------------------------------------------------------ tensors and model
    def tensor(self, c: list[Any]) -> Tensor:
        tok, rbrace = c[0], c[-1]
        name, letters = _split_name(tok)
        elements = tuple(e for e in c[1:-1] if e is not None)
        return Tensor(name, letters, elements, _join(_tspan(tok), rbrace.end_pos))

    def inputs(self, c: list[Any]) -> InputList:
        names = tuple(str(t) for t in c[2:-1] if t is not None)
        return InputList(names, _join(_tspan(c[0]), c[-1].end_pos))

    def start(self, c: list[Any]) -> Model:
        inputs = c[0] if c and isinstance(c[0], InputList) else None
        tensors = tuple(c[1:] if inputs is not None else c)
        return Model(tensors, inputs)


class _NestingGuard(PostLex):
    """Token-stream filter that stops at the first bracket nested deeper than ``MAX_DEPTH``.

    The LALR parser shifts every opening bracket before it reduces anything, so without
    this guard a text of a million "(" would be read to the end before ``_nest`` fires.
    Each bracket level is also at least one level of the expression tree, so the guard
    never rejects an expression that the callbacks would accept.
    """

    always_accept = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            kind = tok.type
            if kind in _OPENING:
                depth += 1
                if depth > MAX_DEPTH:
                    _nest(depth, tok)
            elif kind in _CLOSING:
                depth -= 1
            yield tok


_GC_PAUSE_SIZE = 100_000
_OPENING = frozenset({"LPAR", "IDX_LPAR", "LSQB"})
_CLOSING = frozenset({"RPAR", "RSQB"})
_PARSER: Lark | None = None
_PARSER_LOCK = threading.Lock()


def _parser() -> Lark:
    """The shared LALR parser, built on first use (about 0.1 s)."""
    global _PARSER
    with _PARSER_LOCK:
        if _PARSER is None:
            grammar = resources.files("diffid_plugins.diffsl").joinpath("_grammar.lark")
            _PARSER = Lark(
                grammar.read_text(encoding="ascii"),
                parser="lalr",
                lexer="basic",
                transformer=_Builder(),
                maybe_placeholders=True,
                postlex=_NestingGuard(),
            )
        return _PARSER


def parse(text: str) -> Model:
    """Parse DiffSL source text into a :class:`~diffid_plugins.diffsl._syntax.Model`.

    Parameters
    ----------
    text : str
        The model, in the syntax of ``diffsl-reference.md`` section 3 (diffsl 0.12),
        including the legacy ``in = [a, b]`` input list (parsed; the analysis rejects it).

    Returns
    -------
    Model
        Frozen AST; every node carries a :class:`~diffid_plugins.diffsl._syntax.Span`.

    Raises
    ------
    DiffSLError
        On the first syntax error, with one diagnostic of stage ``"parse"``; ``str(error)``
        starts with ``"DiffSL Parser error:"``. Raised for every malformed ``str`` (never
        another exception type), including non-ASCII text and nesting deeper than
        ``MAX_DEPTH``.
    TypeError
        If ``text`` is not a ``str``.

    Examples
    --------
    >>> model = parse("u { y = 1 }\\nF { -y }")
    >>> str(model.tensors[1].elements[0])
    '-(y)'
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"`text` must be a str, got {type(text).__name__}.")
    if not text.isascii():
        bad = _NON_ASCII.search(text)
        offset = bad.start() if bad else 0
        code = ord(text[offset])
        raise error(text, f"non-ASCII character U+{code:04X}; DiffSL source must be ASCII", offset)
    # lark counts lines at "\n" only; a lone "\r" (old Mac line end) becomes "\n", which
    # keeps every offset (the only visible effect: such a character inside a read() path).
    source = _LONE_CR.sub("\n", text) if "\r" in text else text
    # Large texts: the cyclic GC would rescan the growing AST again and again (a third of
    # the time for 1 MB) although parsing makes no garbage cycles, so it is paused, and
    # re-enabled afterwards only if it was enabled before.
    paused = len(text) > _GC_PAUSE_SIZE and gc.isenabled()
    if paused:
        gc.disable()
    try:
        model = cast(Model, _parser().parse(source))
    except UnexpectedInput as err:
        raise from_lark(text, source, err, _parser()) from None
    except ParseProblem as err:
        raise error(text, err.message, err.span.start) from None
    finally:
        if paused:
            gc.enable()
    return model
