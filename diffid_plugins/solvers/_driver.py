"""The single solver entry point ``solve_kernel`` (solver template).

``solve_kernel`` prepares the model, sets the initial state (consistent for DAEs), chooses the
method, and handles `stop` roots and resets, calling the resumable advance functions of
``_erk`` (DOPRI5/Tsit5) and ``_rosenbrock`` (Rodas5P). It is what :func:`solve` and the batch
kernels call: no Python objects, no exceptions (bad input gives ``STATUS_BAD_INPUT``), work
arrays allocated once per call.

Method selection (``method``):

* ``METHOD_AUTO``: a model with a mass matrix (DAE) goes to the stiff method. Otherwise the
  solve starts with DOPRI5 and Hairer's stiffness test (``_erk``: ``h * rho > 3.25`` on 15
  accepted steps); when it fires, the solve continues with the stiff method from the current
  time and state for the rest of the segment (LSODA-like one-way switch). After a ``reset`` the
  new segment starts again with DOPRI5, since the dynamics may have changed.
* ``METHOD_DOPRI5``, ``METHOD_TSIT5``: explicit only (no switch); ``METHOD_STIFF``: stiff only.

Events (``docs/diffsl-reference.md`` Sec. 8.3): without ``reset`` a root ends the solve and
its time and state become the last output row (``STATUS_ROOT``, a success), after the rows
strictly before it. With ``reset``, output times exactly at the root get the state before the
event (as pydiffsol), the model index becomes the root's component
(``prepare(w[:N_INPUTS], N, w)``), the state is replaced by ``reset(t_root, y-)`` (which sees
the new N), made consistent again for DAEs, and the integration continues with a fresh
step-size selection.

This module is a template (``docs/kernel-contract.md``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from diffid_plugins.solvers._bindings import (  # model-bindings
    HAS_MASS,
    HAS_RESET,
    N_INPUTS,
    N_STATES,
    N_WORK,
    SOLVER_HAS_STIFF,
    prepare,
    reset,
    u0,
)
from diffid_plugins.solvers._erk import _erk_advance  # model-bindings
from diffid_plugins.solvers._events import _ev_write_entry, _ev_write_row  # model-bindings
from diffid_plugins.solvers._rosenbrock import (  # model-bindings
    _ros_advance,
    _ros_consistent_init,
)
from diffid_plugins.solvers._status import (
    METHOD_AUTO,
    METHOD_DOPRI5,
    METHOD_STIFF,
    METHOD_TSIT5,
    STAT_K,
    STAT_NACC,
    STAT_NSWITCH,
    STAT_ROOT,
    STAT_T_SWITCH_STEP,
    STATUS_BAD_INPUT,
    STATUS_DONE,
    STATUS_NONFINITE,
    STATUS_ROOT,
    STATUS_STIFF,
)

__all__ = ["solve_kernel"]


@njit(cache=True, error_model="numpy")
def _drv_check_start(t, y, w, rtol, atol, stats):
    """A segment's initial state: finite, and made consistent for a DAE (``HAS_MASS``).

    Returns ``STATUS_DONE``, ``STATUS_NONFINITE`` or the consistent initialisation's failure.
    """
    for i in range(N_STATES):
        if not math.isfinite(y[i]):
            return STATUS_NONFINITE
    if HAS_MASS:
        return _ros_consistent_init(t, y, w, rtol, atol, stats)
    return STATUS_DONE


@njit(cache=True, error_model="numpy")
def solve_kernel(p, t0, t_eval, method, rtol, atol, max_steps, ys, us, ts, stats):
    """Solve the model for parameters ``p`` from ``t0``, writing rows at ``t_eval``.

    Parameters
    ----------
    p : float64 (N_INPUTS,)
        Inputs; the model starts with model index N = 0.
    t0 : float
        Initial time.
    t_eval : float64 (n_t,)
        Non-decreasing output times >= t0; the integration ends at ``t_eval[-1]``.
    method : int
        ``METHOD_AUTO``, ``METHOD_DOPRI5``, ``METHOD_TSIT5`` or ``METHOD_STIFF``.
    rtol : float
    atol : float64 (N_STATES,)
    max_steps : int
        Bound on accepted + rejected steps over the whole solve.
    ys, us, ts : float64 (n_t, N_OUTPUTS), (n_t, N_STATES), (n_t,)
        Output rows (outputs, states, times); ``stats[STAT_K]`` rows are written.
    stats : int64 (N_STATS,)
        Counters, zeroed here (``STAT_*`` in ``_status.py``).

    Returns
    -------
    int
        ``STATUS_DONE``, ``STATUS_ROOT`` (a terminal `stop`: the last written row is the root,
        ``stats[STAT_ROOT]`` its component) or a negative failure status.
    """
    for i in range(stats.shape[0]):
        stats[i] = 0
    stats[STAT_ROOT] = -1
    stats[STAT_T_SWITCH_STEP] = -1
    # Argument checks (the Python solve() raises with messages; a batch kernel gets a status).
    if not (math.isfinite(t0) and math.isfinite(rtol) and rtol > 0.0 and max_steps > 0):
        return STATUS_BAD_INPUT
    if method < METHOD_AUTO or method > METHOD_STIFF:
        return STATUS_BAD_INPUT
    if HAS_MASS and method in (METHOD_DOPRI5, METHOD_TSIT5):
        return STATUS_BAD_INPUT
    if not SOLVER_HAS_STIFF and (method == METHOD_STIFF or HAS_MASS):
        return STATUS_BAD_INPUT
    for i in range(N_STATES):
        if not (math.isfinite(atol[i]) and atol[i] > 0.0):
            return STATUS_BAD_INPUT
    prev = t0
    for k in range(t_eval.shape[0]):
        if not (math.isfinite(t_eval[k]) and t_eval[k] >= prev):
            return STATUS_BAD_INPUT
        prev = t_eval[k]
    if t_eval.shape[0] == 0:
        return STATUS_DONE
    w = np.zeros(N_WORK)
    prepare(p, 0, w)
    y = np.empty(N_STATES)
    u0(w, y)
    t = t0
    status = _drv_check_start(t, y, w, rtol, atol, stats)
    if status < 0:
        return status
    stiff = method == METHOD_STIFF or (method == METHOD_AUTO and HAS_MASS)
    tableau = 1 if method == METHOD_TSIT5 else 0
    detect = method == METHOD_AUTO and SOLVER_HAS_STIFF
    h = 0.0
    y_reset = np.empty(N_STATES)
    while True:
        if stiff:
            status, t, h = _ros_advance(
                w, t, y, h, t_eval, rtol, atol, max_steps, ys, us, ts, stats
            )
        else:
            status, t, h = _erk_advance(
                w, t, y, h, t_eval, rtol, atol, max_steps, ys, us, ts, stats, tableau, detect
            )
        if status == STATUS_STIFF:
            stiff = True
            stats[STAT_NSWITCH] += 1
            if stats[STAT_T_SWITCH_STEP] < 0:
                stats[STAT_T_SWITCH_STEP] = stats[STAT_NACC]
            continue
        if status != STATUS_ROOT:
            return status
        if not HAS_RESET:
            _ev_write_row(w, t, y, ys, us, ts, stats)
            return STATUS_ROOT
        # Output times exactly at the root get the state before the event (pydiffsol does
        # the same); the advance functions only wrote the times strictly before it.
        _ev_write_entry(w, t, y, t_eval, ys, us, ts, stats)
        # Hybrid semantics: N := root index first, then reset sees the new N.
        prepare(w[:N_INPUTS], stats[STAT_ROOT], w)
        reset(t, y, w, y_reset)
        for i in range(N_STATES):
            y[i] = y_reset[i]
        status = _drv_check_start(t, y, w, rtol, atol, stats)
        if status < 0:
            return status
        if not HAS_MASS:
            stiff = method == METHOD_STIFF
        h = 0.0
        if stats[STAT_K] >= t_eval.shape[0]:
            return STATUS_DONE
