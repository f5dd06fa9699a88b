"""Rodas5P: the stiff solver for ODEs and index-1 DAEs ``M(t) y' = f(t, y)``.

A solver *template* (``docs/kernel-contract.md``): the ``@njit`` kernels below call the model
through the module-level binding names, and the text of this module is pasted after a
generated model. Every module-level name has the ``_ros_`` prefix.

Why a Rosenbrock method, and why Rodas5P
----------------------------------------
diffsol (the engine of diffid and pydiffsol) uses variable-order BDF with a Newton iteration.
Here the stiff method is the linearly implicit one-step method Rodas5P [1]_ instead, because:

* The model supplies its *exact* Jacobian, and the models are small and dense (a few to a
  few dozen states), so one Jacobian and one O(n^3) LU per step is cheap. A Rosenbrock step
  is then a fixed sequence of 8 linear solves: no Newton iteration, no convergence test, no
  Jacobian-reuse heuristics, hence fewer ways to fail and a predictable cost.
* It is a one-step method: the whole solver state is ``(t, y, h)``. That is exactly the
  resumable ``advance`` contract, and restarts after a ``stop`` root, a ``reset`` or an
  explicit-to-stiff switch cost nothing (BDF must rebuild its history from order 1, which
  for hybrid models with many events is most of the cost).
* Rodas5P is L-stable and stiffly accurate (the solution is the last stage), so it solves
  index-1 DAEs with a singular mass matrix directly, its algebraic components satisfy the
  constraints, and its coefficients were chosen to limit the order reduction of very stiff
  problems (Prothero-Robinson conditions) [1]_. It has its own 4th-order dense output, so
  output times need no step clipping.
* At the tolerances of parameter fitting (1e-6 to 1e-8) a 5th-order method takes few steps;
  [1]_ reports Rodas5P among the most efficient stiff methods of the Julia package there.
  Measured on Robertson (rtol 1e-6, 84 steps): 3-5x faster than pydiffsol's BDF via solve().

The price: the Jacobian is evaluated at every accepted step (BDF reuses it over many steps,
which wins for large systems), and ``df/dt`` is needed for non-autonomous problems; it is taken
by a forward difference, see :func:`_ros_time_derivative`.

Method
------
Transformed form of the Rosenbrock method for ``M y' = f(t, y)`` (Hairer-Wanner II,
Sec. IV.7 and VI.4; the form of ``rodas.f``): with ``W = M / (h gamma) - J`` and
``J = df/dy(t0, y0)``::

    U_i = y0 + sum_{j<i} a_ij k_j
    W k_i = f(t0 + c_i h, U_i) + M sum_{j<i} (C_ij / h) k_j + h d_i df/dt(t0, y0)
    y1 = U_8 + k_8,   error estimate = k_8 (embedded 4th-order solution U_8)

Dense output (continuous extension of order 4, [1]_)::

    y(t0 + theta h) = (1 - theta) y0 + theta (y1 + (1 - theta) (K1 + theta (K2 + theta K3)))
    K_m = sum_j H_mj k_j

A time-dependent mass matrix is reduced to a constant one within each step by multiplying the
differential equations by ``P(t) = M_DD(t0) M_DD(t)^-1`` (D = the differential rows, i.e. not
``ALGEBRAIC``). This is exact when the derivatives of algebraic states do not enter the
differential rows with a time-dependent factor (``M_DD(t)^-1 M_DA(t)`` constant), in particular
for every ODE with an invertible ``M(t)`` and every diagonal ``M(t)``; otherwise the order may
drop. ``df/dt`` of the transformed system includes ``P'(t0) f``.

Step-size control is Hairer's RODAS controller with Gustafsson's predictive modification
(Hairer-Wanner II, Sec. IV.8, and ``rodas.f``): ``hnew = h / fac``,
``fac = clip(err^(1/5) / 0.9, 1/6, 5)``; after a rejection the step may not grow.

References
----------
.. [1] G. Steinebach, "Construction of Rosenbrock-Wanner method Rodas5P and numerical
       benchmarks within the Julia Differential Equations package", BIT Numerical Mathematics
       63, 27 (2023). Coefficients as published with OrdinaryDiffEq.jl (``Rodas5PTableau``).
.. [2] E. Hairer, G. Wanner, "Solving Ordinary Differential Equations II. Stiff and
       Differential-Algebraic Problems", 2nd ed., Springer 1996, Sec. IV.7, IV.8, VI.4.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from diffid_plugins import _status_codes as _ros_codes  # status codes: the registry
from diffid_plugins.solvers._bindings import (  # model-bindings
    ALGEBRAIC_INDEX,
    HAS_MASS,
    MASS_TIME_DEPENDENT,
    N_STATES,
    N_STOP,
    jac,
    rhs,
    stop,
)
from diffid_plugins.solvers._events import (  # model-bindings
    _ev_find_root,
    _ev_has_root,
    _ev_write_entry,
    _ev_write_step,
)
from diffid_plugins.solvers._ros_kernels import (  # model-bindings
    _ROS_EPS,
    _ROS_FAC_MAX,
    _ROS_FAC_MIN,
    _ROS_MAX_SINGULAR,
    _ROS_NEWTON_MAXITER,
    _ROS_ORDER,
    _ROS_SAFE,
    _ros_embed,
    _ros_f,
    _ros_f0,
    _ros_initial_step,
    _ros_lu_factor,
    _ros_lu_solve,
    _ros_norm,
    _ros_time_derivative,
)
from diffid_plugins.solvers._status import (
    STAT_K,
    STAT_NACC,
    STAT_NJAC,
    STAT_NLU,
    STAT_NREJ,
    STAT_NRHS,
    STAT_NROOTS,
    STAT_ROOT,
)
from diffid_plugins.solvers._tableaus import RODAS5P as _ROS_RODAS5P

# --- Rodas5P coefficients: the validated tableau of _tableaus.py, as C-contiguous globals ------
_ROS_GAMMA = _ROS_RODAS5P.gamma
_ROS_A = np.ascontiguousarray(_ROS_RODAS5P.a)  # a_ij: stage arguments U_i = y0 + sum a_ij k_j
_ROS_C = np.ascontiguousarray(_ROS_RODAS5P.coupling)  # C_ij: coupling M sum_j (C_ij / h) k_j
_ROS_CN = np.ascontiguousarray(_ROS_RODAS5P.c)  # nodes
_ROS_D = np.ascontiguousarray(_ROS_RODAS5P.d)  # df/dt weights
_ROS_H = np.ascontiguousarray(_ROS_RODAS5P.dense)  # dense output: K_m = sum_j H[m, j] k_j
_ROS_NSTAGE = _ROS_RODAS5P.n_stages


@njit(cache=True, error_model="numpy")
def _ros_consistent_init(t, y, w, rtol, atol, stats):
    """Make the algebraic components of ``y`` consistent at ``t`` (Newton, exact Jacobian).

    Solves ``f_A(t, y_D, y_A) = 0`` for ``y_A`` with ``y_D`` fixed, where ``A`` are the
    ``ALGEBRAIC`` rows (identically zero rows of ``M``) and, as in diffsol and SUNDIALS'
    ``IDACalcIC``, the state with the same index is the algebraic variable of that row.
    Newton's method uses ``J_AA`` from the model's exact Jacobian, with backtracking on the
    residual norm. Converged when the weighted step norm (weights ``atol_i + rtol |y_i|``) is
    below 1e-6, or the step is at round-off level.

    Parameters
    ----------
    t : float
    y : ndarray, shape (N_STATES,)
        State; its algebraic components are overwritten.
    w : ndarray, shape (N_WORK,)
    rtol : float
    atol : ndarray, shape (N_STATES,)
    stats : ndarray of int64
        ``STAT_NRHS``, ``STAT_NJAC``, ``STAT_NLU`` are incremented.

    Returns
    -------
    int
        ``STATUS_DONE`` or ``STATUS_INIT_FAILED`` (singular ``J_AA``, non-finite values, or no
        convergence in 30 iterations).
    """
    aidx = ALGEBRAIC_INDEX
    na = aidx.shape[0]
    if na == 0:
        return _ros_codes.STATUS_DONE
    f = np.empty(N_STATES)
    jm = np.empty((N_STATES, N_STATES))
    piv = np.empty(N_STATES, dtype=np.int64)
    dx = np.empty(N_STATES)
    ya = np.empty(N_STATES)
    rhs(t, y, w, f)
    stats[STAT_NRHS] += 1
    res = 0.0
    for i in range(na):
        res = max(res, abs(f[aidx[i]]))
    for _ in range(_ROS_NEWTON_MAXITER):
        if not (res < math.inf):
            return _ros_codes.STATUS_INIT_FAILED
        if res == 0.0:
            return _ros_codes.STATUS_DONE
        jac(t, y, w, jm)
        stats[STAT_NJAC] += 1
        _ros_embed(jm, aidx, na)  # [[J_AA, 0], [0, I]]: an LU of size N_STATES
        for i in range(N_STATES):
            dx[i] = -f[aidx[i]] if i < na else 0.0
        for i in range(na):
            ya[i] = y[aidx[i]]
        stats[STAT_NLU] += 1
        if not _ros_lu_factor(jm, N_STATES, piv):
            return _ros_codes.STATUS_INIT_FAILED
        _ros_lu_solve(jm, N_STATES, piv, dx)
        dnorm = 0.0
        small = True
        for i in range(na):
            sc = atol[aidx[i]] + rtol * abs(ya[i])
            dnorm = max(dnorm, abs(dx[i]) / sc)
            if abs(dx[i]) > 4.0 * _ROS_EPS * abs(ya[i]):
                small = False
        lam = 1.0
        for _ls in range(10):  # backtracking: accept the first step that reduces |f_A|
            for i in range(na):
                y[aidx[i]] = ya[i] + lam * dx[i]
            rhs(t, y, w, f)
            stats[STAT_NRHS] += 1
            new = 0.0
            for i in range(na):
                new = max(new, abs(f[aidx[i]]))
            if new < res or small or lam * dnorm <= 1e-6:
                break
            lam *= 0.5
        res = new
        if lam * dnorm <= 1e-6 or small:
            return _ros_codes.STATUS_DONE if res < math.inf else _ros_codes.STATUS_INIT_FAILED
    return _ros_codes.STATUS_INIT_FAILED


# --- one step ----------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _ros_step(t, h, y, w, f0, ft, lu, piv, m0, mt, piv_m, ks, u, fs, rv, tmp, ynew, stats):
    """Stages of one Rodas5P step from ``(t, y)`` with the factorised ``W`` in ``lu``, ``piv``.

    Writes the stage increments ``ks`` (8, N_STATES) and the solution ``ynew`` (N_STATES,);
    the error estimate is ``ks[7]``. Returns 0, or 1 if ``M_DD(t)`` was singular at a stage
    time (time-dependent mass only).
    """
    inv_h = 1.0 / h
    for s in range(_ROS_NSTAGE):
        if s == 0:
            for i in range(N_STATES):
                fs[i] = f0[i]
        else:
            for i in range(N_STATES):
                v = y[i]
                for j in range(s):
                    v += _ROS_A[s, j] * ks[j, i]
                u[i] = v
            if not _ros_f(t + _ROS_CN[s] * h, u, w, m0, mt, piv_m, tmp, fs, stats):
                return 1
        for i in range(N_STATES):
            v = 0.0
            for j in range(s):
                v += _ROS_C[s, j] * ks[j, i]
            rv[i] = v * inv_h
        hd = h * _ROS_D[s]
        if HAS_MASS:
            for i in range(N_STATES):
                v = fs[i] + hd * ft[i]
                for j in range(N_STATES):
                    v += m0[i, j] * rv[j]
                tmp[i] = v
            for i in range(N_STATES):
                rv[i] = tmp[i]
        else:
            for i in range(N_STATES):
                rv[i] += fs[i] + hd * ft[i]
        _ros_lu_solve(lu, N_STATES, piv, rv)
        for i in range(N_STATES):
            ks[s, i] = rv[i]
    for i in range(N_STATES):  # u = U_8, the embedded solution
        ynew[i] = u[i] + ks[_ROS_NSTAGE - 1, i]
    return 0


@njit(cache=True, error_model="numpy")
def _ros_dense_q(y0, y1, ks, q):
    """Monomial coefficients ``q`` (5, N_STATES) of the Rodas5P continuous extension.

    ``y(t0 + theta h) = (1 - theta) y0 + theta (y1 + (1 - theta) (K1 + theta (K2 + theta K3)))``
    with ``K_m = sum_j H[m, j] k_j`` [1]_, expanded in powers of theta for the shared
    ``_events`` helpers: q0 = y0, q1 = y1 - y0 + K1, q2 = K2 - K1, q3 = K3 - K2, q4 = -K3.
    """
    for i in range(N_STATES):
        k1 = 0.0
        k2 = 0.0
        k3 = 0.0
        for j in range(_ROS_NSTAGE):
            k1 += _ROS_H[0, j] * ks[j, i]
            k2 += _ROS_H[1, j] * ks[j, i]
            k3 += _ROS_H[2, j] * ks[j, i]
        q[0, i] = y0[i]
        q[1, i] = y1[i] - y0[i] + k1
        q[2, i] = k2 - k1
        q[3, i] = k3 - k2
        q[4, i] = -k3


# --- the resumable advance function (docs/kernel-contract.md) ----------------------------------
@njit(cache=True, error_model="numpy")
def _ros_advance(w, t, y, h, t_eval, rtol, atol, max_steps, ys, us, ts, stats):
    """Integrate with Rodas5P from ``(t, y)`` until all output rows are written or a root.

    Parameters
    ----------
    w : ndarray, shape (N_WORK,)
        Prepared model workspace.
    t : float
        Start time; ``y`` must be consistent there (see :func:`_ros_consistent_init`).
    y : ndarray, shape (N_STATES,)
        State at ``t``; updated in place to the state at the returned time.
    h : float
        Suggested first step; ``<= 0`` chooses one (Hairer's rule, :func:`_ros_initial_step`).
    t_eval : ndarray, shape (n_t,)
        Non-decreasing output times; the integration ends at ``t_eval[-1]`` (the last step is
        shortened to end there; other output times are served by the dense output).
    rtol : float
    atol : ndarray, shape (N_STATES,)
    max_steps : int
        Limit on ``stats[STAT_NACC] + stats[STAT_NREJ]`` (counted over the whole solve).
    ys : ndarray, shape (n_t, N_OUTPUTS)
    us : ndarray, shape (n_t, N_STATES)
    ts : ndarray, shape (n_t,)
        Output rows ``k = stats[STAT_K], ...`` are written for every output time reached
        (``t_eval[k] <= t`` on entry, then on each accepted step; before a root only the
        times strictly before it).
    stats : ndarray of int64, shape (N_STATS,)
        Counters (``STAT_*``), updated.

    Returns
    -------
    status : int
        ``STATUS_DONE``, ``STATUS_ROOT`` (``stats[STAT_ROOT]`` = component; ``t``, ``y`` at the
        root), or a negative failure: ``STATUS_MAX_STEPS``, ``STATUS_STEP_TOO_SMALL``,
        ``STATUS_NONFINITE``, ``STATUS_SINGULAR`` (``t``, ``y`` at the last accepted step).
    t : float
        Time reached.
    h : float
        Suggested next step.
    """
    n_t = t_eval.shape[0]
    _ev_write_entry(w, t, y, t_eval, ys, us, ts, stats)
    if stats[STAT_K] >= n_t:
        return _ros_codes.STATUS_DONE, t, h
    t_end = t_eval[n_t - 1]
    n = N_STATES
    ks = np.empty((_ROS_NSTAGE, n))
    q = np.empty((5, n))
    jm = np.empty((n, n))
    lu = np.empty((n, n))
    m0 = np.empty((n, n))
    mt = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    piv_m = np.empty(n, dtype=np.int64)
    vec = np.empty((8, n))
    f0, ft, fs, u = vec[0], vec[1], vec[2], vec[3]
    rv, tmp, ynew, yd = vec[4], vec[5], vec[6], vec[7]
    ng = max(N_STOP, 1)
    gvec = np.empty((3, ng))
    g0, g1, gm = gvec[0], gvec[1], gvec[2]
    if not _ros_f0(t, y, w, m0, f0, stats, HAS_MASS):
        return _ros_codes.STATUS_NONFINITE, t, h
    if N_STOP > 0:
        stop(t, y, w, g0)
    if not h > 0.0:
        h = _ros_initial_step(t, y, w, f0, m0, t_end, rtol, atol, u, fs, stats)
    have_jac = False
    reject = False
    nonfinite = False
    n_singular = 0
    have_acc = False
    h_acc = 0.0
    err_acc = 1.0
    expo = 1.0 / _ROS_ORDER
    while True:
        if stats[STAT_NACC] + stats[STAT_NREJ] >= max_steps:
            return _ros_codes.STATUS_MAX_STEPS, t, h
        if h < 10.0 * _ROS_EPS * abs(t) or not h > 0.0:
            return (
                (_ros_codes.STATUS_NONFINITE if nonfinite else _ros_codes.STATUS_STEP_TOO_SMALL),
                t,
                h,
            )
        last = t + 1.0001 * h >= t_end
        if last:
            h = t_end - t
        if not have_jac:
            jac(t, y, w, jm)
            stats[STAT_NJAC] += 1
            if not _ros_time_derivative(t, y, w, f0, m0, mt, piv_m, tmp, ft, stats):
                return _ros_codes.STATUS_SINGULAR, t, h
            have_jac = True
        # iteration matrix W = M / (h gamma) - J
        cw = 1.0 / (h * _ROS_GAMMA)
        for i in range(n):
            for j in range(n):
                mij = m0[i, j] if HAS_MASS else (1.0 if i == j else 0.0)
                lu[i, j] = cw * mij - jm[i, j]
        stats[STAT_NLU] += 1
        if not _ros_lu_factor(lu, N_STATES, piv):
            n_singular += 1
            if n_singular > _ROS_MAX_SINGULAR:
                return _ros_codes.STATUS_SINGULAR, t, h
            h *= 0.5
            reject = True
            continue
        n_singular = 0
        code = _ros_step(
            t, h, y, w, f0, ft, lu, piv, m0, mt, piv_m, ks, u, fs, rv, tmp, ynew, stats
        )
        if code != 0:
            return _ros_codes.STATUS_SINGULAR, t, h
        err = _ros_norm(ks[_ROS_NSTAGE - 1], y, ynew, rtol, atol)
        if not err < math.inf:  # NaN or inf somewhere: retry with a much smaller step
            stats[STAT_NREJ] += 1
            nonfinite = True
            reject = True
            h *= 0.2
            continue
        nonfinite = False
        # controller: hnew = h / fac, fac = err^(1/5) / SAFE in [1/6, 5] (rodas.f)
        fac = min(_ROS_FAC_MAX, max(_ROS_FAC_MIN, err**expo / _ROS_SAFE))
        if err > 1.0:
            stats[STAT_NREJ] += 1
            reject = True
            h = h / fac
            continue
        if have_acc:  # Gustafsson's predictive controller (Hairer-Wanner II, IV.8; rodas.f)
            fac_g = (h_acc / h) * (err * err / err_acc) ** expo / _ROS_SAFE
            fac = max(fac, min(_ROS_FAC_MAX, max(_ROS_FAC_MIN, fac_g)))
        have_acc = True
        h_acc = h
        err_acc = max(1e-2, err)
        h_new = h / fac
        if reject:
            h_new = min(h_new, h)
        reject = False
        stats[STAT_NACC] += 1
        t_new = t_end if last else t + h
        have_q = False
        if N_STOP > 0:
            stop(t_new, ynew, w, g1)
            if _ev_has_root(g0, g1):
                _ros_dense_q(y, ynew, ks, q)
                have_q = True
                idx, t_root = _ev_find_root(w, t, h, q, 5, g0, g1, gm, yd)
                if idx >= 0:
                    _ev_write_step(w, t, h, q, 5, t_eval, t_root, False, ys, us, ts, stats, rv)
                    stats[STAT_ROOT] = idx
                    stats[STAT_NROOTS] += 1
                    for i in range(n):
                        y[i] = yd[i]
                    return _ros_codes.STATUS_ROOT, t_root, h_new
        if t_eval[stats[STAT_K]] <= t_new:
            if not have_q:
                _ros_dense_q(y, ynew, ks, q)
            _ev_write_step(w, t, h, q, 5, t_eval, t_new, True, ys, us, ts, stats, rv)
        t = t_new
        for i in range(n):
            y[i] = ynew[i]
        if stats[STAT_K] >= n_t:
            return _ros_codes.STATUS_DONE, t, h_new
        h = h_new
        have_jac = False
        if N_STOP > 0:
            for i in range(N_STOP):
                g0[i] = g1[i]
        if not _ros_f0(t, y, w, m0, f0, stats, MASS_TIME_DEPENDENT):
            return _ros_codes.STATUS_NONFINITE, t, h
