"""Rodas5P building blocks: step-size constants, dense LU, the transformed right-hand side,
the error norm and the initial step (for ``_rosenbrock``).

A solver *template* (``docs/kernel-contract.md``), pasted before ``_rosenbrock`` in a generated
model module; every module-level name has the ``_ros_`` prefix. The method and its references
are described in ``_rosenbrock``.
"""

from __future__ import annotations

import math

from numba import njit

from diffid_plugins.solvers._bindings import (  # model-bindings
    ALGEBRAIC,
    DIFFERENTIAL_INDEX,
    HAS_MASS,
    MASS_TIME_DEPENDENT,
    N_STATES,
    RHS_DEPENDS_ON_T,
    mass,
    rhs,
)
from diffid_plugins.solvers._erk import (  # model-bindings
    _erk_hairer_h0,
    _erk_hairer_probe,
    _erk_hairer_step,
)
from diffid_plugins.solvers._status import STAT_NRHS

_ROS_ORDER = 5
_ROS_SAFE = 0.9  # step-size safety factor (rodas.f SAFE)
# fac = h / h_new is clipped to [FAC_MIN, FAC_MAX]: growth <= 6, shrink >= 1/5 (rodas.f FAC2/1)
_ROS_FAC_MIN = 1.0 / 6.0
_ROS_FAC_MAX = 5.0
_ROS_MAX_SINGULAR = 5  # consecutive singular iteration matrices (halving h) before failing
_ROS_NEWTON_MAXITER = 30  # consistent initialisation
_ROS_EPS = 2.220446049250313e-16


# --- dense linear algebra: in place, no allocation ---------------------------------------------
# The per-step helpers (_ros_step, _ros_lu_solve) are inlined at the numba IR level: a call
# that passes arrays costs reference-count updates per array (measured: Robertson 51 -> 40 us
# per solve with these two inlined; see docs/kernel-contract.md, performance note).
@njit(cache=True, error_model="numpy")
def _ros_lu_factor(a, n, piv):
    """LU factorisation with partial pivoting of ``a[:n, :n]``, in place (LAPACK getrf order).

    Parameters
    ----------
    a : ndarray, shape (>= n, >= n)
        Matrix; overwritten by L (unit lower, below the diagonal) and U.
    n : int
    piv : ndarray of int64, shape (>= n,)
        Row interchanges: row ``i`` was swapped with row ``piv[i]``.

    Returns
    -------
    bool
        ``False`` if a pivot is exactly zero or not finite (singular matrix).
    """
    for kc in range(n):
        p = kc
        amax = abs(a[kc, kc])
        for i in range(kc + 1, n):
            v = abs(a[i, kc])
            if v > amax:
                amax = v
                p = i
        piv[kc] = p
        if not (amax > 0.0 and amax < math.inf):
            return False
        if p != kc:
            for j in range(n):
                tmp = a[kc, j]
                a[kc, j] = a[p, j]
                a[p, j] = tmp
        inv = 1.0 / a[kc, kc]
        for i in range(kc + 1, n):
            lik = a[i, kc] * inv
            a[i, kc] = lik
            if lik != 0.0:
                for j in range(kc + 1, n):
                    a[i, j] -= lik * a[kc, j]
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _ros_lu_solve(a, n, piv, b):
    """Solve ``A x = b`` in place with the factors from :func:`_ros_lu_factor`.

    Parameters
    ----------
    a : ndarray, shape (>= n, >= n)
    n : int
    piv : ndarray of int64, shape (>= n,)
    b : ndarray, shape (>= n,)
        Right-hand side; overwritten by the solution.
    """
    for i in range(n):
        p = piv[i]
        if p != i:
            tmp = b[i]
            b[i] = b[p]
            b[p] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= a[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= a[i, j] * b[j]
        b[i] = s / a[i, i]


# --- right-hand side of the (transformed) system -----------------------------------------------
@njit(cache=True, error_model="numpy")
def _ros_embed(a, idx, m):
    """Overwrite ``a`` (N_STATES, N_STATES) with ``[[a[idx][:, idx], 0], [0, I]]`` in place.

    ``idx`` (>= m entries) must be increasing, so every entry is read before it is written.
    The result is always of size N_STATES (one LU routine for every sub-block).
    """
    for i in range(N_STATES):
        for j in range(N_STATES):
            if i < m and j < m:
                a[i, j] = a[idx[i], idx[j]]
            else:
                a[i, j] = 1.0 if i == j else 0.0


@njit(cache=True, error_model="numpy")
def _ros_f0(t, y, w, m0, f0, stats, refresh_mass):
    """``f0 = F(t, y)`` at the start of a step (and ``M(t)`` into ``m0`` if
    ``refresh_mass``); False when a component is not finite."""
    if refresh_mass:
        mass(t, w, m0)
    rhs(t, y, w, f0)
    stats[STAT_NRHS] += 1
    for i in range(N_STATES):  # noqa: SIM110 (numba: no generators in all())
        if not (abs(f0[i]) < math.inf):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _ros_f(t, y, w, m0, mt, piv_m, tmp, f, stats):
    """Evaluate ``f(t, y)`` into ``f``, transformed for a time-dependent mass matrix.

    For ``MASS_TIME_DEPENDENT`` the differential rows become ``M_DD(t0) M_DD(t)^-1 f_D`` with
    ``m0`` = M(t0) (see the module docstring); otherwise ``f`` is the model's ``rhs``.

    Parameters
    ----------
    t : float
    y : ndarray, shape (N_STATES,)
    w : ndarray, shape (N_WORK,)
    m0, mt : ndarray, shape (N_STATES, N_STATES)
        Mass matrix at the step start; work matrix.
    piv_m : ndarray of int64, shape (N_STATES,)
    tmp, f : ndarray, shape (N_STATES,)
    stats : ndarray of int64

    Returns
    -------
    bool
        ``False`` if ``M_DD(t)`` is singular.
    """
    rhs(t, y, w, f)
    stats[STAT_NRHS] += 1
    if MASS_TIME_DEPENDENT:
        didx = DIFFERENTIAL_INDEX
        nd = didx.shape[0]
        mass(t, w, mt)
        # [[M_DD(t), 0], [0, I]]: the LU is always of size N_STATES
        _ros_embed(mt, didx, nd)
        if not _ros_lu_factor(mt, N_STATES, piv_m):
            return False
        for i in range(N_STATES):
            tmp[i] = f[didx[i]] if i < nd else 0.0
        _ros_lu_solve(mt, N_STATES, piv_m, tmp)
        for i in range(nd):
            s = 0.0
            for j in range(nd):
                s += m0[didx[i], didx[j]] * tmp[j]
            f[didx[i]] = s
    return True


@njit(cache=True, error_model="numpy")
def _ros_time_derivative(t, y, w, f0, m0, mt, piv_m, tmp, ft, stats):
    """Forward-difference ``df/dt(t, y)`` into ``ft`` (zero for autonomous models).

    ``delta = sqrt(eps * max(1e-5, |t|))`` as in Hairer's ``rodas.f``. The error O(delta)
    enters the step as ``h d_i delta f_tt``: a local error O(h^2 delta), below the tolerances
    used for fitting (1e-6 to 1e-10) at the step sizes these tolerances select.
    """
    # df/dt (one extra right-hand side evaluation per step) is skipped when neither F nor M
    # depends on t.
    if not (RHS_DEPENDS_ON_T or MASS_TIME_DEPENDENT):
        for i in range(N_STATES):
            ft[i] = 0.0
        return True
    delta = math.sqrt(_ROS_EPS * max(1e-5, abs(t)))
    if not _ros_f(t + delta, y, w, m0, mt, piv_m, tmp, ft, stats):
        return False
    for i in range(N_STATES):
        ft[i] = (ft[i] - f0[i]) / delta
    return True


@njit(cache=True, error_model="numpy")
def _ros_norm(v, y0, y1, rtol, atol):
    """Weighted RMS norm of ``v`` with weights ``atol_i + rtol * max(|y0_i|, |y1_i|)``."""
    s = 0.0
    for i in range(N_STATES):
        sc = atol[i] + rtol * max(abs(y0[i]), abs(y1[i]))
        s += (v[i] / sc) ** 2
    return math.sqrt(s / N_STATES)


@njit(cache=True, error_model="numpy")
def _ros_initial_step(t, y, w, f0, m0, t_end, rtol, atol, y1, f1, stats):
    """Hairer's starting step (Hairer-Norsett-Wanner I, Sec. II.4; scipy ``select_initial_step``).

    Applied to the differential rows, with ``y' ~ f_i / M_ii`` (algebraic rows and rows with
    a zero diagonal are left out). Returns a step in ``(0, t_end - t]``.
    """
    d0 = 0.0
    d1 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + rtol * abs(y[i])
        v = f0[i]
        if HAS_MASS:
            v = f0[i] / m0[i, i] if (m0[i, i] != 0.0 and not ALGEBRAIC[i]) else 0.0
        y1[i] = v  # keep y' in y1 for the Euler step below
        d0 += (y[i] / sc) ** 2
        d1 += (v / sc) ** 2
    d0 = math.sqrt(d0 / N_STATES)
    d1 = math.sqrt(d1 / N_STATES)
    span = t_end - t
    h0 = _erk_hairer_h0(d0, d1, span)
    _erk_hairer_probe(w, t, y, y1, h0, y1, f1, stats)  # y1 holds y'
    d2 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + rtol * abs(y[i])
        dv = f1[i] - f0[i]
        if HAS_MASS:
            dv = dv / m0[i, i] if (m0[i, i] != 0.0 and not ALGEBRAIC[i]) else 0.0
        d2 += (dv / sc) ** 2
    d2 = math.sqrt(d2 / N_STATES) / h0
    return _erk_hairer_step(h0, d1, d2, span, 1.0 / (_ROS_ORDER + 1))
