"""Lane-interleaved DOPRI5 batch cost kernel ``lanes_kernel`` (a template module).

Same arguments, results and contract as ``batch_kernel`` (``_batch.py``), for models without
a mass matrix and without `stop` (``N_STOP == 0``, not ``HAS_MASS``) solved with method "auto"
or "dopri5"; ``Problem`` dispatches to it for those. See ``docs/kernel-contract.md``.

Why. A DOPRI5 solve is a long chain of dependent operations (stage after stage, error norm,
``pow``, next step), so the CPU mostly waits on latencies. Each ``prange`` task integrates
``_LN_LANES`` rows at once, one *lane* per row, and runs each stage for all lanes back to back,
so that the independent chains overlap in the out-of-order core (instruction-level
parallelism, not SIMD: the model's scalar ``rhs`` is called per lane and stage on the lane's
rows of the work array ``(vector, lane, state)``). Each lane has its own time, step, state,
accept/reject history, output cursor and cost sums; a lane whose row is done takes the next row
of the chunk, so lanes idle only at the end of a chunk.

Arithmetic. Operation for operation that of ``_erk_advance`` with the DOPRI5 tableau: the same
stage sums (fused multiply-adds in the same order), error norm, controller (``_erk_control``),
starting step (``_erk_initial_step``), step-size floor, dense output at the data times and
stiffness test (method "auto"); residuals are summed over the data times in order, as
``_bt_row`` does. A row's cost is therefore bit-identical to the scalar path (tested).

Rows the lanes do not finish with success (stiffness detected, ``max_steps`` exceeded, a
non-finite state, a too small step, non-finite parameters, bad noise levels) are re-solved from
scratch by the scalar ``_bt_row`` after the chunk's lanes are done: it switches to the stiff
method or reports the failure. A row's result thus depends only on the row, never on its lane,
chunk, thread, the thread count or the batch size. Private names start with ``_ln_``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from diffid_plugins.problem._batch import _bt_check, _bt_cost, _bt_row, _bt_work  # model-bindings
from diffid_plugins.solvers._bindings import (  # model-bindings
    N_INPUTS,
    N_OUTPUTS,
    N_STATES,
    N_WORK,
    SOLVER_HAS_STIFF,
    out,
    prepare,
    rhs,
    u0,
)
from diffid_plugins.solvers._erk import (  # model-bindings
    _ERK_EPS,
    _ERK_NNONSTIFF,
    _ERK_NSTIFF,
    _erk_control,
    _erk_fma,
    _erk_initial_step,
)
from diffid_plugins.solvers._status import METHOD_AUTO, METHOD_DOPRI5, N_STATS
from diffid_plugins.solvers._tableaus import DOPRI5 as _LN_DOPRI5

__all__ = ["lanes_kernel"]

_LN_LANES = 4  # rows integrated together per task (4, 8 and 16 measured equal on LV)
_LN_A = np.ascontiguousarray(_LN_DOPRI5.a, dtype=np.float64)
_LN_C = np.ascontiguousarray(_LN_DOPRI5.c, dtype=np.float64)
_LN_B = np.ascontiguousarray(_LN_DOPRI5.b, dtype=np.float64)
_LN_E = np.ascontiguousarray(_LN_DOPRI5.e, dtype=np.float64)
_LN_P = np.ascontiguousarray(_LN_DOPRI5.dense, dtype=np.float64)
_LN_STIFF_LIMIT = float(_LN_DOPRI5.stability_limit)
# Rows of the work array (vector, lane, state): state, stages, stage argument, 6th stage
# argument, new state, then five rows of interpolant coefficients Q0..Q4.
_LN_Y, _LN_K1, _LN_K2, _LN_K3, _LN_K4, _LN_K5, _LN_K6, _LN_K7 = 0, 1, 2, 3, 4, 5, 6, 7
_LN_YT, _LN_Y6, _LN_YN, _LN_Q, _LN_NV = 8, 9, 10, 11, 16


@njit(cache=True, error_model="numpy")
def _ln_begin(t, h, t_end):
    """Start a step at ``t`` as ``_erk_advance``: ``(min_step, h, t_new, hh)``, the step-size
    floor (10 ulp(t) when ``h`` is that small), ``h`` raised to it, the trial end (clipped to
    ``t_end``) and the trial step."""
    min_step = 0.0
    if h < 10.0 * _ERK_EPS * abs(t) + 1e-300:
        min_step = 10.0 * (np.nextafter(t, np.inf) - t)
        if h < min_step:
            h = min_step
    t_new = t + h
    if t_new > t_end:
        t_new = t_end
    return min_step, h, t_new, t_new - t


@njit(cache=True, error_model="numpy")
def _ln_chunk(X, lo, hi, fixed, solver, lanes, cost, costs, statuses):  # noqa: N803
    """Score rows ``lo..hi-1`` of ``X``: in lanes (when ``lanes``), then the rest with ``_bt_row``.

    Arguments as ``lanes_kernel``; ``lanes`` (bool) is False when the settings are not for
    the lanes (every row goes to ``_bt_row``).
    """
    p_default, param_index, t0, t_eval, data = fixed
    method, rtol, atol, max_steps = solver
    n_t = t_eval.shape[0]
    t_end = t_eval[n_t - 1] if n_t > 0 else t0
    L = _LN_LANES  # noqa: N806
    a, b, c, e, pd = _LN_A, _LN_B, _LN_C, _LN_E, _LN_P
    sqrt_n = float(N_STATES) ** 0.5
    work = np.empty((_LN_NV, L, N_STATES))
    wl = np.zeros((L, N_WORK))
    o = np.empty((L, max(N_OUTPUTS, 1)))
    sq = np.zeros((L, max(N_OUTPUTS, 1)))
    p = np.empty(max(N_INPUTS, 1))
    st = np.zeros(N_STATS, dtype=np.int64)  # counters of _erk_initial_step (unused)
    row = np.full(L, -1, dtype=np.int64)  # the lane's row of X (-1: idle)
    # Per-lane time, next step, trial step, trial end, step-size floor of the current step;
    # next data row, accepted + rejected steps, stiff and non-stiff step counts; a trial of
    # the current step was rejected, the last trial was accepted.
    fv = np.zeros((5, L))
    t, h, hh, tn, ms = fv[0], fv[1], fv[2], fv[3], fv[4]
    iv = np.zeros((4, L), dtype=np.int64)
    kk, nst, nstiff, nnon = iv[0], iv[1], iv[2], iv[3]
    bv = np.zeros((2, L), dtype=np.bool_)
    rej, good = bv[0], bv[1]
    detect = method == METHOD_AUTO and SOLVER_HAS_STIFF
    redo = np.full(hi - lo, not lanes)  # rows left to the scalar path
    nxt = lo if lanes else hi
    n_idle = L
    while True:
        # --- give idle lanes the next rows of the chunk -------------------------------------
        ln = 0
        while n_idle > 0 and nxt < hi and ln < L:
            if row[ln] >= 0:
                ln += 1
                continue
            i = nxt  # start row i on lane ln (checks in the order of the scalar path)
            nxt += 1
            x = X[i]
            if _bt_check(x, cost) != 0:
                redo[i - lo] = True
                continue
            for j in range(N_INPUTS):
                p[j] = p_default[j]
            for j in range(param_index.shape[0]):
                p[param_index[j]] = x[j]
            for j in range(N_WORK):  # as solve_kernel: a fresh workspace for every row
                wl[ln, j] = 0.0
            prepare(p, 0, wl[ln])
            u0(wl[ln], work[_LN_Y, ln])
            ok = True
            for s in range(N_STATES):
                ok = ok and math.isfinite(work[_LN_Y, ln, s])
            for j in range(N_OUTPUTS):
                sq[ln, j] = 0.0
            k = 0  # entry rows (t_eval[k] <= t0) from the initial state
            while ok and k < n_t and t_eval[k] <= t0:
                out(t_eval[k], work[_LN_Y, ln], wl[ln], o[ln])
                for j in range(N_OUTPUTS):
                    r = o[ln, j] - data[k, j]
                    sq[ln, j] += r * r
                k += 1
            if ok and k >= n_t:
                costs[i], statuses[i] = _bt_cost(x, sq[ln], n_t, cost)
                continue
            if ok:
                rhs(t0, work[_LN_Y, ln], wl[ln], work[_LN_K1, ln])
                for s in range(N_STATES):
                    ok = ok and math.isfinite(work[_LN_K1, ln, s])
            if not ok:
                redo[i - lo] = True
                continue
            y0, f0, y1, f1 = work[_LN_Y, ln], work[_LN_K1, ln], work[_LN_YT, ln], work[_LN_K2, ln]
            h0 = _erk_initial_step(wl[ln], t0, y0, f0, t_end, rtol, atol, y1, f1, st)
            ms[ln], h[ln], tn[ln], hh[ln] = _ln_begin(t0, h0, t_end)
            row[ln] = i
            t[ln] = t0
            kk[ln] = k
            nst[ln] = 0
            nstiff[ln] = 0
            nnon[ln] = 0
            rej[ln] = False
            n_idle -= 1
        if n_idle == L:
            break
        # --- stages 2..7 for every busy lane (the sums of _erk_advance, DOPRI5) -------------
        for ln in range(L):
            if row[ln] >= 0:
                hl = hh[ln]
                for s in range(N_STATES):
                    d = work[_LN_K1, ln, s] * a[1, 0]
                    work[_LN_YT, ln, s] = work[_LN_Y, ln, s] + d * hl
                rhs(t[ln] + c[1] * hl, work[_LN_YT, ln], wl[ln], work[_LN_K2, ln])
        for ln in range(L):
            if row[ln] >= 0:
                hl = hh[ln]
                for s in range(N_STATES):
                    d = _erk_fma(work[_LN_K2, ln, s], a[2, 1], work[_LN_K1, ln, s] * a[2, 0])
                    work[_LN_YT, ln, s] = work[_LN_Y, ln, s] + d * hl
                rhs(t[ln] + c[2] * hl, work[_LN_YT, ln], wl[ln], work[_LN_K3, ln])
        for ln in range(L):
            if row[ln] >= 0:
                hl = hh[ln]
                for s in range(N_STATES):
                    d = _erk_fma(work[_LN_K2, ln, s], a[3, 1], work[_LN_K1, ln, s] * a[3, 0])
                    d = _erk_fma(work[_LN_K3, ln, s], a[3, 2], d)
                    work[_LN_YT, ln, s] = work[_LN_Y, ln, s] + d * hl
                rhs(t[ln] + c[3] * hl, work[_LN_YT, ln], wl[ln], work[_LN_K4, ln])
        for ln in range(L):
            if row[ln] >= 0:
                hl = hh[ln]
                for s in range(N_STATES):
                    d = _erk_fma(work[_LN_K1, ln, s], a[4, 0], work[_LN_K2, ln, s] * a[4, 1])
                    d += _erk_fma(work[_LN_K3, ln, s], a[4, 2], work[_LN_K4, ln, s] * a[4, 3])
                    work[_LN_YT, ln, s] = work[_LN_Y, ln, s] + d * hl
                rhs(t[ln] + c[4] * hl, work[_LN_YT, ln], wl[ln], work[_LN_K5, ln])
        for ln in range(L):
            if row[ln] >= 0:
                hl = hh[ln]
                for s in range(N_STATES):
                    d = _erk_fma(work[_LN_K1, ln, s], a[5, 0], work[_LN_K2, ln, s] * a[5, 1])
                    d += _erk_fma(work[_LN_K3, ln, s], a[5, 2], work[_LN_K4, ln, s] * a[5, 3])
                    d = _erk_fma(work[_LN_K5, ln, s], a[5, 4], d)
                    work[_LN_Y6, ln, s] = work[_LN_Y, ln, s] + d * hl
                rhs(t[ln] + hl, work[_LN_Y6, ln], wl[ln], work[_LN_K6, ln])  # c[5] == 1
        for ln in range(L):
            if row[ln] >= 0:
                hl = hh[ln]
                for s in range(N_STATES):
                    d = _erk_fma(work[_LN_K1, ln, s], b[0], work[_LN_K2, ln, s] * b[1])
                    d += _erk_fma(work[_LN_K3, ln, s], b[2], work[_LN_K4, ln, s] * b[3])
                    d = _erk_fma(work[_LN_K6, ln, s], b[5], _erk_fma(work[_LN_K5, ln, s], b[4], d))
                    work[_LN_YN, ln, s] = work[_LN_Y, ln, s] + hl * d
                rhs(t[ln] + hl, work[_LN_YN, ln], wl[ln], work[_LN_K7, ln])  # c[6] == 1
        # --- error norm and controller for every busy lane --------------------------------
        for ln in range(L):
            if row[ln] < 0:
                continue
            hl = hh[ln]
            acc = 0.0
            for s in range(N_STATES):
                yabs = max(abs(work[_LN_Y, ln, s]), abs(work[_LN_YN, ln, s]))
                d = _erk_fma(work[_LN_K1, ln, s], e[0], work[_LN_K2, ln, s] * e[1])
                d += _erk_fma(work[_LN_K3, ln, s], e[2], work[_LN_K4, ln, s] * e[3])
                d = _erk_fma(work[_LN_K5, ln, s], e[4], d)
                d = _erk_fma(work[_LN_K7, ln, s], e[6], _erk_fma(work[_LN_K6, ln, s], e[5], d))
                xs = d * hl / (atol[s] + yabs * rtol)
                acc = _erk_fma(xs, xs, acc)
            err = math.sqrt(acc) / sqrt_n
            good[ln], h[ln] = _erk_control(err, hl, rej[ln])
            nst[ln] += 1
        # --- rejected: next trial; accepted: data rows, stiffness test, next step ----------
        for ln in range(L):
            if row[ln] < 0:
                continue
            hl = hh[ln]
            tl = t[ln]
            if not good[ln]:
                rej[ln] = True
                h_next = h[ln]
                if h_next < 10.0 * _ERK_EPS * abs(tl) + 1e-300:
                    ms[ln] = 10.0 * (np.nextafter(tl, np.inf) - tl)
                if nst[ln] >= max_steps or h_next < ms[ln]:  # fails: the scalar path says how
                    redo[row[ln] - lo] = True
                    row[ln] = -1
                    n_idle += 1
                    continue
                t_new = tl + h_next
                if t_new > t_end:
                    t_new = t_end
                tn[ln] = t_new
                hh[ln] = t_new - tl
                continue
            t_new = tn[ln]
            k = kk[ln]
            if k < n_t and t_eval[k] <= t_new:
                # dense output Q[j] = h sum_i dense[i, j-1] k_i, Q[0] = y; rows in (t, t_new]
                for s in range(N_STATES):
                    work[_LN_Q, ln, s] = work[_LN_Y, ln, s]
                    work[_LN_Q + 1, ln, s] = hl * work[_LN_K1, ln, s]
                    for j in range(1, 4):
                        q = _erk_fma(pd[1, j], work[_LN_K2, ln, s], pd[0, j] * work[_LN_K1, ln, s])
                        q = _erk_fma(pd[2, j], work[_LN_K3, ln, s], q)
                        q = _erk_fma(pd[3, j], work[_LN_K4, ln, s], q)
                        q = _erk_fma(pd[4, j], work[_LN_K5, ln, s], q)
                        q = _erk_fma(pd[5, j], work[_LN_K6, ln, s], q)
                        work[_LN_Q + j + 1, ln, s] = hl * _erk_fma(
                            pd[6, j], work[_LN_K7, ln, s], q
                        )
                inv_h = 1.0 / hl
                # (views are made at the call: a view that lives across a loop costs atomic
                # reference counting per use)
                while k < n_t:
                    tk = t_eval[k]
                    if tk > t_new:
                        break
                    theta = (tk - tl) * inv_h
                    for s in range(N_STATES):
                        q = _erk_fma(theta, work[_LN_Q + 4, ln, s], work[_LN_Q + 3, ln, s])
                        q = _erk_fma(theta, q, work[_LN_Q + 2, ln, s])
                        q = _erk_fma(theta, q, work[_LN_Q + 1, ln, s])
                        work[_LN_YT, ln, s] = _erk_fma(theta, q, work[_LN_Q, ln, s])
                    out(tk, work[_LN_YT, ln], wl[ln], o[ln])
                    for j in range(N_OUTPUTS):
                        r = o[ln, j] - data[k, j]
                        sq[ln, j] += r * r
                    k += 1
                kk[ln] = k
            if detect:  # Hairer's stiffness test, as _erk_advance
                num = 0.0
                den = 0.0
                for s in range(N_STATES):
                    yn = work[_LN_YN, ln, s]
                    sc = atol[s] + rtol * abs(yn)
                    num += ((work[_LN_K7, ln, s] - work[_LN_K6, ln, s]) / sc) ** 2
                    den += ((yn - work[_LN_Y6, ln, s]) / sc) ** 2
                if den > 0.0 and hl * math.sqrt(num / den) > _LN_STIFF_LIMIT:
                    nnon[ln] = 0
                    nstiff[ln] += 1
                else:
                    nnon[ln] += 1
                    if nnon[ln] == _ERK_NNONSTIFF:
                        nstiff[ln] = 0
            t[ln] = t_new
            for s in range(N_STATES):
                work[_LN_Y, ln, s] = work[_LN_YN, ln, s]
                work[_LN_K1, ln, s] = work[_LN_K7, ln, s]
            i = row[ln]
            if k >= n_t:
                costs[i], statuses[i] = _bt_cost(X[i], sq[ln], n_t, cost)
            elif (detect and nstiff[ln] >= _ERK_NSTIFF) or nst[ln] >= max_steps:
                redo[i - lo] = True  # stiff or too many steps: the scalar path
            else:
                rej[ln] = False
                ms[ln], h[ln], tn[ln], hh[ln] = _ln_begin(t_new, h[ln], t_end)
                continue
            row[ln] = -1
            n_idle += 1
    if redo.any():  # rows the lanes did not finish: the scalar path, from scratch
        work = _bt_work(n_t)
        for i in range(lo, hi):
            if redo[i - lo]:
                costs[i], statuses[i] = _bt_row(X[i], fixed, solver, cost, work)


@njit(parallel=True, cache=True, error_model="numpy")
def lanes_kernel(X, fixed, solver, cost, n_chunks, costs, statuses):  # noqa: N803
    """Score every row of ``X`` in lanes: ``costs[i]``, ``statuses[i]`` for row ``X[i]``.

    Parameters and results exactly as ``batch_kernel`` (``_batch.py``: ``X`` (n, n_params),
    ``t_eval`` (n_t,), ``data`` (n_t, N_OUTPUTS), ``atol`` (N_STATES,), the cost arrays,
    ``n_chunks`` prange tasks of contiguous rows, outputs ``costs`` (n,) float64 and
    ``statuses`` (n,) int64), and bit-identical to it. The lanes run for ``method``
    ``METHOD_AUTO`` or ``METHOD_DOPRI5`` and valid settings; otherwise every row goes to the
    scalar ``_bt_row``, which reports the problem. The model must have no mass matrix and no
    `stop` (``Problem`` checks).
    """
    n = X.shape[0]
    _, _, t0, t_eval, _ = fixed
    method, rtol, atol, max_steps = solver
    n_t = t_eval.shape[0]
    lanes = n_t > 0 and (method in (METHOD_AUTO, METHOD_DOPRI5))
    lanes = lanes and math.isfinite(t0) and math.isfinite(rtol) and rtol > 0.0 and max_steps > 0
    for s in range(N_STATES):
        lanes = lanes and math.isfinite(atol[s]) and atol[s] > 0.0
    prev = t0
    for k in range(n_t):
        lanes = lanes and math.isfinite(t_eval[k]) and t_eval[k] >= prev
        prev = t_eval[k]
    for cidx in prange(n_chunks):
        lo = (cidx * n) // n_chunks
        hi = ((cidx + 1) * n) // n_chunks
        _ln_chunk(X, lo, hi, fixed, solver, lanes, cost, costs, statuses)
