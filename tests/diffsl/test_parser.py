"""Tests of the DiffSL parse stage: text -> AST (``diffid_plugins.diffsl._parser``).

Where the expectations come from:

* ``diffsl-reference.md`` section 2 (lexical structure) and section 3 (grammar, precedence,
  the verified examples in its "Consequences" list), cited per test as "ref 2" / "ref 3.n";
* the shared corpus (``../shared/diffsl_corpus``: ``models.json``, ``micro_tests.json``,
  ``invalid.json`` with the reference implementation's stage for each invalid model);
* the AST contract of ``diffid_plugins/diffsl/syntax.py`` (``parse(str(model)) == model``);
* the robustness contract of ``parse``: any ``str`` gives a Model or a DiffSLError.

Inline models below keep the language covered when the shared corpus is absent.
"""

from __future__ import annotations

import io
import json
import logging
import math
import string
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark

from diffid_plugins.diffsl import _syntax as syntax
from diffid_plugins.diffsl._parser import MAX_DEPTH, parse
from diffid_plugins.diffsl._source import LineIndex, line_col, render_context
from diffid_plugins.errors import DiffSLError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "diffsl_corpus"
MICRO_SUFFIX = " u_i { y = 1, } F_i { y, } out_i { y, }"  # corpus README, micro_tests.json


def _corpus(name: str) -> list[dict[str, Any]]:
    path = CORPUS / name
    return json.loads(path.read_text()) if path.is_file() else []


def _params(name: str, select: str | None = None) -> list[Any]:
    """Corpus rows as pytest params (one skipped param when the shared corpus is absent)."""
    rows = [r for r in _corpus(name) if select is None or r.get("stage") == select]
    if not rows:
        rows_of = "" if select is None else f" (or it has no {select} rows)"
        reason = f"shared corpus file {CORPUS / name} not found{rows_of}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(r, id=r.get("id") or r.get("name")) for r in rows]


# Self-contained models (ref 1, ref 4, corpus-style), covering every syntactic form.
INLINE = {
    "robertson_g2": """
        in_i { k1 = 0.04, k2 = 10000, k3 = 30000000 }
        u_i { x = 1, y = 0, z = 0, }
        dudt_i { dxdt = 1, dydt = 0, dzdt = 0, }
        M_i { dxdt, dydt, 0, }
        F_i { -k1 * x + k2 * y * z, k1 * x - k2 * y * z - k3 * y * y, 1 - x - y - z, }
        out_i { x, y, z, }
    """,
    "robertson_g1_input_list": """
        in = [k1, k2, k3,]
        k1 { 0.04 } k2 { 10000 } k3 { 30000000 }
        u_i { x = 1, y = 0, z = 0 }
        F_i { -k1 * x + k2 * y * z, k1 * x - k2 * y * z - k3 * y * y, 1 - x - y - z }
    """,
    "heat_index_specs": """
        D { 0.1 } h { 1.0 / 21.0 }
        A_ij { (0..20, 1..21): 1.0, (0..21, 0..21): -2.0, (1..21, 0..20): 1.0, }
        b_i { (0): 0, (1:20): 0.0, (20): 0 }
        u_i { (0:5): 1, (5:15): 2, (15:21): 1 }
        heat_i { A_ij * u_j }
        F_i { D * (heat_i + b_i) / (h * h) }
    """,
    "hybrid_comments_model_index": """
        // line comment
        /* block
           comment */ amp_i { 0, 10 }
        u_i { x = 1, tclock = 0 }
        F_i { amp_i[N % 2] - x, 1 }  // same-line comment
        stop_i { 10 - tclock, amp_i[((N + 4 / 2) * 3 - 1) % 2] }
        reset_i { x, 0 }
        s_i { amp_i[N:N+2], amp_i[0..1], amp_i[-(-1)] }
    """,
    "functions_read_and_oddities": """
        xs_i { 0.0, 10.0, 20.0 } ys_i { 1.0, 5.0, 15.0 }
        C_ij { (0:2, 0:2): read('c.tns') }
        r { interp1d(xs_i, ys_i, 5.0) + pow(2, 3) + heaviside(-t) + sin }
        e { }
        w { , 1. }
        v_i { 1.e3, 2.5e-4, +t, 1 - -t, 1e999 }
        u{y=1}F{-y}
    """,
}


def _eval(e: syntax.Expr) -> float:
    """Tiny evaluator for number-only expression trees (used for ref 3.1 values)."""
    if isinstance(e, syntax.Number):
        return e.value
    if isinstance(e, syntax.UnaryOp):
        return -_eval(e.operand) if e.op == "-" else _eval(e.operand)
    if isinstance(e, syntax.BinOp):
        a, b = _eval(e.left), _eval(e.right)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[e.op]
    raise TypeError(e)


def _error(text: str) -> DiffSLError:
    with pytest.raises(DiffSLError) as info:
        parse(text)
    err = info.value
    assert err.stage == "parse" and str(err).startswith("DiffSL Parser error:")
    assert len(err.diagnostics) == 1 and err.diagnostics[0].stage == "parse"
    return err


# ------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("row", _params("models.json"))
def test_corpus_models_parse_and_round_trip(row: dict[str, Any]) -> None:
    """Every valid corpus model parses; printing and re-parsing gives the same AST."""
    model = parse(row["text"])
    assert model.tensors
    assert parse(str(model)) == model


@pytest.mark.parametrize("row", _params("micro_tests.json"))
def test_corpus_micro_tests_round_trip(row: dict[str, Any]) -> None:
    """Every micro test fragment (+ the README suffix) parses and round-trips."""
    model = parse(row["text"] + MICRO_SUFFIX)
    assert parse(str(model)) == model


@pytest.mark.parametrize("row", _params("invalid.json", "parse"))
def test_corpus_invalid_parse_stage(row: dict[str, Any]) -> None:
    """invalid.json rows the reference rejects while parsing are parse errors here too."""
    err = _error(row["text"])
    assert "Parser error" in str(err)
    assert err.line is not None and err.column is not None and err.diagnostics[0].context


@pytest.mark.parametrize("row", _params("invalid.json", "compile"))
def test_corpus_invalid_compile_stage_parses(row: dict[str, Any]) -> None:
    """invalid.json rows the reference rejects after parsing are valid syntax."""
    model = parse(row["text"])
    assert parse(str(model)) == model


@pytest.mark.parametrize("name", sorted(INLINE))
def test_inline_models_round_trip(name: str) -> None:
    """The inline models (syntax of ref 1-4) parse; syntax.py contract: they print and re-parse."""
    model = parse(INLINE[name])
    assert parse(str(model)) == model


# ----------------------------------------------------------------- grammar and AST shape


def test_precedence_ref_3_1() -> None:
    """ref 3.1: `r_i { 2 + 3 * 4, ... }` -> [14, 20, -5, 0.25, -6, -4] (verified there)."""
    model = parse("r_i { 2 + 3 * 4, (2 + 3) * 4, 2 - 3 - 4, 2 / 4 / 2, -2 * 3, 8 / -2 }")
    exprs = [e.expr for e in model.tensors[0].elements]
    assert [_eval(e) for e in exprs if e is not None] == [14, 20, -5, 0.25, -6, -4]
    n, B, U = syntax.Number, syntax.BinOp, syntax.UnaryOp
    assert exprs == [
        B("+", n(2), B("*", n(3), n(4))),
        B("*", B("+", n(2), n(3)), n(4)),
        B("-", B("-", n(2), n(3)), n(4)),
        B("/", B("/", n(2), n(4)), n(2)),
        B("*", U("-", n(2)), n(3)),
        B("/", n(8), U("-", n(2))),
    ]


def test_sign_binds_to_one_primary() -> None:
    """ref 3.1: `-x * y` = (-x)*y, `1 - -x` valid, `+x` identity node."""
    x, y = syntax.Name("x"), syntax.Name("y")
    exprs = [e.expr for e in parse("r { -x * y, 1 - -x, +x }").tensors[0].elements]
    assert exprs[0] == syntax.BinOp("*", syntax.UnaryOp("-", x), y)
    assert exprs[1] == syntax.BinOp("-", syntax.Number(1.0), syntax.UnaryOp("-", x))
    assert exprs[2] == syntax.UnaryOp("+", x)


def test_names_calls_slices_numbers() -> None:
    """ref 2 (names, numbers) and ref 3.2-3.7 (calls before names, `N`, slices)."""
    (r,) = parse("r { sin(x), sin, A_ijk, N, a_i[N % 2], b[1:3], c_j[0..2], 1., 1.e3 }").tensors
    e = [el.expr for el in r.elements]
    assert e[0] == syntax.Call("sin", (syntax.Name("x"),))
    assert e[1] == syntax.Name("sin")
    assert e[2] == syntax.Name("A", ("i", "j", "k"))
    assert e[3] == syntax.Name("N")  # ref 3.7: a plain name outside [...]
    m = syntax.ModelIndex()
    assert e[4] == syntax.Slice(
        syntax.Name("a", ("i",)), syntax.IntBinOp("%", m, syntax.IntLiteral(2))
    )
    assert e[5] == syntax.Slice(syntax.Name("b"), syntax.IntLiteral(1), syntax.IntLiteral(3), ":")
    assert e[6] == syntax.Slice(
        syntax.Name("c", ("j",)), syntax.IntLiteral(0), syntax.IntLiteral(2), ".."
    )
    assert e[7] == syntax.Number(1.0) and e[8] == syntax.Number(1000.0)
    assert all(type(x.value) is float for x in (e[7], e[8]) if isinstance(x, syntax.Number))


def test_index_expression_tree() -> None:
    """ref 4.6: `amp_i[((N + 4 / 2) * 3 - 1) % 2]` and `A_i[N:N+2]` index expressions."""
    text = "r { amp_i[((N + 4 / 2) * 3 - 1) % 2], A_i[N:N+2], a_i[-(1)], a_i[(1):3] }"
    (r,) = parse(text).tensors
    lit, B = syntax.IntLiteral, syntax.IntBinOp
    first = [el.expr for el in r.elements]
    inner = B("-", B("*", B("+", syntax.ModelIndex(), B("/", lit(4), lit(2))), lit(3)), lit(1))
    assert first[0] == syntax.Slice(syntax.Name("amp", ("i",)), B("%", inner, lit(2)))
    assert first[1] == syntax.Slice(
        syntax.Name("A", ("i",)), syntax.ModelIndex(), B("+", syntax.ModelIndex(), lit(2)), ":"
    )
    assert first[2] == syntax.Slice(syntax.Name("a", ("i",)), syntax.IntUnaryOp("-", lit(1)))
    assert first[3] == syntax.Slice(syntax.Name("a", ("i",)), lit(1), lit(3), ":")


def test_elements_labels_index_specs_read() -> None:
    """ref 3 `tensor_elmt`: index spec (with comments inside, as pest allows), label, read."""
    text = "A_ij { (0 /* c */ : 2, 1..3 ): x = 1, (2) * 3, (2): 4, (0:1, 0:1): read('c.tns') }"
    (t,) = parse(text).tensors
    assert (t.name, t.indices) == ("A", ("i", "j"))
    a, b, c, d = t.elements
    assert a.indices == (syntax.Range(0, 2, ":"), syntax.Range(1, 3, "..")) and a.label == "x"
    assert b.indices is None and b.expr == syntax.BinOp(
        "*", syntax.Number(2.0), syntax.Number(3.0)
    )
    assert c.indices == (syntax.Range(2),) and c.expr == syntax.Number(4.0)
    assert (
        d.expr is None and d.read_path == "c.tns" and d.indices == (syntax.Range(0, 1, ":"),) * 2
    )


def test_legacy_input_list_and_keywords_as_names() -> None:
    """ref 1 (G1 `in = [a, b]`, trailing comma), ref 3.6; `in` and `N` stay usable names."""
    model = parse("in = [a, b,] in { N = 1 } N_i { in, N(in) }")
    assert model.inputs == syntax.InputList(("a", "b"))
    assert [t.name for t in model.tensors] == ["in", "N"]
    assert model.tensors[0].elements[0].label == "N"
    assert parse("in = []").inputs == syntax.InputList(())


def test_pest_list_quirks() -> None:
    """ref 3 `tensor`: `elmt? ("," elmt)* ","?` accepts `{ }`, `{ , }` and `{ , a }`."""
    model = parse("a { } b { , } c { , x } d { x, }")
    assert [len(t.elements) for t in model.tensors] == [0, 0, 1, 1]


def test_empty_and_comment_only_models() -> None:
    """ref 3 `model = inputs? tensor*`: zero tensors parse (the analysis reports them)."""
    assert parse("") == syntax.Model(())
    assert parse("  // nothing\n/* at all */\r\n") == syntax.Model(())


# --------------------------------------------------------------------------------- spans


def test_spans() -> None:
    """Line/column are 1-based, offsets 0-based; a parent spans its operands' parentheses."""
    text = "u { x = 1 }\nF_i {\n\t-x * (y + 2), pow(x, 2) }"
    u, f = parse(text).tensors
    assert u.span == syntax.Span(1, 1, 0, 11)
    assert u.elements[0].label_span == syntax.Span(1, 5, 4, 5)
    assert f.span.line == 2 and f.span.column == 1 and text[f.span.start : f.span.end][-1] == "}"
    prod = f.elements[0].expr
    assert isinstance(prod, syntax.BinOp) and isinstance(prod.left, syntax.UnaryOp)
    assert (prod.span.line, prod.span.column) == (3, 2)  # a tab is one column
    assert text[prod.span.start : prod.span.end] == "-x * (y + 2)"
    assert text[prod.right.span.start : prod.right.span.end] == "y + 2"
    assert (prod.left.operand.span.line, prod.left.operand.span.column) == (3, 3)
    call = f.elements[1].expr
    assert isinstance(call, syntax.Call) and text[call.span.start : call.span.end] == "pow(x, 2)"


def _nodes(node: Any) -> list[Any]:
    """Every AST node below (and including) ``node`` that has a span."""
    found = [node] if hasattr(node, "span") else []
    for value in getattr(node, "__dict__", {}).values():
        for item in value if isinstance(value, tuple) else (value,):
            if hasattr(item, "__dataclass_fields__"):
                found += _nodes(item)
    return found


@pytest.mark.parametrize(
    "text", list(INLINE.values()) + [r["text"] for r in _corpus("models.json")]
)
def test_every_span_matches_its_text(text: str) -> None:
    """Each span's line/column agree with its offset, and leaves span exactly their text."""
    index = LineIndex(text)
    model = parse(text)
    for node in [n for t in model.tensors for n in _nodes(t)]:
        span = node.span
        assert (span.line, span.column) == index.line_col(span.start)
        assert 0 <= span.start < span.end <= len(text)
        piece = text[span.start : span.end]
        if isinstance(node, syntax.Name | syntax.IntLiteral | syntax.ModelIndex):
            assert piece == str(node)
        elif isinstance(node, syntax.Number):
            assert float(piece) == node.value
        elif isinstance(node, syntax.Tensor):
            assert piece.endswith("}")
        elif isinstance(node, syntax.Element) and node.label is not None:
            assert text[node.label_span.start : node.label_span.end] == node.label


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_spans_with_each_line_ending(newline: str) -> None:
    """ref 2: a line ends at \\n, \\r\\n or \\r; offsets are into the original text."""
    text = newline.join(["u { x = 1 }", "", "  F { -x }"])
    f = parse(text).tensors[1]
    assert (f.span.line, f.span.column) == (3, 3)
    assert text[f.span.start : f.span.end] == "F { -x }"
    assert line_col(text, f.span.start) == (3, 3)


# ------------------------------------------------------------------- messages and hints

HINTS = [
    # (text, line, column, substrings of the message); found/expected words and a hint
    ("u { x = 2 }\nF { x ** 2 }", 2, 8, ["unexpected '*'", "expected a number", "pow(x, y)"]),
    ("F { x ^ 2 }", 1, 7, ["character '^'", "pow(x, y)"]),
    ("r { 1 }  # note", 1, 10, ["character '#'", "use // or /*"]),
    ("F_i { b * x;\n x }", 1, 12, ["character ';'", "with ','"]),
    ("u { x = .5 }", 1, 9, ["character '.'", "write 0.5"]),
    ("u { x = 1E3 }", 1, 10, ["name 'E3'", "write 1e3"]),
    ("u { my_var = 1 }", 1, 12, ["unexpected '='", "cannot contain '_'", "'myvar'"]),
    ("u_1 { 1 }", 1, 2, ["character '_'", "must be letters"]),
    ("a _i { 1 }", 1, 3, ["character '_'", "follow the name directly"]),
    ("F { - - x }", 1, 7, ["unexpected '-'", "write -(-x)"]),
    ("r { a_i[0.5] }", 1, 9, ["number 0.5", "Only integers, N, + - * / %"]),
    ("r { a_i[N % 1.1] }", 1, 13, ["number 1.1", "Only integers, N, + - * / %"]),
    (
        "r { a_i[x % 2] }",
        1,
        9,
        ["name 'x'", "expected an integer, N", "Only integers, N, + - * / %"],
    ),
    ("r { a_i[1:] }", 1, 11, ["unexpected ']'", "both ends"]),
    ("r { 2 * read('c.tns') }", 1, 14, ["string 'c.tns'", "whole right-hand side"]),
    ("r { x = read('c.tns') }", 1, 14, ["string 'c.tns'", "whole right-hand side"]),
    ("r { foo('c.tns') }", 1, 9, ["only allowed in read("]),
    ("r { read('c.tns') * 2 }", 1, 19, ["unexpected '*'", "whole right-hand side"]),
    ("/* a /* b */ c */", 1, 16, ["unexpected '*'", "do not nest"]),
    ("u { x = 1 /* open", 1, 12, ["never closed"]),
    ("u { x = 1 y = 2 }", 1, 11, ["name 'y'", "',' missing"]),
    ("u { x = 1", 1, 10, ["end of input", "'}'"]),
    ("u { 1 } in = [a]", 1, 12, ["unexpected '='", "start of the file"]),
    ("u { sin() }", 1, 9, ["unexpected ')'", "at least one argument"]),
    ("u { (1, 2) }", 1, 7, ["unexpected ','", "'*', '/'"]),  # full set despite LALR reductions
    ("u { 2 * (1): 3 }", 1, 12, ["unexpected ':'", "range ends"]),
    ("this is not diffsl", 1, 6, ["name 'is'", "expected '{'"]),
]


@pytest.mark.parametrize(("text", "line", "column", "parts"), HINTS, ids=[h[0] for h in HINTS])
def test_error_messages(text: str, line: int, column: int, parts: list[str]) -> None:
    """ref 2 and 9.1: the common mistakes are parse errors; each gets a plain-words hint."""
    err = _error(text)
    assert (err.line, err.column) == (line, column), str(err)
    for part in parts:
        assert part in str(err), str(err)
    assert f"Line {line}, Column {column}: Error: " in str(err)
    assert err.diagnostics[0].context.splitlines()[1].endswith("^")


def test_message_layout() -> None:
    """errors.py Diagnostic.render + the brief's wording: found, expected, hint, then context."""
    err = _error("u { x = 2 }\nF { x ** 2 }\n")
    assert str(err).splitlines() == [
        "DiffSL Parser error:",
        "Line 2, Column 8: Error: unexpected '*'; expected a number, a name, a function call, "
        "'(', '+' or '-'. DiffSL has no power operator: write pow(x, y) instead of x ** y or "
        "x ^ y",
        "F { x ** 2 }",
        "       ^",
    ]


# ------------------------------------------------------------------------------- hostile


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("u { x\x00 }", "U+0000"),
        ("\x00" * 100_000, "U+0000"),
        ("u { x = \u00e9 }", "non-ASCII character U+00E9"),
        ("u { x = 1 } // \U0001f600", "non-ASCII character U+1F600"),
        ("u { \ud800 }", "non-ASCII character U+D800"),
        ("u { \x1b[31m }", "U+001B"),
        ("u { " + "(" * 5000 + "x" + ")" * 5000 + " }", "nested too deeply"),
        ("u { " + "(" * 1_000_000, "nested too deeply"),
        ("u { " + "-(" * 3000 + "x" + ")" * 3000 + " }", "nested too deeply"),
        ("u { " + " + ".join(["x"] * (MAX_DEPTH + 1)) + " }", "nested too deeply"),
        ("u { " + "sin(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1) + " }", "too deeply"),
        ("u { a_i[" + "(" * 300 + "1" + ")" * 300 + "] }", "nested too deeply"),
        ("u { a_i[" + "9" * 5000 + "] }", "integer is too long"),
        ("u { (" + "1," * 200_000 + " }", "unexpected ','"),
        ("u { (1" + " " * 1_000_000 + " }", "unexpected '}'"),
        ("u { x }" + " " * 1_000_000 + "#", "character '#'"),
        ("u { x = 1" + "\n" * 100_000, "end of input"),
    ],
    ids=lambda v: repr(v)[:30] if isinstance(v, str) else None,
)
def test_hostile_inputs_raise_diffsl_error_quickly(text: str, part: str) -> None:
    """Any str gives a DiffSLError (never RecursionError etc.), fast, with a safe context."""
    start = time.perf_counter()
    err = _error(text)
    assert part in str(err)
    assert time.perf_counter() - start < 5.0
    context = err.diagnostics[0].context
    assert len(context) < 300 and all(c == "\n" or c == "\t" or " " <= c <= "~" for c in context)


def test_depth_limit_boundary() -> None:
    """MAX_DEPTH levels parse; one more does not (parentheses count, ref: module docstring)."""
    parse("u { " + " + ".join(["x"] * MAX_DEPTH) + " }")
    parse("u { " + "(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1) + " }")
    _error("u { " + "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH + " }")


def test_large_inputs_parse() -> None:
    """Long texts without many tokens: 1 MB comments, a 1 MB read() path and number."""
    big = "/* " + "x" * 1_000_000 + " */ u { y = 1 } F { -y }"
    assert len(parse(big).tensors) == 2
    path = "p" * 1_000_000
    assert parse(f"C_ij {{ (0:1, 0:1): read('{path}') }}").tensors[0].elements[0].read_path == path
    assert parse("u { " + "1" * 1_000_000 + " }").tensors[0].elements[0].expr == syntax.Number(
        math.inf
    )


def _realistic(size: int) -> str:
    parts = ["in_i { k1 = 0.04, k2 = 1e4, k3 = 3e7 }"]
    i = 0
    while sum(map(len, parts)) < size:
        parts.append(
            f"a{i}_i {{ (0:3): k1 * sin(t) + 2.5e-3 * (k2 - k3) / 4, "
            f"x{i} = -pow(k1, 2) * a{max(i - 1, 0)}_i[N % 2], // c\n  /* b */ 7 }}"
        )
        i += 1
    return "\n".join(parts)


def test_parse_time_50kb() -> None:
    """A 50 KB model (~18k tokens) parses well within budget (about 0.2 s CPU here)."""
    text = _realistic(50_000)
    start = time.perf_counter()
    model = parse(text)
    assert time.perf_counter() - start < 10.0 and len(model.tensors) > 400


@pytest.mark.slow
def test_parse_time_1mb() -> None:
    """A 1 MB model (~370k tokens) parses in a few seconds (about 4 s CPU on a slow box)."""
    text = _realistic(1_000_000)
    start = time.perf_counter()
    model = parse(text)
    assert time.perf_counter() - start < 60.0 and len(model.tensors) > 8000


def test_type_error_for_non_str() -> None:
    """Style guide rule 6: a wrong argument type is a TypeError naming the argument."""
    with pytest.raises(TypeError, match="`text` must be a str"):
        parse(b"u { 1 }")  # type: ignore[arg-type]


def test_threads_share_the_parser() -> None:
    """The shared LALR parser and its callbacks keep no per-parse state."""
    texts = list(INLINE.values()) * 8
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(parse, texts))
    assert models == [parse(t) for t in texts]


def test_grammar_is_package_data_and_conflict_free() -> None:
    """The LALR tables have no shift/reduce or reduce/reduce conflict (lark logs them)."""
    grammar = resources.files("diffid_plugins.diffsl").joinpath("_grammar.lark").read_text()
    logger, stream = logging.getLogger("lark"), io.StringIO()
    handler, level = logging.StreamHandler(stream), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        Lark(grammar, parser="lalr", lexer="basic", debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert "conflict" not in stream.getvalue().lower()


# ------------------------------------------------------------------------------ _source


def test_line_col_and_render_context() -> None:
    """_source contract: \n, \r\n and \r end lines; tabs kept; unprintables shown as '?'."""
    text = "ab\r\ncd\re\n\tx = 1"
    assert [line_col(text, i) for i in (0, 2, 3, 4, 7, 9, 10, 99)] == [
        (1, 1), (1, 3), (1, 4), (2, 1), (3, 1), (4, 1), (4, 2), (4, 7),
    ]  # fmt: skip
    assert LineIndex(text).line_col(-5) == (1, 1)
    assert render_context(text, 4, 2) == "\tx = 1\n\t^"
    assert render_context(text, 9, 1) == "" and render_context(text, 0, 1) == ""
    assert render_context("a\x00\x1bb", 1, 4) == "a??b\n   ^"
    assert render_context("ab", 1, 50) == "ab\n  ^"
    long = render_context("x" * 500 + "#" + "y" * 500, 1, 501)
    head, caret = long.split("\n")
    assert head.startswith("...") and head.endswith("...") and head[caret.index("^")] == "#"


# ---------------------------------------------------------------------------- hypothesis

_NAME = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_letters),
    st.text(string.ascii_letters + string.digits, max_size=3),
)
_LETTERS = st.text(string.ascii_letters, min_size=1, max_size=3).map(tuple)
_NUM = st.floats(min_value=0.0, allow_nan=False).filter(lambda v: math.copysign(1, v) > 0)


_INT_EXPR: st.SearchStrategy[syntax.IntExpr] = st.recursive(
    st.one_of(st.integers(0, 10**6).map(syntax.IntLiteral), st.just(syntax.ModelIndex())),
    lambda c: st.one_of(
        st.builds(syntax.IntUnaryOp, st.sampled_from("+-"), c),
        st.builds(syntax.IntBinOp, st.sampled_from("+-*/%"), c, c),
    ),
    max_leaves=6,
)
_REF = st.builds(syntax.Name, _NAME, st.one_of(st.just(()), _LETTERS))
_SLICE = st.one_of(
    st.builds(syntax.Slice, _REF, _INT_EXPR),
    st.builds(syntax.Slice, _REF, _INT_EXPR, _INT_EXPR, st.sampled_from([":", ".."])),
)
_EXPR: st.SearchStrategy[syntax.Expr] = st.recursive(
    st.one_of(_NUM.map(syntax.Number), _REF, _SLICE),
    lambda c: st.one_of(
        st.builds(syntax.UnaryOp, st.sampled_from("+-"), c),
        st.builds(syntax.BinOp, st.sampled_from("+-*/"), c, c),
        st.builds(syntax.Call, _NAME, st.lists(c, min_size=1, max_size=3).map(tuple)),
    ),
    max_leaves=8,
)
_RANGE = st.one_of(
    st.builds(syntax.Range, st.integers(0, 99)),
    st.builds(syntax.Range, st.integers(0, 99), st.integers(0, 99), st.sampled_from([":", ".."])),
)
_SPEC = st.one_of(st.none(), st.lists(_RANGE, min_size=1, max_size=3).map(tuple))
_PATH = st.text(string.printable.replace("'", "").replace("\r", ""), max_size=8)
_ELEMENT = st.one_of(
    st.builds(syntax.Element, _EXPR, _SPEC, st.one_of(st.none(), _NAME)),
    st.builds(lambda spec, path: syntax.Element(None, spec, read_path=path), _SPEC, _PATH),
)
_TENSOR = st.builds(
    syntax.Tensor,
    _NAME,
    st.one_of(st.just(()), _LETTERS),
    st.lists(_ELEMENT, max_size=3).map(tuple),
)
_MODEL = st.builds(
    syntax.Model,
    st.lists(_TENSOR, max_size=3).map(tuple),
    st.one_of(st.none(), st.lists(_NAME, max_size=3).map(lambda n: syntax.InputList(tuple(n)))),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MODEL)
def test_round_trip_generated_models(model: syntax.Model) -> None:
    """syntax.py contract: str() prints DiffSL that parses back to an equal tree."""
    assert parse(str(model)) == model


def _only_diffsl_errors(text: str) -> None:
    try:
        parse(text)
    except DiffSLError as err:
        assert err.stage == "parse" and err.line is not None
        assert str(err).startswith("DiffSL Parser error:")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_model_or_diffsl_error(text: str) -> None:
    """parse contract: any str (any code point) gives a Model or a DiffSLError."""
    _only_diffsl_errors(text)


_DIFFSL_CHARS = string.ascii_letters[:8] + "Nin_0123456789.e+-*/%(){}[],=:;'#^ \t\r\n"
_SEEDS = list(INLINE.values()) + [r["text"] for r in _corpus("models.json")]


@settings(max_examples=300, deadline=None)
@given(st.text(_DIFFSL_CHARS, max_size=80))
def test_diffsl_like_text_gives_model_or_diffsl_error(text: str) -> None:
    """parse contract, on short texts made of DiffSL's own characters."""
    _only_diffsl_errors(text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_models_give_model_or_diffsl_error(data: st.DataObject) -> None:
    """Near-valid DiffSL: corpus/inline texts with a few characters deleted/inserted/swapped."""
    text = data.draw(st.sampled_from(_SEEDS))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        char = data.draw(st.sampled_from(_DIFFSL_CHARS + "\x00\u00e9"))
        if op == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif op == "insert":
            text = text[:pos] + char + text[pos:]
        elif op == "replace":
            text = text[:pos] + char + text[pos + 1 :]
        else:
            text = text[:pos] + text[pos : pos + 20] + text[pos:]
    _only_diffsl_errors(text)
