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

Arithmetic. The step is ``_erk_advance``'s, with the DOPRI5 tableau, through the same
helpers of ``solvers/_erk.py`` (``_erk_stage``, ``_erk_error``, ``_erk_control``,
``_erk_dense``, ``_erk_interpolate``, ``_erk_stiffness``, ``_erk_floor``/``_erk_clip``,
``_erk_initial_step``) on the same work-array layout: the same stage sums (fused
multiply-adds in the same order), error norm, controller, starting step, step-size floor,
dense output at the data times and stiffness test (method "auto"); only the order in which
lanes and stages are visited is this module's own. Residuals are summed over the data times
in order, as ``_bt_row`` does. A row's cost is therefore bit-identical to the scalar path
(tested).

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
    _ERK_K1,
    _ERK_NSTIFF,
    _ERK_NV,
    _ERK_STIFF_LIMIT,
    _ERK_Y,
    _ERK_YT,
    _erk_accept,
    _erk_clip,
    _erk_control,
    _erk_dense,
    _erk_error,
    _erk_floor,
    _erk_initial_step,
    _erk_interpolate,
    _erk_stage,
    _erk_stiffness,
)
from diffid_plugins.solvers._status import METHOD_AUTO, METHOD_DOPRI5, N_STATS
from diffid_plugins.solvers._views import borrowed_row

__all__ = ["lanes_kernel"]

_LN_LANES = 4  # rows integrated together per task (4, 8 and 16 measured equal on LV)
_LN_DOPRI5 = 0  # tableau index of DOPRI5 in the _erk_* helpers


@njit(cache=True, error_model="numpy")
def _ln_begin(t, h, t_end):
    """Start a step at ``t`` as ``_erk_step``: ``(min_step, h, t_new, hh)``, the step-size
    floor, ``h`` raised to it, the trial end (clipped to ``t_end``) and the trial step."""
    min_step = _erk_floor(t, h, 0.0)
    if h < min_step:
        h = min_step
    t_new, hh = _erk_clip(t, h, t_end)
    return min_step, h, t_new, hh


@njit(cache=True, error_model="numpy", inline="always")
def _ln_stage(work, row, t, hh, wl, stage):
    """Stage ``stage`` (2..7, a constant) of the trial step of every busy lane, lane after
    lane (the lanes' chains are independent: the core overlaps them)."""
    for ln in range(_LN_LANES):
        if row[ln] >= 0:
            _erk_stage(work, ln, _LN_DOPRI5, stage, t[ln], hh[ln], wl[ln])


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
    sqrt_n = float(N_STATES) ** 0.5
    limit = _ERK_STIFF_LIMIT[_LN_DOPRI5]
    work = np.empty((_ERK_NV, L, N_STATES))
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
            u0(wl[ln], work[_ERK_Y, ln])
            ok = True
            for s in range(N_STATES):
                ok = ok and math.isfinite(work[_ERK_Y, ln, s])
            for j in range(N_OUTPUTS):
                sq[ln, j] = 0.0
            k = 0  # entry rows (t_eval[k] <= t0) from the initial state
            while ok and k < n_t and t_eval[k] <= t0:
                out(t_eval[k], work[_ERK_Y, ln], wl[ln], o[ln])
                for j in range(N_OUTPUTS):
                    r = o[ln, j] - data[k, j]
                    sq[ln, j] += r * r
                k += 1
            if ok and k >= n_t:
                costs[i], statuses[i] = _bt_cost(x, sq[ln], n_t, cost)
                continue
            if ok:
                rhs(t0, work[_ERK_Y, ln], wl[ln], work[_ERK_K1, ln])
                for s in range(N_STATES):
                    ok = ok and math.isfinite(work[_ERK_K1, ln, s])
            if not ok:
                redo[i - lo] = True
                continue
            y0, f0, y1, f1 = (
                work[_ERK_Y, ln],
                work[_ERK_K1, ln],
                work[_ERK_YT, ln],
                work[_ERK_K1 + 1, ln],
            )
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
        # --- stages 2..7 for every busy lane (the stage order of _erk_step) -----------------
        _ln_stage(work, row, t, hh, wl, 2)
        _ln_stage(work, row, t, hh, wl, 3)
        _ln_stage(work, row, t, hh, wl, 4)
        _ln_stage(work, row, t, hh, wl, 5)
        _ln_stage(work, row, t, hh, wl, 6)
        _ln_stage(work, row, t, hh, wl, 7)
        # --- error norm and controller for every busy lane --------------------------------
        for ln in range(L):
            if row[ln] >= 0:
                err = _erk_error(work, ln, _LN_DOPRI5, hh[ln], rtol, atol, sqrt_n)
                good[ln], h[ln] = _erk_control(err, hh[ln], rej[ln])
                nst[ln] += 1
        # --- rejected: next trial; accepted: data rows, stiffness test, next step ----------
        for ln in range(L):
            if row[ln] < 0:
                continue
            hl = hh[ln]
            tl = t[ln]
            if not good[ln]:
                rej[ln] = True
                ms[ln] = _erk_floor(tl, h[ln], ms[ln])
                if nst[ln] >= max_steps or h[ln] < ms[ln]:  # fails: the scalar path says how
                    redo[row[ln] - lo] = True
                    row[ln] = -1
                    n_idle += 1
                    continue
                tn[ln], hh[ln] = _erk_clip(tl, h[ln], t_end)
                continue
            t_new = tn[ln]
            k = kk[ln]
            if k < n_t and t_eval[k] <= t_new:  # dense output; data rows in (t, t_new]
                _erk_dense(work, ln, _LN_DOPRI5, hl)
                inv_h = 1.0 / hl
                while k < n_t:
                    tk = t_eval[k]
                    if tk > t_new:
                        break
                    _erk_interpolate(work, ln, (tk - tl) * inv_h)
                    out(tk, borrowed_row(work, _ERK_YT, ln), wl[ln], o[ln])
                    for j in range(N_OUTPUTS):
                        r = o[ln, j] - data[k, j]
                        sq[ln, j] += r * r
                    k += 1
                kk[ln] = k
            if detect:  # Hairer's stiffness test, as _erk_advance
                nstiff[ln], nnon[ln] = _erk_stiffness(
                    work, ln, hl, rtol, atol, limit, nstiff[ln], nnon[ln]
                )
            t[ln] = t_new
            _erk_accept(work, ln)
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
