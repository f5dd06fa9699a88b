"""The operator and builtin-function table of DiffSL.

One row per scalar operation: its arity, a Python implementation (used for constant
folding at compile time; it follows the run-time semantics exactly, IEEE and C ``pow``
included) and the Python expression template that the code generator emits. The templates
refer only to names defined by the fixed prelude of ``_codegen`` (``np`` and the ``_h_*``
helpers), never to model text.

Builtins and their semantics follow the reference (``diffsl-reference.md`` section 5).
Entries whose names start with ``d_`` are helpers created by differentiation only; they are
not callable from DiffSL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BUILTINS", "OPS", "OpInfo", "fold", "int_div", "int_mod"]


def _heaviside(x: float) -> float:
    return 1.0 if x >= 0.0 else 0.0


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _abs_d(x: float) -> float:
    # reference derivative of abs: +1 for x > 0, otherwise -1 (so -1 at 0)
    return 1.0 if x > 0.0 else -1.0


def _min_sel(x: float, y: float) -> float:
    # 1 when fmin(x, y) returns x (IEEE minNum; ties pick y)
    return 1.0 if (y != y) or (x < y) else 0.0


def _max_sel(x: float, y: float) -> float:
    return 1.0 if (y != y) or (x > y) else 0.0


def _pow_dy(x: float, y: float) -> float:
    # d pow(x, y) / dy = pow(x, y) * ln(x), with the ln term taken as 0 at x == 0
    if x == 0.0:
        return 0.0
    return float(np.power(x, y) * np.log(x))


def _idiv(a: int, b: int) -> int:
    # truncating integer division (Rust / LLVM sdiv); callers check b != 0
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _imod(a: int, b: int) -> int:
    # remainder with the sign of the dividend (Rust / LLVM srem)
    return a - b * _idiv(a, b)


@dataclass(frozen=True)
class OpInfo:
    """A scalar operation: arity, folding implementation and code template."""

    arity: int
    impl: Callable[..., float]
    template: str


def _np1(f: Callable[[np.float64], np.floating]) -> Callable[[float], float]:
    return lambda x: float(f(np.float64(x)))


def _np2(f: Callable[[np.float64, np.float64], np.floating]) -> Callable[[float, float], float]:
    return lambda x, y: float(f(np.float64(x), np.float64(y)))


OPS: dict[str, OpInfo] = {
    "add": OpInfo(2, lambda x, y: x + y, "({0} + {1})"),
    "sub": OpInfo(2, lambda x, y: x - y, "({0} - {1})"),
    "mul": OpInfo(2, lambda x, y: x * y, "({0} * {1})"),
    "div": OpInfo(2, _np2(np.divide), "({0} / {1})"),
    "neg": OpInfo(1, lambda x: -x, "(-{0})"),
    "sin": OpInfo(1, _np1(np.sin), "np.sin({0})"),
    "cos": OpInfo(1, _np1(np.cos), "np.cos({0})"),
    "tan": OpInfo(1, _np1(np.tan), "np.tan({0})"),
    "exp": OpInfo(1, _np1(np.exp), "np.exp({0})"),
    "log": OpInfo(1, _np1(np.log), "np.log({0})"),
    "log10": OpInfo(1, _np1(np.log10), "np.log10({0})"),
    "sqrt": OpInfo(1, _np1(np.sqrt), "np.sqrt({0})"),
    "abs": OpInfo(1, lambda x: abs(x), "abs({0})"),
    "pow": OpInfo(2, _np2(np.power), "np.power({0}, {1})"),
    "min": OpInfo(2, _np2(np.fmin), "_h_fmin({0}, {1})"),
    "max": OpInfo(2, _np2(np.fmax), "_h_fmax({0}, {1})"),
    "copysign": OpInfo(2, lambda x, y: math.copysign(x, y), "np.copysign({0}, {1})"),
    "sigmoid": OpInfo(1, _sigmoid, "_h_sigmoid({0})"),
    "heaviside": OpInfo(1, _heaviside, "_h_heaviside({0})"),
    "tanh": OpInfo(1, _np1(np.tanh), "np.tanh({0})"),
    "sinh": OpInfo(1, _np1(np.sinh), "np.sinh({0})"),
    "cosh": OpInfo(1, _np1(np.cosh), "np.cosh({0})"),
    "arcsinh": OpInfo(1, _np1(np.arcsinh), "np.arcsinh({0})"),
    "arccosh": OpInfo(1, _np1(np.arccosh), "np.arccosh({0})"),
    # helpers produced by differentiation
    "d_abs": OpInfo(1, _abs_d, "_h_abs_d({0})"),
    "d_minsel": OpInfo(2, _min_sel, "_h_min_sel({0}, {1})"),
    "d_maxsel": OpInfo(2, _max_sel, "_h_max_sel({0}, {1})"),
    "d_pow_dy": OpInfo(2, _pow_dy, "_h_pow_dy({0}, {1})"),
}

#: Names callable from DiffSL, with their arity (``interp1d`` is handled separately).
BUILTINS: dict[str, int] = {
    name: info.arity
    for name, info in OPS.items()
    if name not in {"add", "sub", "mul", "div", "neg"} and not name.startswith("d_")
}


def fold(op: str, args: tuple[float, ...]) -> float:
    """Evaluate ``op`` on constant arguments exactly as the generated code would."""
    with np.errstate(all="ignore"):
        return float(OPS[op].impl(*args))


def int_div(a: int, b: int) -> int:
    """Truncating integer division (the reference's ``/`` in index expressions)."""
    return _idiv(a, b)


def int_mod(a: int, b: int) -> int:
    """Remainder with the sign of the dividend (the reference's ``%``)."""
    return _imod(a, b)
