"""Differential tests against the reference implementation (issue 2, acceptance item 4).

The reference is pydiffsol 0.6.2 (diffsl 0.12.4, LLVM backend), a test-only dependency:
``ode = pydiffsol.Ode(text, matrix_type=pydiffsol.nalgebra_dense)``; ``ode.y0(p)``,
``ode.rhs(p, t, y)`` and ``ode.rhs_jac_mul(p, t, y, v)`` evaluate the initial state, F and
J·v directly; ``ode.solve_dense(p, [0, 1e-9])`` gives ``out`` at the initial state in its first
column. pydiffsol cannot set the model index N (it only changes at a reset), so rows with
N > 0 use the numbers of diffsl-reference.md §8.4 or the index rules of §4.6 instead.

Two parts:

* ``test_generated_models_match_reference``: hypothesis builds small structured models over the
  grammar (see :func:`models`) and compares initial state, F, dF/du and outputs. Each example
  costs one numba compile (~1-2 s), so the default is 25 examples, deterministic
  (``derandomize``) and without shrinking (the failure message prints the whole model, which is
  small). ``DIFFID_ORACLE_EXAMPLES=500`` explores more; ``DIFFID_ORACLE_SHRINK=1`` shrinks.
* ``TRICKY``: hand-written cases where implementations typically differ, each compared with
  the reference and, where the reference documents a value, with that value too.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ds = pytest.importorskip(
    "pydiffsol",
    reason="pydiffsol (the DiffSL reference, test extra `pydiffsol==0.6.2`) is not installed",
)

pytestmark = pytest.mark.oracle

N_EXAMPLES = int(os.environ.get("DIFFID_ORACLE_EXAMPLES", "25"))
PHASES = (
    tuple(Phase)
    if os.environ.get("DIFFID_ORACLE_SHRINK")
    else (Phase.explicit, Phase.reuse, Phase.generate)
)


# ============================================================================ the reference


def reference(text: str) -> Any:
    """Compile ``text`` with pydiffsol; any failure (incl. its PanicException) fails the test."""
    try:
        return ds.Ode(text, matrix_type=ds.nalgebra_dense)
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        pytest.fail(f"the reference rejects the model ({type(exc).__name__}: {exc})\n{text}")


def reference_outputs(ode: Any, p: np.ndarray) -> np.ndarray | None:
    """``out`` at t = 0 and the initial state: the first column of a very short solve.

    With no mass matrix the first solution column is exactly out(0, y0(p)). Returns None if
    the solver refuses (the comparison is then skipped; F itself is compared elsewhere).
    """
    try:
        return np.asarray(ode.solve_dense(p, np.array([0.0, 1e-9])).ys)[:, 0]
    except Exception:
        return None


def ours(text: str) -> Any:
    """Compile ``text`` with diffid_plugins (one numba compile; not cached: texts are unique)."""
    from diffid_plugins import compile_model

    return compile_model(text)


def assert_close(got: Any, want: Any, rtol: float, atol: Any, what: str, text: str) -> None:
    """|got - want| <= atol + rtol |want| elementwise (NaN == NaN, inf == inf of the same sign).

    ``atol`` may be an array (one bound per entry). The failure message shows the model text.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != reference {want.shape}\n{text}"
    atol = np.broadcast_to(np.asarray(atol, dtype=np.float64), want.shape)
    with np.errstate(invalid="ignore"):
        close = np.abs(got - want) <= atol + rtol * np.abs(want)
    close |= (np.isnan(got) & np.isnan(want)) | (np.isinf(want) & (got == want))
    lines = [
        f"  [{i}] ours {g!r}, reference {w!r}, |diff| {abs(g - w):.3g} > {a + rtol * abs(w):.3g}"
        for i, (g, w, a) in enumerate(zip(got.ravel(), want.ravel(), atol.ravel(), strict=True))
        if not close.ravel()[i]
    ]
    assert not lines, f"{what} (rtol {rtol:g}):\n" + "\n".join(lines) + f"\n--- model ---\n{text}"


# ============================================================================ the generator
#
# Expressions are built as (text, precedence, magnitude bound, flags). The magnitude bound
# keeps every value and every function argument in a range where the reference and numba
# agree to a few ulp: arguments of exp/sinh/cosh/tanh/sigmoid are squashed into |x| <= 5,
# tan into |x| <= 1.2, arcsinh into |x| <= 30 (the LLVM backend computes arcsinh as
# ln(x + sqrt(x^2 + 1)), which loses ~2 eps x^2 for negative x, §5), log/log10/sqrt/arccosh/
# pow take strictly positive bases built as (c + e * e), and divisions divide by a quantity
# >= 1. Discontinuous functions (heaviside, the sign argument of copysign) only take
# "exact" arguments (pure arithmetic, bit-identical in both implementations), so an ulp of
# difference can never flip a step.

ADD, MUL, UNARY, ATOM = 1, 2, 3, 4
CAP = 1e3  # bound on the magnitude of a product (larger products become sums)
NONSMOOTH = frozenset({"abs", "min", "max", "heaviside", "copysign", "interp1d"})
TRANSCENDENTAL = ("sin", "cos", "tan", "exp", "log", "sqrt", "pow", "sigmoid", "arc", "interp")


@dataclass(frozen=True)
class Expr:
    """A generated expression: DiffSL text plus what the generator knows about it."""

    text: str
    prec: int  # ADD, MUL, UNARY or ATOM (parenthesised or primary)
    mag: float  # upper bound on |value|
    exact: bool = True  # pure arithmetic: bit-identical in both implementations
    smooth: bool = True  # no function whose derivative the reference defines differently
    varies: bool = False  # depends on inputs, N or the state (not only on constants and t)

    def paren(self, need: int) -> str:
        """The text, parenthesised if its precedence is below ``need``."""
        return self.text if self.prec >= need else f"({self.text})"


def _combine(text: str, prec: int, mag: float, *parts: Expr, exact: bool = True) -> Expr:
    return Expr(
        text,
        prec,
        mag,
        exact and all(p.exact for p in parts),
        all(p.smooth for p in parts),
        any(p.varies for p in parts),
    )


def binop(op: str, left: Expr, right: Expr) -> Expr:
    """``left op right`` with exactly the parentheses that keep this tree (both are left-assoc)."""
    prec = ADD if op in "+-" else MUL
    mag = left.mag + right.mag if prec == ADD else left.mag * right.mag
    if op == "/":
        mag = left.mag  # only ever used with a denominator >= 1
    return _combine(f"{left.paren(prec)} {op} {right.paren(prec + 1)}", prec, mag, left, right)


def neg(e: Expr) -> Expr:
    """Unary minus: a sign binds to one primary, so anything but a primary gets parentheses."""
    return _combine(f"-{e.paren(ATOM)}", UNARY, e.mag, e)


def call(name: str, mag: float, *args: Expr, exact: bool = False) -> Expr:
    """``name(args)``; ``exact`` says whether the function itself is bit-reproducible."""
    e = _combine(f"{name}({', '.join(a.text for a in args)})", ATOM, mag, *args, exact=exact)
    return Expr(e.text, ATOM, mag, e.exact, e.smooth and name not in NONSMOOTH, e.varies)


def literal(value: float, style: int = 0) -> Expr:
    """A non-negative literal in one of the grammar's number forms (§2)."""
    plain = "e" not in repr(value)  # repr may itself use an exponent (1e-05)
    if style == 1 and value == int(value):
        text = str(int(value))  # 2
    elif style == 2 and value == int(value):
        text = f"{int(value)}."  # 2.
    elif style == 3 and plain:
        text = f"{value!r}e0"  # 1.25e0
    elif style == 4 and plain and "e" not in repr(value * 10):
        text = f"{value * 10!r}e-1"  # 12.5e-1 (value * 10 rounds, so it is its own literal)
        value = float(text)
    else:
        text = repr(value)  # 1.25 / 0.3333333333333333 / 1e-05
    return Expr(text, ATOM, value)


@st.composite
def numbers(draw: st.DrawFn, lo: float = 0.0, hi: float = 2.0) -> Expr:
    """A literal from a grid of eighths or any float in [lo, hi], in a random number form."""
    if draw(st.booleans()):
        value = draw(st.integers(math.ceil(lo * 8), math.floor(hi * 8))) / 8
    else:
        value = draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    return literal(value, draw(st.integers(0, 4)))


@dataclass(frozen=True)
class Vector:
    """A dense 1-D tensor (or vector label) that expressions may reference."""

    size: int
    mag: float
    exact: bool = True
    varies: bool = True


@dataclass
class Scope:
    """What an expression may reference at this point of the model text."""

    scalars: list[Expr] = field(default_factory=list)  # scalar names (labels, intermediates)
    vectors: dict[str, Vector] = field(default_factory=dict)
    tables: bool = False  # xs_i / ys_i interp1d tables are defined
    smooth_only: bool = False  # the model is meant for the Jacobian comparison
    labels: set[str] = field(default_factory=set)  # element labels of vectors: shape [1]

    def longest(self) -> int:
        return max((v.size for v in self.vectors.values()), default=0)

    def without_labels(self) -> Scope:
        """This scope minus the shape-[1] element labels.

        For the scalar expression of a ``(a:b):`` range element: the reference panics
        ("nnz after translate mismatch") when such an expression references an element label
        of a vector tensor (``F_i { (0:2): x, z }`` with ``u_i { x = 1, ... }``), although the
        value is well defined. Rank-0 tensors, ``u_i[k]`` and ``t`` are fine there.
        """
        scalars = [e for e in self.scalars if e.text not in self.labels]
        return Scope(scalars, self.vectors, self.tables, self.smooth_only, self.labels)


@st.composite
def atoms(draw: st.DrawFn, scope: Scope, length: int | None, letter: str) -> Expr:
    """A primary: a literal or a name of the right shape (a slice for shorter vectors).

    Scalars: literals, scalar names, and ``name_i[k]`` single-element indexing (which drops
    the letter from the index space, §4.6). Vectors of ``length``: ``name_l`` for vectors of
    exactly that length, ``name_l[a:b]`` / ``name_l[a..b]`` slices of longer ones.
    """
    if length is None:
        choices = ["number"] + ["scalar"] * bool(scope.scalars) + ["index"] * bool(scope.vectors)
        kind = draw(st.sampled_from(choices))
        if kind == "number":
            return draw(numbers())
        if kind == "scalar":
            return draw(st.sampled_from(scope.scalars))
        name = draw(st.sampled_from(sorted(scope.vectors)))
        vec = scope.vectors[name]
        k = draw(st.integers(0, vec.size - 1))
        return Expr(f"{name}_{letter}[{k}]", ATOM, vec.mag, vec.exact, True, vec.varies)
    names = sorted(name for name, vec in scope.vectors.items() if vec.size >= length)
    name = draw(st.sampled_from(names))
    vec = scope.vectors[name]
    text = f"{name}_{letter}"
    if vec.size > length:
        start = draw(st.integers(0, vec.size - length))
        text += f"[{start}{draw(st.sampled_from([':', '..']))}{start + length}]"
    return Expr(text, ATOM, vec.mag, vec.exact, True, vec.varies)


def squash(e: Expr, limit: float) -> Expr:
    """``e`` if |e| <= limit is already guaranteed, else ``limit * sin(e)``."""
    if e.mag <= limit:
        return e
    return binop("*", literal(float(limit)), call("sin", 1.0, e))


def positive(draw: st.DrawFn, e: Expr, offset: float, limit: float) -> Expr:
    """A strictly positive expression ``offset + s * s`` (or ``s * s + offset``), s = squash(e)."""
    s = squash(e, limit)
    square = binop("*", s, s)
    if draw(st.booleans()):
        return binop("+", literal(offset), square)
    return binop("+", square, literal(offset))


def function(draw: st.DrawFn, scope: Scope, e: Expr, other: Expr) -> Expr:
    """Apply a builtin of §5 to ``e`` (and ``other`` for the binary ones), domain-safe."""
    names = [
        "sin", "cos", "exp", "log", "log10", "sqrt", "pow", "sigmoid", "tanh", "sinh",
        "cosh", "arcsinh", "arccosh",
    ]  # fmt: skip
    special = []  # listed first: hypothesis favours the start of a sampled_from list
    if not e.varies:
        # The reference cannot differentiate llvm.tan: a tan() of anything that depends on
        # inputs or the state aborts the whole process while compiling (Enzyme: "cannot
        # handle (forward) unknown intrinsic llvm.tan"). Only constant / t-only arguments.
        special.append("tan")
    if not scope.smooth_only:
        special += ["interp1d"] * scope.tables + ["heaviside"] * e.exact
        special += ["copysign"] * other.exact + ["abs", "min", "max"]
    names = special + names
    name = draw(st.sampled_from(names))
    if name in ("sin", "cos"):
        return call(name, 1.0, e)
    if name == "tan":
        return call(name, math.tan(1.2), squash(e, 1.2))
    if name in ("exp", "sinh", "cosh"):
        return call(name, math.exp(5.0), squash(e, 5.0))
    if name in ("tanh", "sigmoid"):
        return call(name, 1.0, squash(e, 5.0))
    if name == "arcsinh":
        return call(name, math.asinh(30.0), squash(e, 30.0))
    if name in ("log", "log10"):
        base = positive(draw, e, 0.5, 30.0)
        return call(name, max(abs(math.log(0.5)), math.log(base.mag)), base)
    if name == "sqrt":
        base = positive(draw, e, 0.25, 30.0)
        return call(name, math.sqrt(base.mag), base)
    if name == "arccosh":
        base = positive(draw, e, 1.5, 30.0)
        return call(name, math.acosh(base.mag), base)
    if name == "pow":
        if draw(st.booleans()):  # any base, small integer exponent
            k = draw(st.sampled_from([2.0, 3.0]))
            base = e if e.mag**k <= CAP else squash(e, 5.0)
            return call(name, base.mag**k, base, literal(k, draw(st.integers(0, 4))))
        base = positive(draw, e, 0.5, 3.0)  # base in [0.5, 9.5], exponent in [-3, 3]
        return call(name, base.mag**3, base, squash(other, 3.0))
    if name == "abs":
        return call(name, e.mag, e, exact=True)
    if name in ("min", "max"):
        return call(name, max(e.mag, other.mag), e, other, exact=True)
    if name == "heaviside":
        return call(name, 1.0, e, exact=True)
    if name == "copysign":
        return call(name, e.mag, e, other, exact=True)
    # interp1d: the tables are constant vectors with their own letter; |ys| <= 2.
    return call(name, 2.0, Expr("xs_i", ATOM, 0.0), Expr("ys_i", ATOM, 2.0), e)


@st.composite
def expressions(
    draw: st.DrawFn, scope: Scope, depth: int, length: int | None = None, letter: str = "i"
) -> Expr:
    """An expression that is a scalar (``length`` None) or a vector of ``length`` along ``letter``.

    A vector expression always contains a vector atom; the other operands may be scalars
    (broadcasting) or vectors of the same length (slices of longer ones).
    """
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        e = draw(atoms(scope, length, letter))
    else:
        kind = draw(st.sampled_from(["binop", "binop", "neg", "call", "div"]))
        sub = expressions(scope, depth - 1, length, letter)
        scalar = expressions(scope, depth - 1, None, letter)
        if kind == "neg":
            e = neg(draw(sub))
        elif kind == "call":
            main = draw(sub)
            e = function(draw, scope, main, draw(scalar if draw(st.booleans()) else sub))
        elif kind == "div":
            numerator = draw(sub)
            denominator = positive(draw, draw(scalar if draw(st.booleans()) else sub), 1.0, 30.0)
            e = binop("/", numerator, denominator)
        else:
            op = draw(st.sampled_from("+-*"))
            if length is None or draw(st.booleans()):
                left, right = draw(sub), draw(sub)
            elif draw(st.booleans()):
                left, right = draw(sub), draw(scalar)
            else:
                left, right = draw(scalar), draw(sub)
            e = binop(op, left, right)
            if e.mag > CAP:  # keep magnitudes bounded: a sum instead of a large product
                e = binop("+", left, right)
    if draw(st.integers(0, 9)) == 0:  # redundant parentheses, for the parser
        e = Expr(f"({e.text})", ATOM, e.mag, e.exact, e.smooth, e.varies)
    return e


@st.composite
def segments(
    draw: st.DrawFn, scope: Scope, length: int, depth: int
) -> tuple[list[str], list[float]]:
    """Elements that fill a vector of ``length``: scalars, vector blocks, ``(a:b):`` ranges.

    Returns the element texts and a magnitude bound per entry (for the tolerances).
    """
    texts: list[str] = []
    mags: list[float] = []
    start = 0
    while start < length:
        room = min(length - start, scope.longest())
        kind = draw(st.sampled_from(["scalar", "vector", "range"] if room >= 2 else ["scalar"]))
        if kind == "scalar":
            size, e = 1, draw(expressions(scope, depth))
            texts.append(e.text)
        else:
            size = draw(st.integers(2, room))
            if kind == "vector":
                e = draw(expressions(scope, depth, size))
                texts.append(e.text)
            elif draw(st.booleans()):
                e = draw(expressions(scope, depth, size))
                texts.append(f"({start}:{start + size}): {e.text}")
            else:  # a scalar broadcast over the range
                e = draw(expressions(scope.without_labels(), depth))
                texts.append(f"({start}:{start + size}): {e.text}")
        mags += [e.mag] * size
        start += size
    return texts, mags


@st.composite
def constant_vector(draw: st.DrawFn, n: int) -> tuple[str, float]:
    """Elements of a dense constant n-vector: signed literals and ``(a:b): literal`` blocks."""
    texts, start, mag = [], 0, 0.0
    while start < n:
        value = draw(numbers())
        signed = neg(value) if draw(st.booleans()) else value
        size = draw(st.integers(1, n - start))
        texts.append(signed.text if size == 1 else f"({start}:{start + size}): {signed.text}")
        mag = max(mag, value.mag)
        start += size
    return ", ".join(texts), mag


@dataclass
class Generated:
    """A generated model and where to evaluate it."""

    text: str
    p: np.ndarray
    t: float
    y: np.ndarray
    y0_mag: list[float]
    f_mag: list[float]
    out_mag: list[float]
    smooth: bool

    @property
    def exact(self) -> bool:
        """No transcendental function anywhere (also not through an intermediate)."""
        return not any(name in self.text for name in TRANSCENDENTAL)


STATE_VALUES = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
INPUT_VALUES = st.floats(0.5, 2.0, allow_nan=False, allow_infinity=False)


@st.composite
def models(draw: st.DrawFn) -> Generated:
    """A small structured model over the grammar.

    Layout (every piece optional unless said): ``in`` (0-3 scalar labels and/or a 2-vector
    block ``(a:b): kv = ...``, or a scalar ``in { k0 = ... }``); a constant vector ``c_i``
    (always; signed literals and ``(a:b):`` blocks); a constant n x n matrix ``A_ij`` (explicit
    entries, an outer-product broadcast ``c_i - s * c_j``, or a tridiagonal of ``..`` ranges)
    and its transpose plus a row, ``B_ij { A_ji * s + c_j }``; interp1d tables; an
    input-dependent scalar ``g`` usable by the initial state; the state ``u_i`` (2-5 states:
    labelled scalars, unlabelled elements and one ``(a:b): v = ...`` vector label); 1-3
    intermediates depending on inputs, states and t (scalars, segmented vectors, contractions
    ``A_ij * e_j`` / ``B_ij * e_i`` with an optional scalar inside the summed element, dot
    products ``e_i * f_i``); ``F_i``; optionally a state-dependent ``z`` after F and ``out_i``.
    Labels become visible only after their tensor (§4.2), and every name is defined before use.
    """
    smooth = draw(st.booleans())  # a smooth model is also compared on dF/du
    scope = Scope(smooth_only=smooth)
    lines: list[str] = []
    n = draw(st.integers(2, 5))
    depth = draw(st.integers(1, 3))

    # ---- inputs (their values in the text are placeholders: p is drawn separately)
    labels = [f"k{m}" for m in range(draw(st.integers(0, 3)))]
    block = draw(st.integers(0, 3)) == 0
    n_inputs = len(labels) + 2 * block
    if n_inputs:
        elements = [f"{name} = {draw(numbers(0.5, 2.0)).text}" for name in labels]
        if block:
            at = draw(st.integers(0, len(elements)))
            elements.insert(at, f"({at}:{at + 2}): kv = {draw(numbers(0.5, 2.0)).text}")
        if n_inputs == 1 and draw(st.booleans()):
            lines.append(f"in {{ {elements[0]} }}")  # a rank-0 `in`: its label is a scalar
        else:
            lines.append(f"in_i {{ {', '.join(elements)} }}")
            scope.labels.update(labels)  # labels of a vector `in_i` have shape [1]
    scope.scalars += [Expr(name, ATOM, 2.0, varies=True) for name in labels]
    if block:
        scope.vectors["kv"] = Vector(2, 2.0)
    scope.scalars.append(Expr("N", ATOM, 1.0, varies=True))  # the model index is 0 here

    # ---- constants
    c_text, c_mag = draw(constant_vector(n))
    lines.append(f"c_i {{ {c_text} }}")
    scope.vectors["c"] = Vector(n, c_mag, varies=False)
    matrix = draw(st.sampled_from(["none", "dense", "outer", "tridiagonal"]))
    a_mag = 2.0
    # Matrix entries are non-zero literals: the reference drops literal-0 entries from the
    # pattern, so a zero row makes A_ij * e_j sparse (F "must have a dense layout"), and an
    # all-zero matrix panics the reference ("called Option::unwrap() on a None value").
    nonzero = numbers(0.125, 2.0)
    if matrix == "dense":
        entries = [f"({r}, {col}): {draw(nonzero).text}" for r in range(n) for col in range(n)]
        lines.append(f"A_ij {{ {', '.join(entries)} }}")
    elif matrix == "outer":
        lines.append(f"A_ij {{ c_i - {draw(numbers(0.0, 1.0)).text} * c_j }}")
        a_mag = 2 * c_mag
    elif matrix == "tridiagonal":
        a, b, d = (draw(nonzero).text for _ in range(3))
        lines.append(
            f"A_ij {{ (0..{n}, 0..{n}): {a}, (1..{n}, 0..{n - 1}): {b}, "
            f"(0..{n - 1}, 1..{n}): {d} }}"
        )
    transpose = matrix in ("dense", "outer") and draw(st.booleans())
    if transpose:
        lines.append(f"B_ij {{ A_ji * {draw(numbers(0.0, 1.0)).text} + c_j }}")
    if not smooth and draw(st.booleans()):
        xs = sorted(draw(st.lists(st.integers(-16, 16), min_size=2, max_size=5, unique=True)))
        ys = draw(st.lists(st.integers(-16, 16), min_size=len(xs), max_size=len(xs)))
        lines.append(f"xs_i {{ {', '.join(str(x / 8) for x in xs)} }}")
        lines.append(f"ys_i {{ {', '.join(str(y / 8) for y in ys)} }}")
        scope.tables = True

    # ---- an input-dependent scalar, visible to the initial state
    if n_inputs and draw(st.booleans()):
        g = draw(expressions(scope, depth))
        lines.append(f"g {{ {g.text} }}")
        scope.scalars.append(Expr("g", ATOM, g.mag, g.exact, varies=True))

    # ---- the state; its labels become visible after the whole tensor
    elements, y0_mag, new_scalars = [], [], []
    k, vector_label = 0, False
    while k < n:
        kind = draw(st.sampled_from(["label", "label", "plain", "block"]))
        if kind == "block" and not vector_label and n - k >= 2:
            init = draw(expressions(scope.without_labels(), depth))
        else:
            init = draw(expressions(scope, depth))
        size = 1
        if kind == "block" and not vector_label and n - k >= 2:
            size = draw(st.integers(2, min(3, n - k)))
            elements.append(f"({k}:{k + size}): v = {init.text}")
            vector_label = True
        elif kind == "plain":
            elements.append(init.text)
        else:
            elements.append(f"x{k} = {init.text}")
            new_scalars.append(Expr(f"x{k}", ATOM, 2.0, varies=True))
        y0_mag += [init.mag] * size
        k += size
    lines.append(f"u_i {{ {', '.join(elements)} }}")
    scope.scalars += [*new_scalars, Expr("t", ATOM, 2.0)]
    scope.labels.update(e.text for e in new_scalars)
    scope.vectors["u"] = Vector(n, 2.0)
    if vector_label:
        scope.vectors["v"] = Vector(elements_size(elements), 2.0)

    # ---- intermediates (state-, time- and input-dependent)
    for m in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["scalar", "vector", "contract", "dot"]))
        if kind == "contract" and matrix != "none":
            e = draw(expressions(scope, max(depth - 1, 0), n, "j"))
            plus, s_mag = "", 0.0
            if draw(st.booleans()):  # the whole element is summed: the scalar is added n times
                s = draw(expressions(scope, 0))
                plus, s_mag = f" + {s.paren(ADD + 1)}", s.mag
            if transpose and draw(st.booleans()):  # (B^T e)_j: output letter j, summed over i
                operand = e.paren(MUL + 1).replace("_j", "_i")
                lines.append(f"w{m}_j {{ B_ij * {operand}{plus} }}")
                mag = n * ((a_mag + c_mag) * e.mag + s_mag)
            else:
                lines.append(f"w{m}_i {{ A_ij * {e.paren(MUL + 1)}{plus} }}")
                mag = n * (a_mag * e.mag + s_mag)
            scope.vectors[f"w{m}"] = Vector(n, mag, e.exact)
        elif kind == "dot":
            a = draw(expressions(scope, max(depth - 1, 0), n))
            b = draw(expressions(scope, max(depth - 1, 0), n))
            product = binop("*", a, b)
            lines.append(f"s{m} {{ {product.text} }}")
            scope.scalars.append(Expr(f"s{m}", ATOM, n * product.mag, product.exact, varies=True))
        elif kind == "vector":
            texts, mags = draw(segments(scope, n, depth))
            lines.append(f"w{m}_i {{ {', '.join(texts)} }}")
            exact = not any(name in " ".join(texts) for name in TRANSCENDENTAL)
            scope.vectors[f"w{m}"] = Vector(n, max(mags), exact)
        else:
            e = draw(expressions(scope, depth))
            lines.append(f"s{m} {{ {e.text} }}")
            scope.scalars.append(Expr(f"s{m}", ATOM, e.mag, e.exact, varies=True))

    # ---- F, then optionally a state-dependent tensor after F and out
    f_texts, f_mag = draw(segments(scope, n, depth))
    lines.append(f"F_i {{ {', '.join(f_texts)} }}")
    out_mag: list[float] = []
    if draw(st.booleans()):
        z = draw(expressions(scope, depth))
        lines.append(f"z {{ {z.text} }}")
        scope.scalars.append(Expr("z", ATOM, z.mag, z.exact, varies=True))
        out_texts, out_mag = draw(segments(scope, draw(st.integers(1, 3)), depth))
        lines.append(f"out_i {{ {', '.join(out_texts)} }}")

    return Generated(
        text="\n".join(lines) + "\n",
        p=np.array([draw(INPUT_VALUES) for _ in range(n_inputs)]),
        t=draw(st.floats(0.0, 2.0)),
        y=np.array([draw(STATE_VALUES) for _ in range(n)]),
        y0_mag=y0_mag,
        f_mag=f_mag,
        out_mag=out_mag,
        smooth=smooth,
    )


def elements_size(elements: list[str]) -> int:
    """Length of the ``(a:b): v = ...`` block among the state's elements."""
    (block,) = [e for e in elements if ": v = " in e]
    start, stop = block[1 : block.index(")")].split(":")
    return int(stop) - int(start)


# ============================================================================ tolerances
#
# rtol: pure arithmetic is bit-identical in both implementations (IEEE operations in the
# same order), so 1e-10 is already generous; with transcendental functions the two sides use
# different implementations (numba: libm through LLVM; the reference: LLVM intrinsics, and
# exp-/log-based formulas for the hyperbolic functions, §5), a few ulp apart, and a chain of
# up to 4 calls with the clamped arguments above amplifies that by < 1e3: 1e-9.
# atol: 1e-12 x the magnitude bound of the entry, for results that cancel (a - b with
# |a|, |b| >> |a - b|), whose error is relative to the operands, not to the result.


def tolerances(gen: Generated, mags: list[float]) -> tuple[float, np.ndarray]:
    rtol = 1e-10 if gen.exact else 1e-9
    return rtol, 1e-12 * np.maximum(1.0, np.asarray(mags, dtype=np.float64))


def check_against_reference(gen: Generated) -> None:
    """Initial state, F, dF/du (smooth models) and outputs of ours vs the reference."""
    ode = reference(gen.text)
    model = ours(gen.text)
    text = gen.text
    assert (model.n_states, model.n_inputs) == (ode.nstates, ode.nparams), text
    assert model.n_outputs == ode.nout, text

    rtol, atol = tolerances(gen, gen.y0_mag)
    assert_close(model.initial_state(gen.p), ode.y0(gen.p), rtol, atol, "initial state", text)

    rtol, atol = tolerances(gen, gen.f_mag)
    where = f"F at t={gen.t!r}, y={gen.y.tolist()!r}, p={gen.p.tolist()!r}"
    dy = model.rhs(gen.p, gen.t, gen.y)
    assert_close(dy, ode.rhs(gen.p, gen.t, gen.y), rtol, atol, where, text)

    if gen.smooth:
        # The reference's J·v is exact (Enzyme); compare column by column. Same tolerance
        # shape as the finite-difference test, tighter: the derivative formulas differ only
        # in rounding (e.g. sigmoid' = 1 / (2 cosh x + 2) there).
        jac = np.asarray(model.jacobian(gen.p, gen.t, gen.y), dtype=np.float64)
        eye = np.eye(model.n_states)
        ref = np.column_stack([ode.rhs_jac_mul(gen.p, gen.t, gen.y, col) for col in eye])
        scale = np.max(np.abs(ref), axis=1, keepdims=True)
        bad = np.abs(jac - ref) > 1e-9 * (np.abs(ref) + scale) + 1e-13
        assert not bad.any(), f"dF/du {where}\nours\n{jac}\nreference\n{ref}\n{text}"

    if gen.out_mag:
        want = reference_outputs(ode, gen.p)
        if want is not None:
            y0 = ode.y0(gen.p)
            rtol, atol = tolerances(gen, gen.out_mag)
            assert_close(model.outputs(gen.p, 0.0, y0), want, rtol, atol, "out at t=0", text)


@settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(gen=models())
def test_generated_models_match_reference(gen: Generated) -> None:
    """Hypothesis-generated models: ours == pydiffsol on y0, F, dF/du (smooth) and out."""
    check_against_reference(gen)


@settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(gen=models())
def test_generator_only_produces_valid_models(gen: Generated) -> None:
    """The generator itself: the reference accepts every model and evaluates it finitely.

    Needs no compiler of ours (about 0.35 s per model); it also checks that the magnitude
    bounds the tolerances rely on really bound the values.
    """
    ode = reference(gen.text)
    assert ode.nstates == gen.y.size and ode.nparams == gen.p.size, gen.text
    y0 = ode.y0(gen.p)
    dy = ode.rhs(gen.p, gen.t, gen.y)
    assert np.all(np.abs(y0) <= np.maximum(gen.y0_mag, 1.0) * (1 + 1e-9)), (y0, gen.text)
    assert np.all(np.abs(dy) <= np.maximum(gen.f_mag, 1.0) * (1 + 1e-9)), (dy, gen.text)


# ============================================================================ hand-written cases


@dataclass(frozen=True)
class Case:
    """A hand-written model evaluated at (p, t, y); y None means the initial state."""

    id: str
    text: str
    p: tuple[float, ...] = ()
    t: float = 0.0
    y: tuple[float, ...] | None = None
    expected: tuple[float, ...] | None = None  # F documented by the reference (source noted)
    outputs: tuple[float, ...] | None = None  # out at (p, t = 0, initial state)


MATRIX_2X2 = "A_ij { (0, 0): 1, (0, 1): 2, (1, 0): 3, (1, 1): 4 }\n"
TABLE = "xs_i { 0, 10, 20 }\nys_i { 1, 5, 15 }\n"
AMP3 = "amp_i { 0, 10, 20 }\nu_i { x = 1, y = 1 }\n"

TRICKY = [
    # §3 consequence 1 (verified list): [14, 20, -5, 0.25, -6, -4], here mixed with states.
    Case(
        "precedence",
        "u_i { x = 2, y = 3, a = 0, b = 0, c = 0, d = 0, e = 0 }\n"
        "F_i { 2 - 3 - 4, 8 / -2, -x * y, 2 / 4 / 2, 1 - -x, +x, x - y - 4 }",
        expected=(-5, -4, -6, 0.25, 3, 2, -5),
    ),
    Case(
        "transpose",  # A + B^T = [[6, 9], [9, 12]]; times [1, 2] (hand-derived)
        MATRIX_2X2 + "B_ij { (0, 0): 5, (0, 1): 6, (1, 0): 7, (1, 1): 8 }\n"
        "C_ij { A_ij + B_ji }\nu_i { x = 1, y = 2 }\nF_i { C_ij * u_j }",
        expected=(24, 33),
    ),
    Case(
        "column-and-row-sums",  # §4.5.4: v_j { A_ij } column sums [4, 6], r_i { A_ij } [3, 7]
        MATRIX_2X2 + "v_j { A_ij }\nr_i { A_ij }\nu_i { a = 1, b = 1, c = 1, d = 1 }\n"
        "F_i { v_i * a, r_i * b }",
        expected=(4, 6, 3, 7),
    ),
    Case(
        "contraction-sums-the-plus-one",  # §4.5.4 verified: [9, 18]
        "A_ij { (0, 0): 1, (0, 1): 2, (0, 2): 3, (1, 0): 4, (1, 1): 5, (1, 2): 6 }\n"
        "u_i { x = 1, y = 1, z = 1 }\nb_i { A_ij * u_j + 1 }\nF_i { b_i, z }",
        expected=(9, 18, 1),
    ),
    Case(
        "heaviside-at-zero",  # §5: heaviside(0) = heaviside(-0.0) = 1
        "u_i { x = 0, y = 0, z = 0, w = 0 }\n"
        "F_i { heaviside(x), heaviside(-x), heaviside(0), heaviside(-0.1) }",
        expected=(1, 1, 1, 0),
    ),
    Case(
        "min-max-ignore-nan",  # §5: IEEE minNum/maxNum, min(1, 0/0) = 1 (verified)
        "u_i { x = 0, y = 0, z = 0, w = 0 }\n"
        "F_i { min(1, 0/0), max(x/x, 2), min(x/x, -3), max(2, 0/0) }",
        expected=(1, 2, -3, 2),
    ),
    Case(
        "copysign-negative-zero",  # §5: the sign of -0.0 counts
        "u_i { x = 0, y = 1, z = 0, w = 0 }\n"
        "F_i { copysign(3, -0.0), copysign(3, -x), copysign(-2, y), copysign(3, x) }",
        expected=(-3, -3, 2, 3),
    ),
    Case(
        "pow-c-semantics",  # §5: pow(-8, 1/3) = NaN, pow(0, 0) = 1
        "u_i { x = -8, y = 0, z = 4 }\nF_i { pow(-8, 1/3), pow(x, 1/3), pow(y, 0) + pow(z, 0.5) }",
        expected=(math.nan, math.nan, 3),
    ),
    Case(
        "interp1d-batched",  # §5 worked values: clamp, knots, midpoints
        TABLE + "u_i { (0:7): q = 0 }\nF_i { interp1d(xs_i, ys_i, u_i) }",
        y=(-5, 0, 5, 10, 15, 20, 100),
        expected=(1, 1, 3, 5, 10, 15, 15),
    ),
    Case(
        "interp1d-of-t",  # §5: q = 5 -> 3
        TABLE + "u { q = 0 }\nF { interp1d(xs_i, ys_i, t) + q }",
        t=5.0,
        expected=(3,),
    ),
    Case(
        "interp1d-nonuniform",  # §5: xs = [0,3,10,20], ys = [0,6,20,40]: [1,7,15] -> [2,14,30]
        "xs_i { 0, 3, 10, 20 }\nys_i { 0, 6, 20, 40 }\nq_i { 1, 7, 15 }\n"
        "r_i { interp1d(xs_i, ys_i, q_i) }\nu_i { a = 0, b = 0, c = 0 }\nF_i { r_i + u_i }",
        expected=(2, 14, 30),
    ),
    Case(
        "model-index-amp-N0",  # corpus model_index_amp / §8.4: N = 0 -> [-1, 1]
        "amp_i { 0, 10 }\ndur_i { 10, 5 }\nu_i { x = 1, tclock = 0 }\n"
        "F_i { amp_i[N % 2] - x, 1 }\nstop_i { dur_i[N % 2] - tclock }",
        expected=(-1, 1),
    ),
    Case(
        "index-truncating-division",  # §4.6: / and % truncate like Rust: N = 0 -> amp[0], amp[0]
        AMP3 + "F_i { amp_i[(N - 3) / 2 + 1] - x, amp_i[(N - 3) % 2 + 1] - y }",
        expected=(-1, -1),
    ),
    Case(
        "index-parentheses",  # §4.6: ((0 + 4 / 2) * 3 - 1) % 2 = 1
        "amp_i { 0, 10 }\nu_i { x = 1, y = 1 }\nF_i { amp_i[((N + 4 / 2) * 3 - 1) % 2] - x, y }",
        expected=(9, 1),
    ),
    Case(
        "slices-and-indices",  # §4.6: a_i[1:3] = [1, 2], a_i[3] = 3
        "a_i { 0, 1, 2, 3 }\nu_i { x = 1, y = 2, z = 3 }\n"
        "F_i { a_i[1:3] * u_i[0:2], a_i[3] - z + a_i[1..2] }",
        expected=(1, 4, 1),
    ),
    Case(
        "range-label",  # §4.2: a label on a range block is a vector (verified with the oracle)
        "u_i { (0:2): v = 1.5, w = 3 }\nF_i { (0:2): -v_i * w, w }",
        expected=(-4.5, -4.5, 3),
    ),
    Case(
        "sigmoid-extremes",  # §5: sigmoid(0) = 0.5; exp overflow gives 1/(1+inf) = 0
        "u_i { x = 0, y = 30, z = -800 }\nF_i { sigmoid(x), sigmoid(y), sigmoid(z) }",
    ),
    Case(
        "number-forms",  # §2: 1., 1.e1, 1.5e-3, 2e5, 3e+0
        "u_i { x = 1., y = 1.e1 }\nF_i { 1.5e-3 * x, 2e5 * y + 3e+0 }",
        expected=(1.5e-3, 2000003),
    ),
    Case(
        "comments-and-no-whitespace",  # §2: u{y=1}F{-y} is valid; // since 0.10
        "/* block\n comment */ u{y=1}// line comment\nF{-y}",
        expected=(-1,),
    ),
    Case(
        "input-and-time-dependent",
        "in { k = 2 }\ng { 2 * k }\nh { sin(t) }\nu_i { x = g, y = k }\n"
        "F_i { -g * x + h, k * y * t }",
        p=(1.5,),
        t=0.7,
    ),
    Case(
        "input-vector-block",  # corpus inputs_vector_block: 4 parameters a, b0, b1, c
        "in_i { a = 1, (1:3): b = 1, c = 1 }\nu_i { x = a, y = c }\nF_i { b_i * x + c }",
        p=(1, 2, 3, 4),
        expected=(6, 7),
    ),
    Case(
        "diagonal-of-inputs",  # §4.3: (0..2, 0..2): p_i is diag(p)
        "in_i { a = 3, b = 4 }\np_i { a, b }\nD_ij { (0..2, 0..2): p_i }\n"
        "u_i { x = 1, y = 2 }\nF_i { D_ij * u_j }",
        p=(3, 4),
        expected=(3, 8),
    ),
    Case(
        "block-diagonal",  # §4.3: blocks use block-local indices
        "A_ij { (0..2, 0..2): 1 }\nB_ij { (0:2, 0:2): A_ij, (2:4, 2:4): 2 * A_ij }\n"
        "u_i { (0:4): q = 1 }\nF_i { B_ij * u_j }",
        y=(1, 2, 3, 4),
        expected=(1, 2, 6, 8),
    ),
    Case(
        "rows-from-row-vectors",  # §4.3: a_j is a row: A = [[1, 2], [3, 4]]
        "a_i { 1, 2 }\nb_i { 3, 4 }\nA_ij { a_j, b_j }\nu_i { x = 1, y = 2 }\nF_i { A_ij * u_j }",
        expected=(5, 11),
    ),
    Case(
        "rank-3-contraction",  # §4.5.4: r_ij { a_ijk } sums the last axis
        "a_ijk { (0:2, 0:2, 0:3): 2.0 }\nr_ij { a_ijk }\nu_i { x = 1, y = 1 }\nF_i { r_ij * u_j }",
        expected=(12, 12),
    ),
    Case(
        "sum-and-dot",  # §4.5.4: r { a_i * b_i } dot product, s { u_i } sum
        "a_i { 1, 2 }\nu_i { x = 3, y = 4 }\ns { u_i }\nd { a_i * u_i }\nF_i { s, d }",
        expected=(7, 11),
    ),
    Case(
        "tensor-named-like-a-function",  # §3 consequence 4: legal but confusing
        "sin { 2 }\nu_i { x = 1, y = 2 }\nF_i { sin * x, sin(y) }",
        expected=(2, math.sin(2)),
    ),
    Case(
        "out-after-F",  # §8.1: state-dependent tensors after F are computed for out only
        "u_i { x = 1, y = 2 }\nF_i { -x, -y }\nz { x * y + t }\nout_i { z, sin(x), 2 * y }",
        outputs=(2, math.sin(1), 4),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in TRICKY])
def test_tricky_cases_match_reference(case: Case) -> None:
    """Hand-written cases: ours == pydiffsol (and == the documented value where there is one)."""
    ode = reference(case.text)
    model = ours(case.text)
    p = np.array(case.p, dtype=np.float64)
    y0 = ode.y0(p)
    assert_close(model.initial_state(p), y0, 1e-12, 1e-15, "initial state", case.text)
    y = y0 if case.y is None else np.array(case.y, dtype=np.float64)
    got = model.rhs(p, case.t, y)
    assert_close(got, ode.rhs(p, case.t, y), 1e-12, 1e-15, "F vs reference", case.text)
    if case.expected is not None:
        assert_close(got, case.expected, 1e-12, 1e-15, "F vs documented value", case.text)
    if case.outputs is not None:
        out = model.outputs(p, 0.0, y0)
        assert_close(out, reference_outputs(ode, p), 1e-12, 1e-15, "out vs reference", case.text)
        assert_close(out, case.outputs, 1e-12, 1e-15, "out vs documented value", case.text)


TRICKY_TEXT = {case.id: case.text for case in TRICKY}

#: Model index N > 0: pydiffsol cannot set N, so the expected values are the reference's
#: harness numbers (§8.4) or follow from the index rules of §4.6 (truncating / and %).
#: (id, text, N, y, expected F)
MODEL_INDEX_CASES = [
    ("amp-N1", TRICKY_TEXT["model-index-amp-N0"], 1, (1, 0), (9, 1)),  # §8.4
    ("amp-N2", TRICKY_TEXT["model-index-amp-N0"], 2, (1, 0), (-1, 1)),  # N % 2 = 0
    ("slice-N1", AMP3 + "F_i { amp_i[N:N+2] - u_i }", 1, (1, 1), (9, 19)),  # §8.4
    # (1 - 3) / 2 + 1 = 0 and (1 - 3) % 2 + 1 = 1  ->  [amp[0] - 1, amp[1] - 1]
    ("truncating-N1", TRICKY_TEXT["index-truncating-division"], 1, (1, 1), (-1, 9)),
    # (2 - 3) / 2 + 1 = 1 and (2 - 3) % 2 + 1 = 0 (Python's // and % would give 0 and 2)
    ("truncating-N2", TRICKY_TEXT["index-truncating-division"], 2, (1, 1), (9, -1)),
    ("parentheses-N1", TRICKY_TEXT["index-parentheses"], 1, (1, 1), (-1, 1)),  # 8 % 2 = 0
    ("n-as-a-number", "u_i { x = 0, y = 0 }\nF_i { 2 * N + 1, N * y }", 3, (0, 5), (7, 15)),
]


@pytest.mark.parametrize(
    ("text", "n", "y", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in MODEL_INDEX_CASES],
)
def test_model_index(text: str, n: int, y: tuple[float, ...], expected: tuple[float, ...]) -> None:
    """rhs(..., model_index=N) for N > 0 against §8.4 / §4.6 (N = 0 is compared with pydiffsol)."""
    model = ours(text)
    got = model.rhs(np.zeros(model.n_inputs), 0.0, np.array(y, float), model_index=n)
    assert_close(got, expected, 1e-12, 1e-15, f"F at N={n}", text)


#: Valid models that the reference evaluates wrongly or cannot compile; ours must give the
#: mathematical value. (id, text, p, t, y, expected F, why the reference cannot be used)
REFERENCE_FAILS = [
    (
        "stable-hyperbolic-functions",
        "in { k = 1 }\nu_i { x = 0, y = 0, z = 0 }\n"
        "F_i { tanh(1000 * k), arcsinh(-1e9 * k), arccosh(1e9 * k) }",
        (1.0,),
        0.0,
        (0, 0, 0),
        (math.tanh(1000.0), math.asinh(-1e9), math.acosh(1e9)),
        "§5: the LLVM backend gives NaN and -inf; §15.5 asks for stable functions",
    ),
    (
        "tan-of-the-state",
        "u_i { x = 0.5, y = 1 }\nF_i { tan(x), tan(y * t) }",
        (),
        0.3,
        (0.5, 1.0),
        (math.tan(0.5), math.tan(0.3)),
        "pydiffsol aborts the process: Enzyme cannot differentiate llvm.tan",
    ),
    (
        "range-of-a-label",
        "u_i { x = 2, y = 1, z = 3 }\nF_i { (0:2): x * t, z }",
        (),
        0.5,
        (2, 1, 3),
        (1, 1, 3),
        "pydiffsol panics (nnz after translate mismatch); §4.3 placement gives [x t, x t, z]",
    ),
    (
        "range-of-a-row",
        "p_i { 3, 4, 5 }\nA_ij { (0:2, 0:3): p_j }\nu_i { x = 1, y = 1, z = 1 }\n"
        "F_i { A_ij * u_j, z }",
        (),
        0.0,
        (1, 1, 1),
        (12, 12, 1),
        "§4.3 reference bug: panics; A = [[3, 4, 5], [3, 4, 5]]",
    ),
    (
        "unused-zero-matrix",
        "A_ij { (0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 0 }\nu_i { x = 1, y = 2 }\nF_i { x, y }",
        (),
        0.0,
        (1, 2),
        (1, 2),
        "pydiffsol panics (Option::unwrap on None) on an all-zero explicit matrix",
    ),
]


@pytest.mark.parametrize(
    ("text", "p", "t", "y", "expected"),
    [pytest.param(*row[1:6], id=row[0]) for row in REFERENCE_FAILS],
)
def test_cases_the_reference_gets_wrong(
    text: str, p: tuple[float, ...], t: float, y: tuple[float, ...], expected: tuple[float, ...]
) -> None:
    """Ours gives the mathematical value where the reference crashes or loses precision.

    The expected values are computed with Python's math module or by hand (row comments);
    each row says why pydiffsol cannot serve as the oracle there (all verified with 0.6.2).
    """
    got = ours(text).rhs(np.array(p, float), t, np.array(y, float))
    assert_close(got, expected, 1e-14, 1e-300, "F", text)
