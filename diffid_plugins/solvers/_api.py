"""Python boundary of the solvers: :func:`solve`, :class:`Solution`, :func:`bind_model`.

Validation, allocation and status-to-message mapping live here; the numerics are in the
template modules (``_events``, ``_erk``, ``_rosenbrock``, ``_driver``), which are compiled
together with each model (``docs/kernel-contract.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.solvers import _status
from diffid_plugins.solvers._bind import SOLVER_TEMPLATES, BoundModel, bind_model
from diffid_plugins.solvers._kernelset import KernelSet
from diffid_plugins.solvers._protocols import KernelModel
from diffid_plugins.solvers._settings import DEFAULT_MAX_STEPS, METHODS, solver_settings
from diffid_plugins.solvers._status import N_STATS, STATUS_BAD_INPUT, STATUS_ROOT, Status

__all__ = ["METHODS", "SOLVER_TEMPLATES", "BoundModel", "Solution", "bind_model", "solve"]


_STAT_NAMES: dict[str, int] = {
    "n_rhs": _status.STAT_NRHS,
    "n_jac": _status.STAT_NJAC,
    "n_lu": _status.STAT_NLU,
    "n_accepted": _status.STAT_NACC,
    "n_rejected": _status.STAT_NREJ,
    "n_roots": _status.STAT_NROOTS,
    "n_switches": _status.STAT_NSWITCH,
    "switch_step": _status.STAT_T_SWITCH_STEP,
}
_STAT_KEYS = tuple(_STAT_NAMES)
_STAT_INDEX = np.array(list(_STAT_NAMES.values()))


class Solution:
    """Result of :func:`solve`.

    Attributes
    ----------
    t : ndarray, shape (n,)
        Output times: the requested ``t_eval`` reached, or, when a `stop` root ended the
        solve, the requested times before the root followed by the root time.
    y : ndarray, shape (n, n_outputs)
        Model outputs at ``t`` (the states when the model has no ``out``).
    states : ndarray, shape (n, n_states)
        States at ``t``.
    success : bool
        True when the end was reached or a `stop` root ended the solve.
    status : int
        A :class:`~diffid_plugins.solvers.Status` value (0 done, 1 stopped at a root,
        negative: failure).
    message : str
        Explanation of ``status``.
    stats : dict of str to int
        ``n_rhs``, ``n_jac``, ``n_lu``, ``n_accepted``, ``n_rejected``, ``n_roots``,
        ``n_switches`` (explicit -> stiff, ``method="auto"``), ``switch_step`` (accepted steps
        before the first switch, -1 without). Built on first access from the kernel's
        counters (``raw_stats``, int64, indexed by ``STAT_*`` of ``_status.py``).
    t_root : float or None
        Time of the root that ended the solve (``status == 1``).
    root_index : int or None
        Component of ``stop`` that crossed zero there.
    tier : str
        The compilation tier that computed it (``"generic"``, ``"specialised"`` or
        ``"bound"``; see :func:`diffid_plugins.compile_model`). Results agree across tiers.
    """

    __slots__ = (
        "_stats",
        "tier",
        "message",
        "raw_stats",
        "root_index",
        "states",
        "status",
        "success",
        "t",
        "t_root",
        "y",
    )

    def __init__(
        self,
        t: NDArray[np.float64],
        y: NDArray[np.float64],
        states: NDArray[np.float64],
        success: bool,
        status: int,
        message: str,
        raw_stats: NDArray[np.int64],
        t_root: float | None = None,
        root_index: int | None = None,
        tier: str = "specialised",
    ) -> None:
        self.t = t
        self.y = y
        self.states = states
        self.success = success
        self.status = status
        self.message = message
        self.raw_stats = raw_stats
        self.t_root = t_root
        self.root_index = root_index
        self.tier = tier
        self._stats: dict[str, int] | None = None

    @property
    def stats(self) -> dict[str, int]:
        """Solver counters by name (see the class docstring)."""
        if self._stats is None:
            values = self.raw_stats[_STAT_INDEX].tolist()
            self._stats = dict(zip(_STAT_KEYS, values, strict=True))
        return self._stats

    def __repr__(self) -> str:
        return (
            f"Solution(success={self.success}, status={self.status}, message={self.message!r}, "
            f"n_times={self.t.shape[0]}, n_outputs={self.y.shape[1]}, stats={self.stats})"
        )


#: status code -> (message, success), for the statuses the kernels return.
_STATUS_INFO: dict[int, tuple[str, bool]] = {int(s): (s.message, s.is_successful) for s in Status}


def _as_times(t_eval: ArrayLike, t0: float) -> NDArray[np.float64]:
    arr = np.asarray(t_eval, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ArgumentError(
            f"`t_eval` must be 1-dimensional, got an array of shape {arr.shape}. Pass a flat "
            f"sequence of output times."
        )
    if arr.size == 0:
        raise ArgumentError("`t_eval` is empty; pass at least one output time (the final time).")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ArgumentError(
            f"`t_eval` must be finite, got {arr[bad]} at index {bad}. Remove NaN/inf times."
        )
    if arr.size > 1 and np.any(np.diff(arr) < 0):
        bad = int(np.flatnonzero(np.diff(arr) < 0)[0])
        raise ArgumentError(
            f"`t_eval` must be non-decreasing, got {arr[bad]} followed by {arr[bad + 1]} at "
            f"index {bad + 1}. Sort the times (np.sort) before solving."
        )
    if arr[0] < t0:
        raise ArgumentError(
            f"`t_eval` must start at or after `t0` = {t0}, got t_eval[0] = {arr[0]}. Drop the "
            f"earlier times or pass a smaller `t0`."
        )
    return np.ascontiguousarray(arr)


def _as_inputs(model: Any, p: ArrayLike | None, n_inputs: int) -> NDArray[np.float64]:
    if p is None:
        default = getattr(model, "default_inputs", None)
        if n_inputs == 0:
            return np.zeros(0)
        if default is None:
            raise ArgumentError(
                f"`p` is required: the model has {n_inputs} inputs and no default inputs."
            )
        p = default
    arr = np.ascontiguousarray(p, dtype=np.float64)
    if arr.ndim == 0 and n_inputs == 1:
        arr = arr.reshape(1)
    if arr.shape != (n_inputs,):
        raise ArgumentError(
            f"`p` must have shape ({n_inputs},) (one value per model input), got an array of "
            f"shape {arr.shape}."
        )
    values = arr.tolist()
    if not all(map(math.isfinite, values)):  # (a Python loop beats a ufunc on ~10 values)
        raise ArgumentError(f"`p` must be finite, got {values}.")
    return arr


def solve(
    model: KernelModel,
    p: ArrayLike | None,
    t_eval: ArrayLike,
    method: str = "auto",
    rtol: float = 1e-6,
    atol: float | ArrayLike = 1e-8,
    max_steps: int = DEFAULT_MAX_STEPS,
    t0: float = 0.0,
) -> Solution:
    """Solve a model from ``t0`` and return its outputs at ``t_eval``.

    Parameters
    ----------
    model : object with a ``kernels`` attribute
        A compiled DiffSL model or a :class:`BoundModel` from :func:`bind_model`.
    p : array_like, shape (n_inputs,), or None
        Input (parameter) values; ``None`` uses the model's default inputs.
    t_eval : array_like, shape (n_t,)
        Non-decreasing output times >= ``t0`` (a scalar is one final time). The integration
        ends at ``t_eval[-1]``; intermediate times are interpolated, never stepped to.
    method : {"auto", "dopri5", "tsit5", "rodas5p"}
        ``"auto"``: a DAE (mass matrix) uses Rodas5P; otherwise DOPRI5 with Hairer's
        stiffness detection (h * |lambda| above the stability limit on 15 accepted steps),
        switching to Rodas5P at the current time when it fires (after a reset the next segment
        starts explicit again). ``"dopri5"``/``"tsit5"``: explicit 5(4) pairs with their own
        dense output. ``"rodas5p"``: the stiff Rosenbrock method.
    rtol : float, default 1e-6
    atol : float or array_like (n_states,), default 1e-8
    max_steps : int, default 100000
        Accepted plus rejected steps allowed over the whole solve.
    t0 : float, default 0.0

    Returns
    -------
    Solution
        Failures (blow-up, non-finite values, exhausted ``max_steps``...) are reported with
        ``success=False`` and a message, not raised.

    Raises
    ------
    ValueError
        Invalid ``p``, ``t_eval``, tolerances, ``max_steps`` or ``method``.
    TypeError
        If ``model`` has no ``kernels``.

    Notes
    -----
    What bounds the cost of ``"auto"`` on hard non-stiff problems (measured on the
    Lotka-Volterra hard points of ``../shared/data/lv_hard_points.csv`` and 3000 random
    points of the same box, rtol 1e-6, atol 1e-8): DOPRI5's error control with the scale
    ``atol + rtol max(|y|, |y_new|)`` keeps a prey that collapses to ~1e-20 at the atol level,
    so none of them explodes (at most ~830 steps, ~5 ms); where an explicit trajectory does
    turn explosive (Tsit5 on 8 of the 3000 points: prey -> -1e7, predator decaying at rate
    ~1e6, >1e5 steps), the stiffness test (weighted by the error scale) fires within a few
    hundred steps and Rodas5P finishes in milliseconds; ``max_steps`` is the last resort.
    No positivity projection is applied (it would change the problem being solved).

    Examples
    --------
    >>> import numba, numpy as np
    >>> @numba.njit
    ... def decay(t, y, p, dy):
    ...     dy[0] = -p[0] * y[0]
    >>> model = bind_model(decay, 1, u0=[1.0], n_inputs=1)
    >>> sol = solve(model, [0.5], [0.0, 1.0, 2.0], rtol=1e-8, atol=1e-10)
    >>> bool(np.allclose(sol.y[:, 0], np.exp(-0.5 * sol.t), rtol=1e-7))
    True
    """
    kernels = getattr(model, "kernels", None)
    if not isinstance(kernels, KernelSet):
        raise ArgumentTypeError(
            f"`model` must be a compiled model or a BoundModel (an object with `kernels`), got "
            f"{type(model).__name__}. Use compile_model(text) or bind_model(rhs, ...)."
        )
    code, rtol, atol_arr, max_steps = solver_settings(method, rtol, atol, max_steps, kernels)
    # Cheap checks here; ordering, finiteness and t0 are checked by the kernel, and only when
    # it reports bad input does _as_times() work out the detailed message.
    times = np.asarray(t_eval, dtype=np.float64)
    if times.ndim != 1 or times.size == 0 or not times.flags.c_contiguous:
        times = _as_times(t_eval, float(t0))
    n_inputs = kernels.N_INPUTS
    if (
        type(p) is np.ndarray
        and p.dtype == np.float64
        and p.shape == (n_inputs,)
        and p.flags.c_contiguous
        and all(map(math.isfinite, p.tolist()))
    ):
        p_arr = p  # fast path (population loops): already a valid input vector
    else:
        p_arr = _as_inputs(model, p, n_inputs)
    n_t = times.shape[0]
    ys = np.empty((n_t, kernels.N_OUTPUTS))
    us = np.empty((n_t, kernels.N_STATES))
    ts = np.empty(n_t)
    stats = np.zeros(N_STATS, dtype=np.int64)
    kernels.refresh()
    status = kernels.solve_kernel(
        p_arr, float(t0), times, code, float(rtol), atol_arr, int(max_steps), ys, us, ts, stats
    )
    if status == STATUS_BAD_INPUT:
        t0 = float(t0)
        if not math.isfinite(t0):
            raise ArgumentError(f"`t0` must be finite, got {t0}.")
        _as_times(t_eval, t0)  # raises with the detailed message
        raise ArgumentError(f"Invalid solver input: {Status.BAD_INPUT.message}")
    k = int(stats[_status.STAT_K])
    root = status == STATUS_ROOT
    info = _STATUS_INFO.get(status)
    if info is None:
        info = (f"Unknown solver status {status} (a bug, please report it).", False)
    if k != n_t:
        ts, ys, us = ts[:k], ys[:k], us[:k]
    return Solution(
        ts,
        ys,
        us,
        info[1],
        int(status),
        info[0],
        stats,
        float(ts[k - 1]) if root and k > 0 else None,
        int(stats[_status.STAT_ROOT]) if root else None,
        kernels.tier,
    )
