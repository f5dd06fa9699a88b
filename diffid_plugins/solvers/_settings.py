"""One validator for solver settings, shared by :func:`solve` and ``Problem``.

``method``, ``rtol``, ``atol`` and ``max_steps`` mean the same everywhere and are checked once,
here, with the same messages; the caller chooses the exception class (``ArgumentError`` for
``solve``, ``ProblemError`` for ``Problem``, both ``ValueError``\\ s).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentError
from diffid_plugins.solvers._status import METHOD_AUTO, METHOD_DOPRI5, METHOD_STIFF, METHOD_TSIT5

__all__ = ["DEFAULT_MAX_STEPS", "METHODS", "solver_settings"]

METHODS: dict[str, int] = {
    "auto": METHOD_AUTO,
    "dopri5": METHOD_DOPRI5,
    "tsit5": METHOD_TSIT5,
    "rodas5p": METHOD_STIFF,
}
"""Method names accepted by :func:`solve` and ``Problem``, and their kernel codes."""

DEFAULT_MAX_STEPS = 100_000
"""Default bound on accepted plus rejected steps per solve."""

_ATOL_CACHE: dict[tuple[int, float], NDArray[np.float64]] = {}


def _atol_for_scalar(atol: float, n_states: int) -> NDArray[np.float64]:
    """``np.full(n_states, atol)``, memoised (population loops call solve() with one atol).

    The array stays writable: numba types a read-only array differently, and one signature
    per entry point keeps the compiled tiers small. No kernel writes to ``atol``.
    """
    key = (n_states, atol)
    arr = _ATOL_CACHE.get(key)
    if arr is None:
        if len(_ATOL_CACHE) > 64:
            _ATOL_CACHE.clear()
        arr = _ATOL_CACHE[key] = np.full(n_states, atol)
    return arr


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )


def _atol_error(error: type[Exception], atol: Any, n_states: int) -> Exception:
    return error(
        f"`atol` must be positive and finite: a number or an array of {n_states} positive "
        f"finite values (one per state), got {atol!r}."
    )


def solver_settings(
    method: Any,
    rtol: Any,
    atol: Any,
    max_steps: Any,
    kernels: Any,
    *,
    error: type[Exception] = ArgumentError,
) -> tuple[int, float, NDArray[np.float64], int]:
    """Check solver settings against a model; return ``(code, rtol, atol, max_steps)``.

    Parameters
    ----------
    method : str
        ``"auto"``, ``"dopri5"``, ``"tsit5"`` or ``"rodas5p"`` (any case).
    rtol : float
        Positive and finite.
    atol : float or array_like (n_states,)
        Positive and finite, one value or one per state.
    max_steps : int
        Positive.
    kernels : KernelSet
        The model's kernels (``N_STATES``, ``HAS_MASS``, ``SOLVER_HAS_STIFF``).
    error : exception class, default ArgumentError
        Raised with the message.

    Returns
    -------
    code : int
        The method's kernel code.
    rtol : float
    atol : ndarray, shape (n_states,)
        C-contiguous float64 (shared between calls for a scalar ``atol``: do not write to it).
    max_steps : int
    """
    # Fast paths first (type(...) is ...): solve() runs this on every call, ~0.3 us.
    code = METHODS.get(method) if type(method) is str else None
    if code is None:
        code = METHODS.get(method.lower()) if isinstance(method, str) else None
        if code is None:
            raise error(f"`method` must be one of {sorted(METHODS)}, got {method!r}.")
    if kernels.HAS_MASS and code in (METHOD_DOPRI5, METHOD_TSIT5):
        raise error(
            f"`method` = {method!r} is explicit and cannot solve a model with a mass "
            f"matrix (a DAE); use method='auto' or 'rodas5p'."
        )
    if (code == METHOD_STIFF or kernels.HAS_MASS) and not kernels.SOLVER_HAS_STIFF:
        raise error(
            f"`method` = {method!r} needs the stiff method, but this model was bound with "
            f"`stiff=False`; bind it again with `bind_model(..., stiff=True)`."
        )
    if not ((type(rtol) is float or _is_number(rtol)) and 0.0 < rtol < math.inf):
        raise error(f"`rtol` must be a positive finite number, got {rtol!r}.")
    n_states = kernels.N_STATES
    if type(atol) is float or _is_number(atol):
        if not 0.0 < atol < math.inf:
            raise _atol_error(error, atol, n_states)
        atol_arr = _atol_for_scalar(float(atol), n_states)
    else:
        try:
            atol_arr = np.ascontiguousarray(atol, dtype=np.float64)
        except (TypeError, ValueError):
            raise _atol_error(error, atol, n_states) from None
        if atol_arr.ndim == 0:  # a numpy scalar array: one value for every state
            atol_arr = np.full(n_states, float(atol_arr))
        if atol_arr.shape != (n_states,) or not (
            np.all(np.isfinite(atol_arr)) and np.all(atol_arr > 0)
        ):
            raise _atol_error(error, atol, n_states)
    if not (
        type(max_steps) is int
        or (isinstance(max_steps, int | np.integer) and not isinstance(max_steps, bool))
    ):
        raise error(f"`max_steps` must be a positive integer, got {max_steps!r}.")
    if max_steps < 1:
        raise error(f"`max_steps` must be a positive integer, got {max_steps!r}.")
    return code, float(rtol), atol_arr, int(max_steps)
