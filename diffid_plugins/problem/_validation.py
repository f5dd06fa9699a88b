"""Validation of the arguments of :class:`~diffid_plugins.problem.Problem`.

Each check raises a :class:`ProblemError` (or an
:class:`~diffid_plugins.errors.ArgumentTypeError`) whose message names the argument,
the offending value, what was expected and how to fix it, in the style of
:func:`diffid_plugins.solvers.solve`. Nothing here imports numba.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "ProblemError",
    "as_data",
    "resolve_bounds",
    "resolve_parameters",
]

FloatArray = NDArray[np.float64]
Bounds = Sequence[tuple[float, float]] | Mapping[str, tuple[float, float]]


class ProblemError(ArgumentError):
    """Invalid data, parameters, bounds or settings given to a :class:`Problem`.

    An :class:`~diffid_plugins.errors.ArgumentError`, so also a ``DiffidError`` and a
    ``ValueError``.
    """


def _fmt(value: float) -> str:
    return repr(float(value))


def as_data(data: Any, n_outputs: int, t0: float) -> FloatArray:
    """Validate the data array and return it as C-contiguous float64.

    Parameters
    ----------
    data : array_like, shape (n_times, 1 + n_outputs)
        Time in column 0, output ``j`` in column ``j + 1``.
    n_outputs : int
        Number of model outputs.
    t0 : float
        Initial time; every data time must be >= t0.

    Returns
    -------
    ndarray, shape (n_times, 1 + n_outputs)
        A C-contiguous float64 copy.

    Raises
    ------
    ProblemError
        Wrong shape, non-finite values, decreasing times or times before ``t0``.
    """
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProblemError(
            f"`data` must be a numeric array of shape (n_times, {1 + n_outputs}), got "
            f"{type(data).__name__} that numpy cannot convert to float64 ({exc})."
        ) from None
    expected = f"(n_times, {1 + n_outputs}): time in column 0, then one column per output"
    if arr.ndim != 2:
        raise ProblemError(
            f"`data` must be 2-dimensional with shape {expected}; got an array of shape "
            f"{arr.shape}. For a single output use np.column_stack([t, y])."
        )
    if arr.shape[1] != 1 + n_outputs:
        raise ProblemError(
            f"`data` has {arr.shape[1]} columns, but the model has {n_outputs} output(s), so "
            f"the expected shape is {expected}; got {arr.shape}. Add or drop columns so that "
            f"column j + 1 holds output j (the model's `out` tensor, or its states)."
        )
    if arr.shape[0] == 0:
        raise ProblemError(f"`data` has no rows; expected shape {expected} with n_times >= 1.")
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = (int(v) for v in np.argwhere(~finite)[0])
        raise ProblemError(
            f"`data` must be finite, got {arr[row, col]} at row {row}, column {col}. Remove "
            f"or impute NaN/inf entries before building the problem."
        )
    t = arr[:, 0]
    if t.size > 1 and np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise ProblemError(
            f"`data` times (column 0) must be non-decreasing, got {_fmt(t[i])} followed by "
            f"{_fmt(t[i + 1])} at row {i + 1}. Sort the rows by time: "
            f"data = data[np.argsort(data[:, 0], kind='stable')]."
        )
    if t[0] < t0:
        raise ProblemError(
            f"`data` times must be >= t0 = {_fmt(t0)} (the integration start), got "
            f"{_fmt(t[0])} in row 0. Pass a smaller `t0` or drop the earlier rows."
        )
    return np.array(arr, order="C")  # a private copy: the caller's array stays untouched


def _unknown_name(name: str, known: Sequence[str], what: str) -> ProblemError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ProblemError(
        f"{what} {name!r} is not an input of the model; the model's inputs are "
        f"{list(known)}.{hint}"
    )


def resolve_parameters(parameters: Any, input_names: Sequence[str]) -> list[int]:
    """Positions (in the model's ``in`` tensor) of the fitted parameters, in the given order.

    Parameters
    ----------
    parameters : sequence of str or None
        Names of ``in`` labels to fit; ``None`` fits every input in declaration order.
    input_names : sequence of str
        The model's input labels.

    Raises
    ------
    ArgumentTypeError
        ``parameters`` is a bare string or not a sequence of strings.
    ProblemError
        Unknown or repeated names.
    """
    if parameters is None:
        return list(range(len(input_names)))
    if isinstance(parameters, str):
        raise ArgumentTypeError(
            f"`parameters` must be a list of input names, got the string {parameters!r}; "
            f"write parameters=[{parameters!r}]."
        )
    try:
        names = list(parameters)
    except TypeError:
        raise ArgumentTypeError(
            f"`parameters` must be a list of input names, got {type(parameters).__name__}; "
            "write e.g. parameters=['a', 'b'], or None to fit every input."
        ) from None
    index: list[int] = []
    for name in names:
        if not isinstance(name, str):
            raise ArgumentTypeError(
                f"`parameters` must hold input names (str), got {name!r} of type "
                f"{type(name).__name__}; the model's inputs are {list(input_names)}."
            )
        if name not in input_names:
            raise _unknown_name(name, input_names, "`parameters` entry")
        if input_names.index(name) in index:
            raise ProblemError(f"`parameters` lists {name!r} twice; name each input once.")
        index.append(input_names.index(name))
    return index


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ProblemError(
            f"`bounds` for {name!r} must be a pair (lower, upper) of numbers, got {value!r}."
        ) from None
    if math.isnan(lo) or math.isnan(hi):
        raise ProblemError(f"`bounds` for {name!r} must not be NaN, got ({lo}, {hi}).")
    if not lo < hi:
        raise ProblemError(
            f"`bounds` for {name!r} must satisfy lower < upper, got ({lo}, {hi}). Swap them "
            f"or widen the interval (use -np.inf / np.inf for an unbounded side)."
        )
    return lo, hi


def resolve_bounds(
    bounds: Any, names: Sequence[str], defaults: Sequence[tuple[float, float]], n_model: int
) -> list[tuple[float, float]]:
    """Per-parameter bounds, one ``(lower, upper)`` pair per parameter.

    Parameters
    ----------
    bounds : sequence of pairs, mapping of name to pair, or None
        A sequence gives one pair per parameter in order (it may omit the trailing noise
        parameters, which keep their defaults); a mapping gives pairs for some names.
    names : sequence of str
        Parameter names, in order.
    defaults : sequence of (float, float)
        Bounds used where none are given (``(-inf, inf)``, ``(0, inf)`` for noise levels).
    n_model : int
        Number of leading parameters that are model inputs (the rest are noise levels).

    Raises
    ------
    ArgumentTypeError
        ``bounds`` is neither a sequence nor a mapping.
    ProblemError
        Wrong length, unknown names, malformed pairs, NaN, or lower >= upper.
    """
    result = list(defaults)
    if bounds is None:
        return result
    if isinstance(bounds, Mapping):
        for key, value in bounds.items():
            if key not in names:
                close = difflib.get_close_matches(str(key), list(names), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ProblemError(
                    f"`bounds` names {key!r}, which is not a fitted parameter; the "
                    f"parameters are {list(names)}.{hint}"
                )
            result[list(names).index(key)] = _pair(key, value)
        return result
    if isinstance(bounds, str) or not isinstance(bounds, Sequence | np.ndarray):
        raise ArgumentTypeError(
            f"`bounds` must be a list of (lower, upper) pairs or a dict name -> (lower, "
            f"upper), got {type(bounds).__name__}; write e.g. bounds=[(0.0, 1.0)] or "
            "bounds={'a': (0.0, 1.0)}."
        )
    items = list(bounds)
    if len(items) not in (len(names), n_model):
        raise ProblemError(
            f"`bounds` has {len(items)} pairs, but the problem has {len(names)} parameters "
            f"{list(names)}; give one (lower, upper) pair per parameter, in that order, or "
            f"a dict {{name: (lower, upper)}}."
        )
    for i, value in enumerate(items):
        result[i] = _pair(names[i], value)
    return result
