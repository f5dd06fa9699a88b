"""Argument checks of :class:`~diffid_plugins.optim.RestartingCMA` (clear errors, no asserts)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ArgumentError, ArgumentTypeError

__all__ = ["as_box", "as_count", "as_positive", "as_x0", "as_restarts"]

RESTARTS = ("ipop", "bipop")


def _vector(name: str, value: ArrayLike) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"{name}={value!r} is not a sequence of numbers; pass a 1-D array of floats"
        ) from exc
    if a.ndim != 1 or a.size == 0:
        raise ArgumentError(
            f"{name} has shape {a.shape}; expected a non-empty 1-D array (one entry per dimension)"
        )
    return a


def as_box(lower: ArrayLike, upper: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` as float64 ``(d,)`` arrays: same shape, finite, ``lower < upper``."""
    lo = _vector("lower", lower)
    hi = _vector("upper", upper)
    if lo.shape != hi.shape:
        raise ArgumentError(
            f"lower has shape {lo.shape} and upper has shape {hi.shape}; give both bounds "
            "for every dimension"
        )
    for name, a in (("lower", lo), ("upper", hi)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ArgumentError(
                f"{name}[{bad[0]}] = {a[bad[0]]}; CMA-ES needs a finite box: give finite "
                "bounds (the box sets the scale of the search)"
            )
    bad = np.flatnonzero(~(lo < hi))
    if bad.size:
        i = bad[0]
        raise ArgumentError(
            f"lower[{i}] = {lo[i]} is not below upper[{i}] = {hi[i]}; every dimension needs "
            "lower < upper (fix the bounds, or leave a fixed parameter out of the search)"
        )
    width = hi - lo
    bad = np.flatnonzero(~np.isfinite(width))
    if bad.size:
        i = bad[0]
        raise ArgumentError(
            f"upper[{i}] - lower[{i}] overflows ({hi[i]} - {lo[i]}); rescale the parameter"
        )
    return lo, hi


def as_x0(x0: ArrayLike | None, lower: np.ndarray, upper: np.ndarray) -> np.ndarray | None:
    """``x0`` as a float64 ``(d,)`` array inside the box, or ``None``."""
    if x0 is None:
        return None
    x = _vector("x0", x0)
    if x.shape != lower.shape:
        raise ArgumentError(
            f"x0 has shape {x.shape}; expected {lower.shape} (one entry per dimension)"
        )
    bad = np.flatnonzero(~((x >= lower) & (x <= upper)))
    if bad.size:
        i = bad[0]
        raise ArgumentError(
            f"x0[{i}] = {x[i]} is outside the box [{lower[i]}, {upper[i]}]; give a starting "
            "point inside the bounds (or None for the centre)"
        )
    return x


def as_positive(name: str, value: Any, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """A finite real ``> minimum`` (``>=`` when ``inclusive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name}={value!r} is not a real number; pass a float")
    v = float(value)
    ok = v >= minimum if inclusive else v > minimum
    if not (math.isfinite(v) and ok):
        rel = ">=" if inclusive else ">"
        raise ArgumentError(f"{name}={value!r}; expected a finite number {rel} {minimum}")
    return v


def as_count(name: str, value: Any, *, minimum: int) -> int:
    """An integer ``>= minimum`` (numpy integers accepted, bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name}={value!r} is not an integer; pass an int")
    if int(value) < minimum:
        raise ArgumentError(f"{name}={value!r}; expected an integer >= {minimum}")
    return int(value)


def as_restarts(value: Any) -> str | None:
    """``"ipop"``, ``"bipop"`` or ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"restarts={value!r} is not a string; pass 'ipop', 'bipop' or None"
        )
    if value.lower() not in RESTARTS:
        raise ArgumentError(
            f"restarts={value!r} is not a restart strategy; expected 'ipop', 'bipop' or None "
            "(no restarts)"
        )
    return value.lower()
