"""Output rows and `stop` roots on a step's dense output (solver template).

Shared by the explicit (``_erk``) and the stiff (``_rosenbrock``) methods so that both write
output rows and locate roots identically. A step from ``t_lo`` to ``t_lo + h`` describes its
continuous extension by monomial coefficients ``Q`` (at least ``nq`` rows, N_STATES columns):

    y(t_lo + theta h) = sum_{j < nq} Q[j] theta^j,   theta in [0, 1].

Root semantics (``docs/diffsl-reference.md`` Sec. 8.3, as diffsol/SUNDIALS): after every
accepted step, a component ``i`` of ``stop`` has a root in (t_lo, t_lo + h] when
``g_lo[i] * g_hi[i] < 0`` or ``g_hi[i] == 0``; a component that is exactly zero at the start
of the step (``g_lo[i] == 0``) is never a root. The crossing is located by the Illinois
(modified secant) iteration of SUNDIALS' ``cvRootfind`` on the dense output, to
``100 * eps * (|t| + |h|)`` in t (far below the 1e-10 relative required), and reported at the
right end of the final bracket (where ``g`` has changed sign). The component reported is the
one with the largest crossing fraction ``|g_hi / (g_hi - g_lo)|`` (the earliest crossing).

This module is a template (``docs/kernel-contract.md``): its text is included in each
generated model module, where ``N_STATES``, ``N_STOP``, ``out`` and ``stop`` are the model's.

References
----------
.. [1] A. C. Hindmarsh et al., "SUNDIALS: Suite of nonlinear and differential/algebraic
       equation solvers", ACM TOMS 31(3), 363-396, 2005 (CVODE root finding, ``cvRootfind``).
.. [2] M. Dowell, P. Jarratt, "A modified regula falsi method for computing the root of an
       equation", BIT 11, 168-174, 1971 (the Illinois algorithm).
"""

from __future__ import annotations

from numba import njit

from diffid_plugins.solvers._bindings import N_STATES, N_STOP, out, stop  # model-bindings
from diffid_plugins.solvers._status import STAT_K

__all__ = [
    "_ev_dense",
    "_ev_find_root",
    "_ev_has_root",
    "_ev_write_entry",
    "_ev_write_row",
    "_ev_write_step",
]

_EV_EPS = 2.220446049250313e-16


@njit(cache=True, error_model="numpy", inline="always")
def _ev_dense(Q, nq, theta, y):  # noqa: N803
    """Evaluate the step interpolant: ``y[i] = sum_{j < nq} Q[j, i] theta^j`` (Horner).

    ``Q``: float64 (>= nq, N_STATES); ``y``: float64 (N_STATES,), written.
    """
    for i in range(N_STATES):
        acc = Q[nq - 1, i]
        for j in range(nq - 2, -1, -1):
            acc = acc * theta + Q[j, i]
        y[i] = acc


@njit(cache=True, error_model="numpy")
def _ev_write_row(w, t, y, ys, us, ts, stats):
    """Write one output row ``k = stats[STAT_K]`` at (t, y) and advance ``stats[STAT_K]``.

    ``ys`` (n_t, N_OUTPUTS) gets out(t, y), ``us`` (n_t, N_STATES) gets y, ``ts[k]`` gets t.
    """
    k = stats[STAT_K]
    out(t, y, w, ys[k])
    for i in range(N_STATES):
        us[k, i] = y[i]
    ts[k] = t
    stats[STAT_K] = k + 1


@njit(cache=True, error_model="numpy")
def _ev_write_entry(w, t, y, t_eval, ys, us, ts, stats):
    """Write every pending row with ``t_eval[k] <= t`` from the current state (t, y)."""
    n_t = t_eval.shape[0]
    while stats[STAT_K] < n_t and t_eval[stats[STAT_K]] <= t:
        _ev_write_row(w, t_eval[stats[STAT_K]], y, ys, us, ts, stats)


@njit(cache=True, error_model="numpy")
def _ev_write_step(w, t_lo, h, Q, nq, t_eval, t_hi, inclusive, ys, us, ts, stats, ytmp):  # noqa: N803
    """Write the pending rows with ``t_eval[k] <= t_hi`` (``inclusive``) or ``< t_hi``.

    The rows are interpolated on the step (t_lo, t_lo + h) described by ``Q``; ``t_hi`` is the
    step end, or a root inside the step. ``ytmp`` (N_STATES,) is scratch.
    """
    n_t = t_eval.shape[0]
    while stats[STAT_K] < n_t:
        tk = t_eval[stats[STAT_K]]
        if tk > t_hi or (not inclusive and tk >= t_hi):
            break
        _ev_dense(Q, nq, (tk - t_lo) / h, ytmp)
        _ev_write_row(w, tk, ytmp, ys, us, ts, stats)


@njit(cache=True, error_model="numpy", inline="always")
def _ev_has_root(g_lo, g_hi):
    """Cheap test: does some active component change sign or hit zero in the step?"""
    for i in range(N_STOP):
        if g_lo[i] != 0.0 and (g_hi[i] == 0.0 or g_lo[i] * g_hi[i] < 0.0):
            return True
    return False


@njit(cache=True, error_model="numpy")
def _ev_scan(g_start, ga, gb):
    """Scan the `stop` components over a bracket with values ``ga`` (left) and ``gb`` (right).

    Components exactly zero at the start of the step (``g_start``) are inactive. Returns
    ``(izero, icross)``: the first active component that is exactly zero at the right end
    (-1: none), and the sign-changing one with the largest crossing fraction
    ``|gb / (gb - ga)|`` (the earliest crossing; -1: no sign change).
    """
    izero = -1
    icross = -1
    maxfrac = 0.0
    for i in range(N_STOP):
        if g_start[i] == 0.0:
            continue
        if gb[i] == 0.0:
            if izero < 0:
                izero = i
        elif ga[i] * gb[i] < 0.0:
            frac = abs(gb[i] / (gb[i] - ga[i]))
            if frac > maxfrac:
                maxfrac = frac
                icross = i
    return izero, icross


@njit(cache=True, error_model="numpy")
def _ev_find_root(w, t_lo, h, Q, nq, g_lo, g_hi, g_tmp, ytmp):  # noqa: N803
    """Locate the first `stop` root in (t_lo, t_lo + h] (SUNDIALS ``cvRootfind`` [1]).

    Parameters
    ----------
    w : float64 (N_WORK,)
        Model workspace.
    t_lo, h : float
        The accepted step.
    Q : float64 (>= nq, N_STATES)
        Monomial coefficients of the step's interpolant.
    nq : int
    g_lo, g_hi : float64 (max(N_STOP, 1),)
        ``stop`` at the step's start and end (not modified).
    g_tmp : float64 (max(N_STOP, 1),)
        Scratch.
    ytmp : float64 (N_STATES,)
        Receives y(t_root) when a root is found.

    Returns
    -------
    idx : int
        Index of the crossing component, -1 when there is no root.
    t_root : float
        Root time (the step end when there is no root).
    """
    t_hi = t_lo + h
    izero, imax = _ev_scan(g_lo, g_lo, g_hi)
    if imax < 0:
        if izero >= 0:  # exact zero at the end of the step
            _ev_dense(Q, nq, 1.0, ytmp)
        return izero, t_hi

    # Illinois iteration on the bracket [tlo, thi]; only happens once per root, so the two
    # small bracket arrays are allocated here rather than per step.
    glo = g_lo.copy()
    ghi = g_hi.copy()
    gmid = g_tmp
    tlo = t_lo
    thi = t_hi
    ttol = (abs(t_hi) + abs(h)) * 100.0 * _EV_EPS
    alph = 1.0
    side = 0
    sideprev = -1
    while True:
        # Weight: halve the retained end's value when the same side is kept twice [2].
        if sideprev != side:
            alph = 1.0
        elif side == 2:
            alph = alph * 2.0
        else:
            alph = alph * 0.5
        tmid = thi - (thi - tlo) * ghi[imax] / (ghi[imax] - alph * glo[imax])
        if abs(tmid - tlo) < 0.5 * ttol:
            fracint = abs(thi - tlo) / abs(h)
            fracsub = 0.1 if fracint > 0.1 else 0.5 * fracint
            tmid = tlo + fracsub * (thi - tlo)
        if abs(thi - tmid) < 0.5 * ttol:
            fracint = abs(thi - tlo) / abs(h)
            fracsub = 0.1 if fracint > 0.1 else 0.5 * fracint
            tmid = thi - fracsub * (thi - tlo)
        _ev_dense(Q, nq, (tmid - t_lo) / h, ytmp)
        stop(tmid, ytmp, w, gmid)
        sideprev = side
        izero, icross = _ev_scan(g_lo, glo, gmid)
        zroot = izero >= 0
        sgnchg = icross >= 0
        if sgnchg:  # sign change in (tlo, tmid)
            imax = icross
            thi = tmid
            for i in range(N_STOP):
                ghi[i] = gmid[i]
            side = 1
            if abs(thi - tlo) <= ttol:
                break
            continue
        if zroot:  # no sign change in (tlo, tmid) but an exact zero at tmid
            thi = tmid
            for i in range(N_STOP):
                ghi[i] = gmid[i]
            if imax < 0 or ghi[imax] != 0.0:
                for i in range(N_STOP):
                    if g_lo[i] != 0.0 and gmid[i] == 0.0:
                        imax = i
                        break
            break
        tlo = tmid  # the sign change is in (tmid, thi)
        for i in range(N_STOP):
            glo[i] = gmid[i]
        side = 2
        if abs(thi - tlo) <= ttol:
            break
    _ev_dense(Q, nq, (thi - t_lo) / h, ytmp)
    return imax, thi
