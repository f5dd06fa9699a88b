"""Explicit Runge-Kutta 5(4) pairs: DOPRI5 and Tsit5 (solver template).

Both methods are FSAL 7-stage pairs with a 4th-order continuous extension, run with the
controller of scipy's ``RK45`` so that DOPRI5 takes the same steps as scipy on the same
settings:

* error norm: RMS over components of ``err_i / (atol_i + rtol * max(|y_i|, |y_new_i|))`` with
  ``err = h * sum_j e_j k_j`` ([1] Sec. II.4, eq. 4.11);
* accept when the norm is < 1; new step ``h * min(10, 0.9 * norm**(-1/5))`` (at most 1 right
  after a rejection), or ``h * max(0.2, 0.9 * norm**(-1/5))`` after a rejection; a non-finite
  trial (NaN/inf in a stage) is rejected with the factor 0.2;
* initial step: Hairer's algorithm ([1] Sec. II.4, "Starting Step Size"), as scipy's
  ``select_initial_step`` with error-estimator order 4;
* the last step is clipped to the final output time; output times inside a step are
  interpolated with the method's own dense output (no clipping).

Stiffness detection (``detect_stiff``), from Hairer's ``dopri5.f`` ([2] Sec. IV.2): stages 6
and 7 are both evaluated at ``t + h``, so ``rho = |k7 - k6| / |y_new - y6|`` estimates the
dominant eigenvalue of the Jacobian along the step; when ``h * rho`` exceeds the method's
stability limit (3.25) on 15 accepted steps without 6 consecutive non-stiff steps in between,
the advance function returns ``STATUS_STIFF`` and the driver switches to the stiff method.
Unlike ``dopri5.f`` the two norms are weighted by the error scale ``atol_i + rtol |y_i|``
(a diagonal similarity, so the eigenvalue estimate is unchanged): with plain Euclidean norms a
stiff component that is tiny in absolute terms (a predator at 1e-8 collapsing at rate 1e6
while the prey sits at -1e7, Lotka-Volterra) is invisible, and the explicit method crawls.

Coefficients come from the validated tableaus in ``_tableaus.py`` (copied into global float64
arrays, which numba freezes as read-only constants); the stage code is written out once, with
the coefficient set chosen per solve.

This module is a template (``docs/kernel-contract.md``); private names start with ``_erk_``.

References
----------
.. [1] E. Hairer, S. P. Norsett, G. Wanner, "Solving Ordinary Differential Equations I",
       2nd ed., Springer 1993 (Sec. II.4 step size control, II.5 DOPRI5, II.6 dense output).
.. [2] E. Hairer, G. Wanner, "Solving Ordinary Differential Equations II", 2nd ed.,
       Springer 1996, Sec. IV.2 (stiffness detection).
.. [3] J. R. Dormand, P. J. Prince, J. Comput. Appl. Math. 6(1), 19-26, 1980.
.. [4] Ch. Tsitouras, Comput. Math. Appl. 62(2), 770-775, 2011.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba import types as _erk_nbtypes  # aliased: a generated file may import stdlib `types`
from numba.extending import intrinsic

from diffid_plugins.solvers._bindings import (  # model-bindings
    N_OUTPUTS,
    N_STATES,
    N_STOP,
    out,
    rhs,
    stop,
)
from diffid_plugins.solvers._events import (  # model-bindings
    _ev_find_root,
    _ev_has_root,
    _ev_write_entry,
)
from diffid_plugins.solvers._status import (
    STAT_K,
    STAT_NACC,
    STAT_NREJ,
    STAT_NRHS,
    STAT_NROOTS,
    STAT_ROOT,
    STATUS_DONE,
    STATUS_MAX_STEPS,
    STATUS_NONFINITE,
    STATUS_ROOT,
    STATUS_STEP_TOO_SMALL,
    STATUS_STIFF,
)
from diffid_plugins.solvers._tableaus import DOPRI5 as _ERK_DOPRI5
from diffid_plugins.solvers._tableaus import TSIT5 as _ERK_TSIT5

__all__ = ["_erk_advance", "_erk_initial_step", "_erk_record_steps"]


def _erk_tuple(arr: np.ndarray) -> np.ndarray:
    """C-contiguous float64 copy (numba freezes global arrays as read-only constants)."""
    return np.ascontiguousarray(arr, dtype=np.float64)


_ERK_DA = _erk_tuple(_ERK_DOPRI5.a)
_ERK_DC = _erk_tuple(_ERK_DOPRI5.c)
_ERK_DB = _erk_tuple(_ERK_DOPRI5.b)
_ERK_DE = _erk_tuple(_ERK_DOPRI5.e)
_ERK_DP = _erk_tuple(_ERK_DOPRI5.dense)
_ERK_TA = _erk_tuple(_ERK_TSIT5.a)
_ERK_TB = _erk_tuple(_ERK_TSIT5.b)
_ERK_TC = _erk_tuple(_ERK_TSIT5.c)
_ERK_TE = _erk_tuple(_ERK_TSIT5.e)
_ERK_TP = _erk_tuple(_ERK_TSIT5.dense)
_ERK_STIFF_LIMIT = (_ERK_DOPRI5.stability_limit, _ERK_TSIT5.stability_limit)
# The kernel writes the theta^1 coefficient of the dense output as h k1 (y' = f at theta = 0).
for _erk_dense in (_ERK_DP, _ERK_TP):
    if not (_erk_dense[0, 0] == 1.0 and not _erk_dense[1:, 0].any()):
        raise RuntimeError("internal: dense-output matrices must start with (1, 0, ..., 0)")
_ERK_NQ = 5  # interpolant coefficients: degree 4 in theta
_ERK_EPS = 2.220446049250313e-16
_ERK_SAFETY = 0.9
_ERK_MIN_FACTOR = 0.2
_ERK_MAX_FACTOR = 10.0
_ERK_EXPONENT = -1.0 / 5.0  # -1 / (error-estimator order + 1)
_ERK_NSTIFF = 15  # stiff steps before switching (dopri5.f: IASTI == 15)
_ERK_NNONSTIFF = 6  # non-stiff steps that clear the suspicion (dopri5.f: NONSTI == 6)


@intrinsic
def _erk_fma(typingctx, a, b, c):
    """``a * b + c`` with a single rounding (``llvm.fma.f64``: one instruction on x86-64 with
    FMA, a correctly rounded libm call elsewhere). Arguments must be float64."""
    f8 = _erk_nbtypes.float64
    sig = f8(f8, f8, f8)

    def codegen(context, builder, signature, args):
        return builder.fma(args[0], args[1], args[2])

    return sig, codegen


@njit(cache=True, error_model="numpy")
def _erk_initial_step(w, t0, y0, f0, t_end, rtol, atol, y1, f1, stats):
    """Hairer's starting step ([1] Sec. II.4), as scipy's ``select_initial_step`` (order 4).

    ``y0``, ``f0`` (N_STATES,) are the state and F(t0, y0); ``y1``, ``f1`` are scratch.
    Costs one right-hand side evaluation. Returns the step (> 0).
    """
    interval = t_end - t0
    # RMS norms as scipy's ``norm``: sqrt(ddot(x, x)) / sqrt(n), the dot product accumulated
    # with fused multiply-adds (see ``_erk_advance``, "Floating-point order").
    sqrt_n = float(N_STATES) ** 0.5
    d0 = 0.0
    d1 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + abs(y0[i]) * rtol
        x0 = y0[i] / sc
        x1 = f0[i] / sc
        d0 = _erk_fma(x0, x0, d0)
        d1 = _erk_fma(x1, x1, d1)
    d0 = math.sqrt(d0) / sqrt_n
    d1 = math.sqrt(d1) / sqrt_n
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, interval)
    for i in range(N_STATES):
        y1[i] = y0[i] + h0 * f0[i]
    rhs(t0 + h0, y1, w, f1)
    stats[STAT_NRHS] += 1
    d2 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + abs(y0[i]) * rtol
        x2 = (f1[i] - f0[i]) / sc
        d2 = _erk_fma(x2, x2, d2)
    d2 = math.sqrt(d2) / sqrt_n / h0
    if not math.isfinite(d2):
        return h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / 5.0)
    return min(100.0 * h0, h1, interval)


@njit(cache=True, error_model="numpy", inline="always")
def _erk_control(err, hh, rejected):
    """Step-size controller of scipy ``RK45`` ([1] Sec. II.4): ``(accepted, h_next)``.

    ``err**(-1/5)`` is computed with ``pow``, as scipy does: ``exp(-log(err) / 5)`` is a few
    per cent cheaper but rounds differently, and any difference makes the steps drift from
    scipy's (see ``_erk_advance``, "Floating-point order").

    ``err`` is the error norm of a trial step of size ``hh``; ``rejected`` tells whether a
    trial of the current step was already rejected (then the step may not grow). A
    non-finite ``err`` (NaN/inf in a stage) is a rejection with the minimum factor.
    """
    if err < 1.0:
        if err == 0.0:
            factor = _ERK_MAX_FACTOR
        else:
            factor = min(_ERK_MAX_FACTOR, _ERK_SAFETY * err**_ERK_EXPONENT)
        if rejected:
            factor = min(1.0, factor)
        return True, hh * factor
    if not math.isfinite(err):
        return False, hh * _ERK_MIN_FACTOR
    return False, hh * max(_ERK_MIN_FACTOR, _ERK_SAFETY * err**_ERK_EXPONENT)


@njit(cache=True, error_model="numpy")
def _erk_advance(
    w,
    t,
    y,
    h,
    t_eval,
    rtol,
    atol,
    max_steps,
    ys,
    us,
    ts,
    stats,
    tableau,
    detect_stiff,
    record=False,
):
    """Integrate from (t, y) with DOPRI5/Tsit5, writing output rows (kernel contract).

    Parameters
    ----------
    w : float64 (N_WORK,)
        Model workspace (``prepare`` done).
    t : float
        Start time.
    y : float64 (N_STATES,)
        State at ``t``; on return the state at the returned time.
    h : float
        Suggested step; <= 0 selects one with Hairer's algorithm.
    t_eval : float64 (n_t,)
        Non-decreasing output times; the integration ends at ``t_eval[-1]``.
    rtol : float
    atol : float64 (N_STATES,)
    max_steps : int
        Bound on accepted + rejected steps counted in ``stats``.
    ys, us, ts : float64 (n_t, N_OUTPUTS), (n_t, N_STATES), (n_t,)
        Output rows, written from row ``stats[STAT_K]`` on.
    stats : int64 (N_STATS,)
        Counters (updated).
    tableau : int
        0 = DOPRI5, 1 = Tsit5.
    detect_stiff : bool
        Return ``STATUS_STIFF`` when the problem is found stiff.
    record : bool, default False
        Testing aid: write the accepted step times into ``ts`` (``ts[0]`` = t, then one entry
        per accepted step; ``stats[STAT_K]`` = count) instead of output rows, integrating to
        ``t_eval[-1]`` without events or stiffness test.

    Returns
    -------
    status : int
        ``STATUS_DONE``, ``STATUS_ROOT``, ``STATUS_STIFF`` or a negative failure code.
    t : float
        Time reached (the root for ``STATUS_ROOT``).
    h : float
        Suggested next step.

    Notes
    -----
    The whole per-step path (stages, controller, dense output, output rows) is written out
    here on this function's own work arrays: passing arrays to helpers that are not inlined
    straight-line code costs atomic reference counting per call (``docs/kernel-contract.md``).
    The work vectors are rows of one array: LLVM then knows that they do not overlap, forwards
    stored stage values in registers instead of reloading them after every store, and the
    serial chain of a step (stage after stage, then the controller) gets shorter: 19 % less
    time per solve than with one ``np.empty`` per vector (Lotka-Volterra, 500 outputs). The
    dense-output coefficients and the interpolant (Horner) are fma chains: fewer instructions
    next to the latency-bound step chain (another 9 %).

    Floating-point order. The error estimate ``h sum_j e_j k_j`` is a sum of terms up to 1e8
    times larger than itself (median 4e4 on Lotka-Volterra), so rounding its terms one ulp
    differently changes it by thousands of ulps (~1e-12 relative, up to 1e-8), the step
    factor by a fifth of that, and after a few hundred steps the step times differ from
    scipy's by ~1e-11 relative.
    To take *exactly* scipy's steps, the stage, solution and error sums are evaluated as
    scipy's ``np.dot`` evaluates them through OpenBLAS (0.3.x ``dgemv_n`` for 2 or 3 rows,
    Haswell/SkylakeX/Zen kernels, compiled with FMA contraction): columns in blocks of four,
    ``fma(k0, a0, k1 a1) + fma(k2, a2, k3 a3)``, then a chain ``s = fma(k_j, a_j, s)`` over
    the remaining columns; the RMS norm is ``sqrt(ddot(x, x)) / sqrt(n)`` with ``ddot`` an fma
    chain (OpenBLAS ``ddot`` for n < 16), and the step factor uses ``pow``. With these, DOPRI5
    reproduces scipy ``RK45`` bit for bit on 2- and 3-state problems on such machines; for
    other sizes OpenBLAS uses vector kernels with other orders, and the agreement is to round-off
    (~1e-11 relative in the step times). Tsit5 shares the code path. Each fused multiply-add
    is one instruction on x86-64 with FMA, as cheap as the multiply and add it replaces.
    """
    n_t = t_eval.shape[0]
    if record:
        ts[0] = t
        stats[STAT_K] = 1
    else:
        _ev_write_entry(w, t, y, t_eval, ys, us, ts, stats)
        if stats[STAT_K] >= n_t:
            return STATUS_DONE, t, h
    t_end = t_eval[n_t - 1]
    # One allocation for all work vectors: rows of one array at constant offsets, so that
    # LLVM can prove that they do not overlap and keep stage values in registers.
    work = np.empty((10 + _ERK_NQ, N_STATES))
    k1 = work[0]
    k2 = work[1]
    k3 = work[2]
    k4 = work[3]
    k5 = work[4]
    k6 = work[5]
    k7 = work[6]
    ytmp = work[7]
    y6 = work[8]
    y_new = work[9]
    Q = work[10:]  # noqa: N806
    o = np.empty(max(N_OUTPUTS, 1))
    n_g = max(N_STOP, 1)
    g_lo = np.zeros(n_g)
    g_hi = np.zeros(n_g)
    g_tmp = np.zeros(n_g)
    rhs(t, y, w, k1)
    stats[STAT_NRHS] += 1
    for i in range(N_STATES):
        if not (math.isfinite(y[i]) and math.isfinite(k1[i])):
            return STATUS_NONFINITE, t, h
    if N_STOP > 0:
        stop(t, y, w, g_lo)
    if h <= 0.0:
        h = _erk_initial_step(w, t, y, k1, t_end, rtol, atol, ytmp, k2, stats)
    limit = _ERK_STIFF_LIMIT[0] if tableau == 0 else _ERK_STIFF_LIMIT[1]
    sqrt_n = float(N_STATES) ** 0.5
    n_stiff = 0
    n_nonstiff = 0
    # Counters live in locals during the loop (stores to `stats` could alias the output
    # arrays and would be re-read every step) and are written back on every return.
    k = stats[STAT_K]
    n_rhs = 0
    n_acc = 0
    n_rej = 0
    steps_left = max_steps - stats[STAT_NACC] - stats[STAT_NREJ]
    status = STATUS_DONE
    while True:
        # --- trial steps until one is accepted (scipy RK45._step_impl) -----------------------
        # min_step = 10 ulp(t); ulp(t) <= eps |t|, so the exact value is only needed when h
        # is that small (saves a libm call per step).
        min_step = 0.0
        if h < 10.0 * _ERK_EPS * abs(t) + 1e-300:
            min_step = 10.0 * (np.nextafter(t, np.inf) - t)
            if h < min_step:
                h = min_step
        rejected = False
        nonfinite = False
        while True:
            if n_acc + n_rej >= steps_left:
                status = STATUS_MAX_STEPS
                break
            if h < min_step:
                status = STATUS_NONFINITE if nonfinite else STATUS_STEP_TOO_SMALL
                break
            t_new = t + h
            if t_new > t_end:
                t_new = t_end
            hh = t_new - t
            # Stages 2..7 (k7 = F(t + h, y_new): FSAL); y6 is the 6th stage argument.
            if tableau == 0:
                a, c, b, e = _ERK_DA, _ERK_DC, _ERK_DB, _ERK_DE
            else:
                a, c, b, e = _ERK_TA, _ERK_TC, _ERK_TB, _ERK_TE
            # Dot products in the order and with the fused multiply-adds of OpenBLAS's dgemv
            # (what scipy's np.dot(K[:s].T, a[:s]) runs): see "Floating-point order".
            for i in range(N_STATES):
                ytmp[i] = y[i] + (k1[i] * a[1, 0]) * hh
            rhs(t + c[1] * hh, ytmp, w, k2)
            for i in range(N_STATES):
                ytmp[i] = y[i] + _erk_fma(k2[i], a[2, 1], k1[i] * a[2, 0]) * hh
            rhs(t + c[2] * hh, ytmp, w, k3)
            for i in range(N_STATES):
                d = _erk_fma(k3[i], a[3, 2], _erk_fma(k2[i], a[3, 1], k1[i] * a[3, 0]))
                ytmp[i] = y[i] + d * hh
            rhs(t + c[3] * hh, ytmp, w, k4)
            for i in range(N_STATES):
                d = _erk_fma(k1[i], a[4, 0], k2[i] * a[4, 1]) + _erk_fma(
                    k3[i], a[4, 2], k4[i] * a[4, 3]
                )
                ytmp[i] = y[i] + d * hh
            rhs(t + c[4] * hh, ytmp, w, k5)
            for i in range(N_STATES):
                d = _erk_fma(k1[i], a[5, 0], k2[i] * a[5, 1]) + _erk_fma(
                    k3[i], a[5, 2], k4[i] * a[5, 3]
                )
                y6[i] = y[i] + _erk_fma(k5[i], a[5, 4], d) * hh
            rhs(t + hh, y6, w, k6)  # c[5] == 1
            for i in range(N_STATES):
                d = _erk_fma(k1[i], b[0], k2[i] * b[1]) + _erk_fma(k3[i], b[2], k4[i] * b[3])
                y_new[i] = y[i] + hh * _erk_fma(k6[i], b[5], _erk_fma(k5[i], b[4], d))
            rhs(t + hh, y_new, w, k7)  # c[6] == 1
            # Error norm as scipy: RMS of (h e.K) / scale = sqrt(ddot) / sqrt(n).
            acc = 0.0
            for i in range(N_STATES):
                sc = atol[i] + max(abs(y[i]), abs(y_new[i])) * rtol
                d = _erk_fma(k1[i], e[0], k2[i] * e[1]) + _erk_fma(k3[i], e[2], k4[i] * e[3])
                d = _erk_fma(k7[i], e[6], _erk_fma(k6[i], e[5], _erk_fma(k5[i], e[4], d)))
                x = d * hh / sc
                acc = _erk_fma(x, x, acc)
            err = math.sqrt(acc) / sqrt_n
            n_rhs += 6
            accepted, h = _erk_control(err, hh, rejected)
            if accepted:
                break
            n_rej += 1
            rejected = True
            nonfinite = not math.isfinite(err)
            if h < 10.0 * _ERK_EPS * abs(t) + 1e-300:
                min_step = 10.0 * (np.nextafter(t, np.inf) - t)
        if status != STATUS_DONE:
            break
        n_acc += 1
        if record:
            ts[k] = t_new
            k += 1
        else:
            # --- dense output: Q[j] = h sum_i dense[i, j-1] k_i, Q[0] = y ---------------------
            need_rows = k < n_t and t_eval[k] <= t_new
            if N_STOP > 0:
                stop(t_new, y_new, w, g_hi)
                if _ev_has_root(g_lo, g_hi):
                    need_rows = True
            if need_rows:
                p = _ERK_DP if tableau == 0 else _ERK_TP
                for i in range(N_STATES):
                    Q[0, i] = y[i]
                    Q[1, i] = hh * k1[i]  # first column of `dense` is (1, 0, ..., 0)
                    for j in range(1, 4):
                        q = _erk_fma(p[1, j], k2[i], p[0, j] * k1[i])
                        q = _erk_fma(p[2, j], k3[i], q)
                        q = _erk_fma(p[3, j], k4[i], q)
                        q = _erk_fma(p[4, j], k5[i], q)
                        q = _erk_fma(p[5, j], k6[i], q)
                        Q[j + 1, i] = hh * _erk_fma(p[6, j], k7[i], q)
            # --- events: stop roots on the dense output (rare path: helpers) -----------------
            t_hi = t_new
            idx = -1
            if N_STOP > 0:
                if _ev_has_root(g_lo, g_hi):
                    idx, t_hi = _ev_find_root(w, t, hh, Q, _ERK_NQ, g_lo, g_hi, g_tmp, y6)
                for i in range(n_g):
                    g_lo[i] = g_hi[i]
            # --- output rows in (t, t_hi] (before a root: in (t, t_root)) --------------------
            inv_h = 1.0 / hh
            while k < n_t:
                tk = t_eval[k]
                if tk > t_hi or (idx >= 0 and tk >= t_hi):
                    break
                theta = (tk - t) * inv_h
                for i in range(N_STATES):
                    q = _erk_fma(theta, Q[4, i], Q[3, i])
                    q = _erk_fma(theta, q, Q[2, i])
                    q = _erk_fma(theta, q, Q[1, i])
                    ytmp[i] = _erk_fma(theta, q, Q[0, i])
                out(tk, ytmp, w, o)
                for j in range(N_OUTPUTS):
                    ys[k, j] = o[j]
                for i in range(N_STATES):
                    us[k, i] = ytmp[i]
                ts[k] = tk
                k += 1
            if idx >= 0:
                for i in range(N_STATES):
                    y[i] = y6[i]
                stats[STAT_ROOT] = idx
                stats[STAT_NROOTS] += 1
                t = t_hi
                status = STATUS_ROOT
                break
            # --- stiffness test (dopri5.f): h * |k7 - k6| / |y_new - y6| > limit ---------------
            # (norms weighted by the error scale, so that a stiff small component counts)
            if detect_stiff:
                num = 0.0
                den = 0.0
                for i in range(N_STATES):
                    sc = atol[i] + rtol * abs(y_new[i])
                    num += ((k7[i] - k6[i]) / sc) ** 2
                    den += ((y_new[i] - y6[i]) / sc) ** 2
                if den > 0.0 and hh * math.sqrt(num / den) > limit:
                    n_nonstiff = 0
                    n_stiff += 1
                else:
                    n_nonstiff += 1
                    if n_nonstiff == _ERK_NNONSTIFF:
                        n_stiff = 0
        t = t_new
        for i in range(N_STATES):
            y[i] = y_new[i]
            k1[i] = k7[i]
        if record:
            if t >= t_end:
                break
        elif k >= n_t:
            break
        if detect_stiff and n_stiff >= _ERK_NSTIFF:
            status = STATUS_STIFF
            break
    stats[STAT_K] = k
    stats[STAT_NRHS] += n_rhs
    stats[STAT_NACC] += n_acc
    stats[STAT_NREJ] += n_rej
    return status, t, h


@njit(cache=True, error_model="numpy")
def _erk_record_steps(w, t, y, t_end, rtol, atol, max_steps, t_steps, stats, tableau):
    """Integrate to ``t_end`` recording the accepted step times (parity tests with scipy).

    ``t_steps`` (max_steps + 1,) receives t0 and the end of each accepted step. Returns
    ``(status, n)`` with ``n`` the number of times written.
    """
    t_eval = np.array([t_end])
    dummy = np.empty((1, 1))
    status, t, h = _erk_advance(
        w,
        t,
        y,
        0.0,
        t_eval,
        rtol,
        atol,
        max_steps,
        dummy,
        dummy,
        t_steps,
        stats,
        tableau,
        False,
        True,
    )
    return status, stats[STAT_K]
