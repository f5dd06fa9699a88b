"""Syntax-error messages for the DiffSL parser: what was found, what was expected, a hint.

:func:`from_lark` turns a lark ``UnexpectedInput`` into a :class:`DiffSLError` whose message
names the token found, lists the tokens expected (in the reference's order) and, for the
common mistakes, adds a hint (e.g. the new syntax of a legacy input list).
"""

from __future__ import annotations

import re

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from diffid_plugins.diffsl._source import LineIndex, render_context
from diffid_plugins.diffsl._syntax import Span
from diffid_plugins.errors import Diagnostic, DiffSLError

__all__ = ["INDEX_HINT", "ParseProblem", "error", "from_lark", "short"]

INDEX_HINT = (
    "Only integers, N, + - * / %, a sign and parentheses are allowed inside [...]: no "
    "variables and no non-integer numbers"
)
#: Longest text whose prefix is parsed again to list the expected tokens precisely.
_REPARSE_LIMIT = 200_000


class ParseProblem(Exception):
    """A syntax error found by a parser callback (not by the LALR tables)."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


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


def short(value: str) -> str:
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
        return f"name '{short(value)}'"
    if kind == "NUMBER":
        return f"number {short(value)}"
    if kind == "STRING":
        return f"string {short(value)}"
    return f"'{short(value)}'"


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
            return INDEX_HINT
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


def error(text: str, message: str, offset: int) -> DiffSLError:
    line, column = LineIndex(text).line_col(offset)
    context = render_context(text, line, column)
    return DiffSLError([Diagnostic(message, line, column, stage="parse", context=context)])


def _expected(source: str, err: UnexpectedInput, lark: Lark) -> set[str]:
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
                parser = lark.parse_interactive(source[:cut])
                parser.exhaust_lexer()
            except (UnexpectedInput, ParseProblem):  # pragma: no cover - the prefix parsed before
                parser = getattr(err, "interactive_parser", None)
    if parser is not None:
        accepts = {str(t) for t in parser.accepts()}
        if accepts:
            return accepts
    table = getattr(err, "expected", None) or getattr(err, "allowed", None) or ()
    return {str(t) for t in table}


def from_lark(text: str, source: str, err: UnexpectedInput, lark: Lark) -> DiffSLError:
    """Turn a lark syntax error into a DiffSLError with plain-word found/expected lists."""
    expected = _expected(source, err, lark)
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
    return error(text, message, offset)
