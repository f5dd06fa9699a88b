"""DiffSL text -> :class:`~diffid_plugins.diffsl.ast.Model` (the parse stage).

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
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from diffid_plugins.diffsl._source import LineIndex, render_context
from diffid_plugins.diffsl.ast import (
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
from diffid_plugins.errors import Diagnostic, DiffSLError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "parse"]

#: Deepest allowed nesting of an expression (operators, signs, calls, indexing, parentheses).
MAX_DEPTH = 200
#: Most digits allowed in an integer literal of an index spec or ``[...]`` expression.
MAX_INT_DIGITS = 4000

_INDEX_HINT = (
    "Only integers, N, + - * / %, a sign and parentheses are allowed inside [...]: no "
    "variables and no non-integer numbers"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LONE_CR = re.compile(r"\r(?!\n)")

# An expression while it is being built: (node, depth, extent). The extent is the node's
# span widened to the parentheses around it, if any; parents span their operands' extents.
_Ex = tuple[Expr, int, Span]
_IEx = tuple[IntExpr, int, Span]


class _Problem(Exception):
    """A syntax error found by a callback (not by the LALR tables)."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


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
        raise _Problem(
            f"expression is nested too deeply (more than {MAX_DEPTH} levels of operators, "
            "calls, brackets and parentheses); split it into intermediate tensors",
            _tspan(at),
        )
    return depth


def _integer(tok: Token) -> int:
    """The value of a NUMBER token where pest's grammar has an ``integer``."""
    if not tok.isdigit():
        raise _Problem(
            f"unexpected number {_short(tok)}; expected an integer. {_INDEX_HINT}", _tspan(tok)
        )
    if len(tok) > MAX_INT_DIGITS:
        raise _Problem(f"integer is too long (more than {MAX_INT_DIGITS} digits)", _tspan(tok))
    return int(tok)


def _split_name(tok: Token) -> tuple[str, tuple[str, ...]]:
    name, _, letters = str(tok).partition("_")
    return name, tuple(letters)


class _Builder(Transformer[Token, Any]):
    """LALR callbacks: one method per rule alias of ``_grammar.lark``, building AST nodes.

    The callbacks are pure functions of their children (the parser is shared between
    threads); errors they find are raised as ``_Problem`` and turned into diagnostics by
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
            raise _Problem(
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


# ---------------------------------------------------------------------- error messages

# punctuation terminals, in the order messages list them, and their text
_PUNCT = {
    "PLUS": "+",
    "MINUS": "-",
    "STAR": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "COLON": ":",
    "DOTDOT": "..",
    "_COMMA": ",",
    "_EQUAL": "=",
    "_LBRACE": "{",
    "RBRACE": "}",
    "LSQB": "[",
    "RSQB": "]",
    "RPAR": ")",
    "LPAR": "(",
    "IDX_LPAR": "(",
}
_NAMES = {"NAME", "NAME_IJ", "IN", "N"}
_OPERAND_START = _NAMES | {"NUMBER", "LPAR", "IDX_LPAR", "STRING"}
_LABEL_BEFORE = re.compile(r"([A-Za-z][A-Za-z0-9]*)_([A-Za-z][A-Za-z0-9]*)\s*$")
_IN_BEFORE = re.compile(r"(?:^|[^A-Za-z0-9_])in\s*$")
_READ_BEFORE = re.compile(r"(?:^|[^A-Za-z0-9_])read\s*\(\s*'[^']*'\s*\)\s*$")
_CALLEE_BEFORE = re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]+\s*$")
_SPEC_END = re.compile(r"[^)]*\)[^:]*")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _short(value: str) -> str:
    """``value`` made printable and cut to 40 characters, for messages."""
    value = _UNPRINTABLE.sub("?", value)
    return value if len(value) <= 40 else value[:37] + "..."


def _in_index(expected: set[str]) -> bool:
    """Whether the parser is inside ``[...]`` (integer index expressions)."""
    return "PERCENT" in expected or ("N" in expected and "NAME" not in expected)


def _describe_found(kind: str, value: str) -> str:
    """Plain words for the offending token (``kind`` "CHAR": no token starts here)."""
    if kind == "$END":
        return "end of input"
    if kind == "CHAR":
        if value == "'":
            return 'character "\'"'
        if "\x21" <= value <= "\x7e":
            return f"character '{value}'"
        return f"character U+{ord(value):04X}"
    if kind in _NAMES:
        return f"name '{_short(value)}'"
    if kind == "NUMBER":
        return f"number {_short(value)}"
    if kind == "STRING":
        return f"string {_short(value)}"
    return f"'{_short(value)}'"


def _describe_expected(names: set[str]) -> str:
    """Plain words for a set of acceptable terminals, in a fixed order."""
    words: list[str] = []
    if _in_index(names):
        words += ["an integer"] if "NUMBER" in names else []
        words += ["N"] if "N" in names else []
    elif "NUMBER" in names:
        words += ["a number", "a name", "a function call"]
    elif "$END" in names and "NAME" in names:
        words.append("a tensor name")
    elif "NAME" in names:
        words.append("a name")
    if "STRING" in names:
        words.append("a quoted file path")
    if "NUMBER" in names and "LPAR" in names:
        words.append("'('")  # listed with the other things that start an operand
    words += [f"'{text}'" for name, text in _PUNCT.items() if name in names]
    if "$END" in names:
        words.append("the end of the input")
    words = list(dict.fromkeys(words))
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _hint(text: str, pos: int, kind: str, value: str, expected: set[str]) -> str | None:
    """A suggestion for a common mistake at ``pos``, or None."""
    before = text[max(0, pos - 200) : pos]
    char = value if kind == "CHAR" else ""
    opening = text.rfind("/*", max(0, pos - 1), pos + 2)
    if opening != -1 and text.find("*/", opening + 2) == -1:
        return "A '/*' comment is never closed: end it with '*/'"
    if kind == "STAR" and text.startswith("*/", pos):
        return "Comments do not nest: the first '*/' ends a '/*' comment"
    if (kind == "STAR" and before.endswith("*")) or char == "^":
        return "DiffSL has no power operator: write pow(x, y) instead of x ** y or x ^ y"
    if char == "#":
        return "'#' does not start a comment in DiffSL: use // or /* ... */"
    if char == ";":
        return "';' is not a separator in DiffSL: separate elements with ','"
    if char == "'":
        return "The string is never closed: write read('file.tns')"
    if _in_index(expected):
        if kind == "RSQB" and before.rstrip().endswith((":", "..")):
            return "A range inside [...] needs both ends, e.g. a_i[1:3]"
        if kind in _NAMES or kind in {"STRING", "CHAR"}:
            return _INDEX_HINT
    if char == "." and text[pos + 1 : pos + 2].isdigit() and not before[-1:].isdigit():
        return "A number must start with a digit: write 0.5, not .5"
    if kind == "NAME" and (before[-1:].isdigit() or before.endswith(".")):
        if re.fullmatch(r"E[0-9]*", value):
            return "The exponent marker is a lowercase 'e': write 1e3, not 1E3"
        if value.startswith("e"):
            return "An exponent needs digits: write 1e3 or 2.5e-4"
    if kind == "_EQUAL":
        m = _LABEL_BEFORE.search(before)
        if m:
            return (
                f"Names cannot contain '_' (it introduces index letters: '{m[1]}_{m[2]}' is "
                f"'{m[1]}' with indices '{m[2]}'); a label is a plain name such as "
                f"'{m[1]}{m[2]}'"
            )
        if _IN_BEFORE.search(before):
            return (
                "The legacy input list 'in = [...]' is only allowed at the start of the file "
                "(and is obsolete since diffsl 0.8: define in_i { a = 1, b = 2 } instead)"
            )
    if char == "_":
        if not before[-1:].isalnum():
            return "'_' must follow the name directly: write A_ij, not A _ij"
        if text[pos + 1 : pos + 2].isdigit():
            return "Index letters after '_' must be letters: u_1 is not a name (write u1 or u_i)"
        return "Names cannot contain '_' except once, to introduce index letters as in A_ij"
    signless = not expected & {"PLUS", "MINUS"}
    if kind in {"PLUS", "MINUS"} and signless and expected & {"NUMBER", "N"}:
        return "Only one sign is allowed per factor: write -(-x) instead of - - x"
    if kind == "STRING" or _READ_BEFORE.search(before):
        return (
            "read('file') must be the whole right-hand side of an element, e.g. "
            "C_ij { (0:2, 0:2): read('c.tns') }; it cannot be part of an expression or "
            "have a label"
        )
    if kind in {"COLON", "DOTDOT"}:
        return (
            "':' and '..' only separate range ends: in an element index spec such as "
            "(0:2, 1): (integers only) or in a slice such as a_i[1:3]"
        )
    if kind == "RPAR" and before.rstrip().endswith("("):
        return "A function call needs at least one argument"
    if kind == "LPAR" and _CALLEE_BEFORE.search(before):
        return "Only plain names can be called: a function name has no index letters"
    if kind in _OPERAND_START and "_COMMA" in expected:
        return "Is a ',' missing before it?"
    if kind == "$END":
        return "The text ends inside a definition: is a closing bracket missing?"
    return None


def _error(text: str, message: str, offset: int) -> DiffSLError:
    line, column = LineIndex(text).line_col(offset)
    context = render_context(text, line, column)
    return DiffSLError([Diagnostic(message, line, column, stage="parse", context=context)])


def _expected(source: str, err: UnexpectedInput) -> set[str]:
    """Terminals that the parser could accept where the error is.

    An unexpected token makes the LALR parser reduce before it notices the error (after
    ``(1`` a "," reduces ``1`` to a whole sum, and "*" is no longer possible), so for
    those the text before the token is parsed again and asked instead (for texts up to
    ``_REPARSE_LIMIT`` characters; longer ones keep the post-reduction set).
    """
    parser = getattr(err, "interactive_parser", None)
    if isinstance(err, UnexpectedToken):
        cut = len(source) if err.token.type == "$END" else err.token.start_pos
        if cut is not None and cut <= _REPARSE_LIMIT:
            try:
                parser = _parser().parse_interactive(source[:cut])
                parser.exhaust_lexer()
            except (UnexpectedInput, _Problem):  # pragma: no cover - the prefix parsed before
                parser = getattr(err, "interactive_parser", None)
    if parser is not None:
        accepts = {str(t) for t in parser.accepts()}
        if accepts:
            return accepts
    table = getattr(err, "expected", None) or getattr(err, "allowed", None) or ()
    return {str(t) for t in table}


def _from_lark(text: str, source: str, err: UnexpectedInput) -> DiffSLError:
    """Turn a lark syntax error into a DiffSLError with plain-word found/expected lists."""
    expected = _expected(source, err)
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        tok = err.token
        offset, kind, value = tok.start_pos or 0, str(tok.type), str(tok)
        if kind == "IDX_LPAR":
            # `(1):` where only an operand may start: the real mistake is the ':' after it
            stop = _SPEC_END.match(text, offset)
            offset = stop.end() if stop else offset
            kind, value, expected = "COLON", ":", set()
    elif isinstance(err, UnexpectedToken):
        end = err.token.end_pos
        offset, kind, value = len(text) if end is None else end, "$END", ""
    elif isinstance(err, UnexpectedCharacters):
        offset = err.pos_in_stream or 0
        kind, value = "CHAR", text[offset : offset + 1]
    else:  # UnexpectedEOF (not raised by LALR, kept for safety)
        offset, kind, value = len(text), "$END", ""
    message = f"unexpected {_describe_found(kind, value)}"
    words = _describe_expected(expected)
    if words:
        message += f"; expected {words}"
    extra = _hint(text, offset, kind, value, expected)
    if extra:
        message += f". {extra}"
    return _error(text, message, offset)


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


_REPARSE_LIMIT = 200_000
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
    """Parse DiffSL source text into a :class:`~diffid_plugins.diffsl.ast.Model`.

    Parameters
    ----------
    text : str
        The model, in the syntax of ``diffsl-reference.md`` section 3 (diffsl 0.12),
        including the legacy ``in = [a, b]`` input list (parsed; the analysis rejects it).

    Returns
    -------
    Model
        Frozen AST; every node carries a :class:`~diffid_plugins.diffsl.ast.Span`.

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
        raise TypeError(f"`text` must be a str, got {type(text).__name__}.")
    if not text.isascii():
        bad = _NON_ASCII.search(text)
        offset = bad.start() if bad else 0
        code = ord(text[offset])
        raise _error(
            text, f"non-ASCII character U+{code:04X}; DiffSL source must be ASCII", offset
        )
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
        raise _from_lark(text, source, err) from None
    except _Problem as err:
        raise _error(text, err.message, err.span.start) from None
    finally:
        if paused:
            gc.enable()
    return model
