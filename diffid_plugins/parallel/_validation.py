"""Checks and conversions of the arguments of :class:`~diffid_plugins.parallel.ParallelExecutor`.

Every message names the argument, the value received, what was expected and how to fix it
(style rule 6); nothing here uses ``assert``. Bad values raise
:class:`~diffid_plugins.errors.ArgumentError` (a ``ValueError``), bad types
:class:`~diffid_plugins.errors.ArgumentTypeError` (a ``TypeError``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError, ResultTypeError

__all__ = [
    "as_cost",
    "as_rows",
    "check_backend",
    "check_call",
    "check_int",
    "check_timeout",
    "check_worker_env",
    "default_workers",
]


def default_workers() -> int:
    """Cores this process may run on (respects CPU affinity and cpusets).

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_int(name: str, value: object, minimum: int, fix: str) -> int:
    """Return ``value`` as an int, or raise :class:`ArgumentError` if not an integer >= minimum.

    Examples
    --------
    >>> check_int("straggler_limit", 3, 0, "Pass e.g. 3.")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ArgumentError(f"`{name}` must be an integer >= {minimum}; got {value!r}. {fix}")
    return int(value)


def check_timeout(timeout: object) -> float:
    """Seconds per attempt; ``None`` means 0 (disabled), as in DSPy.

    Examples
    --------
    >>> check_timeout(None), check_timeout(2)
    (0.0, 2.0)
    """
    if timeout is None:
        return 0.0
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, numbers.Real)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise ArgumentError(
            f"`timeout` must be a finite number of seconds >= 0; got {timeout!r}. "
            "Pass 0 (or None) to disable timeouts and straggler resubmission."
        )
    return float(timeout)


def check_backend(backend: object) -> Literal["process", "thread"]:
    """Return ``backend`` if it is ``"process"`` or ``"thread"``.

    Examples
    --------
    >>> check_backend("thread")
    'thread'
    """
    if backend not in ("process", "thread"):
        raise ArgumentError(
            f"`backend` must be 'process' or 'thread'; got {backend!r}. Use 'process' for "
            "CPU-bound Python functions and 'thread' for functions that release the GIL."
        )
    return cast(Literal["process", "thread"], backend)


def check_worker_env(defaults: Mapping[str, str], extra: object) -> dict[str, str]:
    """``defaults`` updated with the user's ``worker_env`` mapping (str to str).

    Examples
    --------
    >>> check_worker_env({"A": "1"}, {"B": "2"})
    {'A': '1', 'B': '2'}
    """
    env = dict(defaults)
    if extra is None:
        return env
    if not isinstance(extra, Mapping):
        raise ArgumentError(
            f"`worker_env` must be a mapping of str to str; got {type(extra).__name__}. Pass "
            "e.g. {'NUMBA_NUM_THREADS': '2'}."
        )
    for key, value in extra.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ArgumentError(
                f"`worker_env` must map str to str; got {key!r}: {value!r}. Quote the value, "
                "e.g. {'NUMBA_NUM_THREADS': '2'}."
            )
        env[key] = value
    return env


def check_call(function: Callable[[Any], Any], data: Sequence[Any]) -> list[Any]:
    """Check the arguments of ``execute``; return the items as a list.

    Examples
    --------
    >>> check_call(abs, range(3))
    [0, 1, 2]
    """
    if not callable(function):
        raise ArgumentTypeError(
            f"`function` must be callable; got {type(function).__name__}. Pass a function "
            "of one argument (an item, or a row of `X` for map_batch)."
        )
    try:
        len(data)
    except TypeError:
        raise ArgumentTypeError(
            f"`data` must support len() (a list, tuple, range or array); got "
            f"{type(data).__name__}. Wrap an iterator in list(...)."
        ) from None
    return list(data)


def as_rows(function: Callable[[Any], Any], X: ArrayLike) -> NDArray[np.float64]:
    """Check the arguments of ``map_batch``; return a private float64 copy of ``X``, (n, d).

    Examples
    --------
    >>> as_rows(abs, [[1, 2], [3, 4]]).shape
    (2, 2)
    """
    if not callable(function):
        raise ArgumentTypeError(
            f"`function` must be callable; got {type(function).__name__}. Pass a function "
            "of one argument (an item, or a row of `X` for map_batch)."
        )
    return as_float_rows(X)


def as_float_rows(X: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """A private float64 copy of ``X``, shape (n, d), or an :class:`ArgumentError` naming ``X``.

    Examples
    --------
    >>> as_float_rows([[1, 2]]).dtype
    dtype('float64')
    """
    try:
        rows = np.array(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(
            f"`X` must be a 2-dimensional array of numbers, shape (n, d); converting it to "
            f"float64 failed ({exc}). Pass one parameter vector per row."
        ) from exc
    if rows.ndim != 2:
        raise ArgumentError(
            f"`X` has shape {rows.shape}, but it must be 2-dimensional, shape (n, d), with one "
            "parameter vector per row. Use `np.atleast_2d(x)` for a single vector."
        )
    return rows


def as_cost(value: Any, index: int) -> float:
    """Convert one result of ``map_batch`` to a float, or raise :class:`ResultTypeError`.

    Examples
    --------
    >>> as_cost(2, 0)
    2.0
    """
    array = np.asarray(value) if value is not None else np.asarray(None, dtype=object)
    if array.shape != () or array.dtype.kind not in "biuf":
        raise ResultTypeError(
            f"row {index} returned {value!r}, but `map_batch` needs a real scalar (the cost). "
            "Return a float, or use `execute` for other results."
        )
    return float(array)
