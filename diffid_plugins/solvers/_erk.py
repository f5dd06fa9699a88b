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

The step is written once, for this module's scalar kernel and the lane kernel of
``problem/_lanes.py``: small ``inline="always"`` helpers (``_erk_dot``, ``_erk_stage``,
``_erk_error``, ``_erk_dense``, ``_erk_interpolate``, ``_erk_stiffness``, ``_erk_accept``,
``_erk_floor``, ``_erk_clip``) act on one lane ``ln`` of a work array indexed
``(vector, lane, state)`` (rows ``_ERK_Y``, ``_ERK_K1``.., see below; the scalar kernel uses
one lane). Their coefficients are one matrix per tableau (``_ERK_W``: a, b, e and the dense
output), built from the validated tableaus of ``_tableaus.py`` and frozen by numba as
read-only constants; the stage index is a constant at every call, so LLVM folds the
coefficient loads and the stage's sum shape. The callers keep their own control flow:
``_erk_advance`` (output rows, events, counters, the stiffness switch) and its trial loop
``_erk_step``; ``_erk_record_steps`` (step times for the scipy parity tests, outside the
production kernel); ``_ln_chunk`` (lane scheduling). Hairer's starting step is shared with
Rodas5P (``_erk_hairer_h0``, ``_erk_hairer_probe``, ``_erk_hairer_step``). The model kernels
get borrowed rows of ``work`` (``_views.borrowed_row``) and ``_erk_advance`` hands its helpers
borrowed arrays, so that no reference counting is left in the step where the generic tier
cannot optimise it away (``docs/kernel-contract.md``, performance notes).

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
from diffid_plugins.solvers._views import borrowed, borrowed_row

__all__ = ["_erk_advance", "_erk_initial_step", "_erk_record_steps"]

_ERK_TABLEAUS = (_ERK_DOPRI5, _ERK_TSIT5)  # index = the kernels' ``tableau`` argument
_ERK_NQ = 5  # interpolant coefficients: degree 4 in theta
# Rows of one coefficient matrix per tableau, _ERK_W[tableau, row, stage]: the stage matrix a
# (row i: the argument of stage i + 1), the propagating weights b, the error weights e, then
# the dense-output columns (row _ERK_ROW_P + j: the coefficients of theta^(j + 1)).
_ERK_ROW_B = 7
_ERK_ROW_E = 8
_ERK_ROW_P = 9


def _erk_coefficients() -> tuple[np.ndarray, np.ndarray]:
    """``(W, C)``: the coefficient matrices (2, 13, 7) and nodes (2, 7) of both tableaus,
    C-contiguous float64 (numba freezes global arrays as read-only constants)."""
    w = np.zeros((len(_ERK_TABLEAUS), _ERK_ROW_P + _ERK_NQ - 1, 7))
    c = np.zeros((len(_ERK_TABLEAUS), 7))
    for i, tab in enumerate(_ERK_TABLEAUS):
        # The kernels unroll 7 stages, evaluate stages 6 and 7 at t + h (so c = 1 there, and
        # the 7th stage is F(t + h, y_new): FSAL) and write the theta^1 coefficient of the
        # dense output as h k1 (y' = f at theta = 0).
        dense = tab.dense
        if not (
            tab.n_stages == 7
            and tab.fsal
            and tab.c[5] == tab.c[6] == 1.0
            and dense.shape[1] == _ERK_NQ - 1
            and dense[0, 0] == 1.0
            and not dense[1:, 0].any()
        ):
            raise RuntimeError(f"internal: {tab.name} does not fit the unrolled ERK kernels")
        w[i, :7] = tab.a
        w[i, _ERK_ROW_B] = tab.b
        w[i, _ERK_ROW_E] = tab.e
        w[i, _ERK_ROW_P:] = dense.T
        c[i] = tab.c
    return np.ascontiguousarray(w), np.ascontiguousarray(c)


_ERK_W, _ERK_C = _erk_coefficients()
_ERK_STIFF_LIMIT = (_ERK_DOPRI5.stability_limit, _ERK_TSIT5.stability_limit)
# Rows of the work array (vector, lane, state) of the scalar kernel (one lane) and of the lane
# kernel (problem/_lanes.py): state, stages k1..k7, stage argument, 6th stage argument, new
# state, then the interpolant coefficients Q0..Q4.
_ERK_Y, _ERK_K1, _ERK_YT, _ERK_Y6, _ERK_YN, _ERK_Q = 0, 1, 8, 9, 10, 11
_ERK_NV = _ERK_Q + _ERK_NQ
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


# --- Hairer's starting step, the parts shared with Rodas5P (_ros_kernels._ros_initial_step) --
@njit(cache=True, error_model="numpy")
def _erk_hairer_h0(d0, d1, span):
    """First guess ``h0`` from the norms ``d0 = |y0|``, ``d1 = |y0'|``, at most ``span``."""
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    return min(h0, span)


@njit(cache=True, error_model="numpy")
def _erk_hairer_probe(w, t, y, v, h0, y1, f1, stats):
    """The explicit Euler probe: ``y1 = y + h0 v`` and ``f1 = F(t + h0, y1)`` (one right-hand
    side evaluation, counted; ``v`` may be ``y1`` itself)."""
    for i in range(N_STATES):
        y1[i] = y[i] + h0 * v[i]
    rhs(t + h0, y1, w, f1)
    stats[STAT_NRHS] += 1


@njit(cache=True, error_model="numpy")
def _erk_hairer_step(h0, d1, d2, span, exponent):
    """The starting step from ``h0``, ``d1`` and ``d2 = |f1 - f0| / h0``: ``min(100 h0,
    (0.01 / max(d1, d2))**exponent, span)`` (``exponent`` = 1 / (order + 1)); ``h0`` when
    the probe left the domain (``d2`` not finite)."""
    if not math.isfinite(d2):
        return h0
    dmax = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** exponent
    return min(100.0 * h0, h1, span)


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
    h0 = _erk_hairer_h0(d0, d1, interval)
    _erk_hairer_probe(w, t0, y0, f0, h0, y1, f1, stats)
    d2 = 0.0
    for i in range(N_STATES):
        sc = atol[i] + abs(y0[i]) * rtol
        x2 = (f1[i] - f0[i]) / sc
        d2 = _erk_fma(x2, x2, d2)
    d2 = math.sqrt(d2) / sqrt_n / h0
    return _erk_hairer_step(h0, d1, d2, interval, 1.0 / 5.0)


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


# --- the step, written once: helpers on the work array (vector, lane, state) ---------------
# Each helper reads and writes rows of ``work`` for one lane ``ln`` (the scalar kernel has
# one lane, 0; the lane kernel four) and is inlined into its caller (``inline="always"``),
# where ``tableau``/``stage`` are constants or loop-invariant values that LLVM folds. No view
# of ``work`` lives across a loop: the per-state loops index ``work[row, ln, s]``, and the
# views handed to the model kernels are made at the call.
@njit(cache=True, error_model="numpy", inline="always")
def _erk_dot(work, ln, s, tableau, row, n, blocked):
    """``sum_{j < n} W[tableau, row, j] k_{j+1}[s]`` for state ``s`` of lane ``ln``.

    ``blocked``: in the order of OpenBLAS ``dgemv`` (what scipy's ``np.dot(K.T, a)`` runs;
    ``_erk_advance``, "Floating-point order"): with n >= 4 columns, ``fma(k1, w0, k2 w1) +
    fma(k3, w2, k4 w3)`` first, then a chain ``d = fma(k_j, w_j, d)`` over the remaining
    columns; otherwise (and for the dense output) the chain from ``k1 w0``.
    """
    w = _ERK_W
    if blocked and n >= 4:
        d = _erk_fma(
            work[_ERK_K1, ln, s], w[tableau, row, 0], work[_ERK_K1 + 1, ln, s] * w[tableau, row, 1]
        ) + _erk_fma(
            work[_ERK_K1 + 2, ln, s],
            w[tableau, row, 2],
            work[_ERK_K1 + 3, ln, s] * w[tableau, row, 3],
        )
        first = 4
    else:
        d = work[_ERK_K1, ln, s] * w[tableau, row, 0]
        first = 1
    for j in range(first, n):
        d = _erk_fma(work[_ERK_K1 + j, ln, s], w[tableau, row, j], d)
    return d


@njit(cache=True, error_model="numpy", inline="always")
def _erk_stage(work, ln, tableau, stage, t, hh, w):
    """Stage ``stage`` (2..7) of a trial step ``hh`` from ``(t, y)`` on lane ``ln``.

    Writes its argument ``y + hh sum_j a[stage-1, j] k_j`` (row ``_ERK_YT``; ``_ERK_Y6`` for
    stage 6; ``_ERK_YN`` = ``y + hh sum_j b_j k_j`` for stage 7) and then ``k_stage =
    F(t + c hh, argument)`` (stage 7 is the FSAL stage F(t + h, y_new)). ``w`` is the lane's
    model workspace (N_WORK,).
    """
    if stage == 7:
        dst = _ERK_YN
        row = _ERK_ROW_B
    else:
        dst = _ERK_YT if stage < 6 else _ERK_Y6
        row = stage - 1
    for s in range(N_STATES):
        d = _erk_dot(work, ln, s, tableau, row, stage - 1, True)
        work[dst, ln, s] = work[_ERK_Y, ln, s] + d * hh
    # stages 6 and 7 are evaluated at t + h (c = 1, checked at import): no multiply
    t_stage = t + hh if stage >= 6 else t + _ERK_C[tableau, stage - 1] * hh
    k = _ERK_K1 + stage - 1
    rhs(t_stage, borrowed_row(work, dst, ln), w, borrowed_row(work, k, ln))


@njit(cache=True, error_model="numpy", inline="always")
def _erk_error(work, ln, tableau, hh, rtol, atol, sqrt_n):
    """Error norm of the trial step on lane ``ln``, as scipy: the RMS of
    ``(hh sum_j e_j k_j) / (atol + rtol max(|y|, |y_new|))``, i.e. ``sqrt(ddot) / sqrt(n)``
    with ``ddot`` an fma chain; ``sqrt_n`` = sqrt(N_STATES)."""
    acc = 0.0
    for s in range(N_STATES):
        sc = atol[s] + max(abs(work[_ERK_Y, ln, s]), abs(work[_ERK_YN, ln, s])) * rtol
        x = _erk_dot(work, ln, s, tableau, _ERK_ROW_E, 7, True) * hh / sc
        acc = _erk_fma(x, x, acc)
    return math.sqrt(acc) / sqrt_n


@njit(cache=True, error_model="numpy", inline="always")
def _erk_dense(work, ln, tableau, hh):
    """Interpolant of the accepted step on lane ``ln``: ``Q0 = y``, ``Q1 = hh k1`` and
    ``Q[j+1] = hh sum_i dense[i, j] k_i`` (j = 1..3), into rows ``_ERK_Q..``."""
    for s in range(N_STATES):
        work[_ERK_Q, ln, s] = work[_ERK_Y, ln, s]
        work[_ERK_Q + 1, ln, s] = hh * work[_ERK_K1, ln, s]  # dense[:, 0] is (1, 0, ..., 0)
        for j in range(1, _ERK_NQ - 1):
            d = _erk_dot(work, ln, s, tableau, _ERK_ROW_P + j, 7, False)
            work[_ERK_Q + j + 1, ln, s] = hh * d


@njit(cache=True, error_model="numpy", inline="always")
def _erk_interpolate(work, ln, theta):
    """The state at ``t + theta hh`` on lane ``ln`` (Horner, fma), into row ``_ERK_YT``."""
    for s in range(N_STATES):
        q = _erk_fma(theta, work[_ERK_Q + 4, ln, s], work[_ERK_Q + 3, ln, s])
        q = _erk_fma(theta, q, work[_ERK_Q + 2, ln, s])
        q = _erk_fma(theta, q, work[_ERK_Q + 1, ln, s])
        work[_ERK_YT, ln, s] = _erk_fma(theta, q, work[_ERK_Q, ln, s])


@njit(cache=True, error_model="numpy", inline="always")
def _erk_stiffness(work, ln, hh, rtol, atol, limit, n_stiff, n_nonstiff):
    """Hairer's stiffness test (dopri5.f) after an accepted step on lane ``ln``:
    ``hh |k7 - k6| / |y_new - y6| > limit``, norms weighted by ``atol + rtol |y_new|`` (so a
    stiff small component counts). Returns the updated ``(n_stiff, n_nonstiff)`` counts."""
    num = 0.0
    den = 0.0
    for s in range(N_STATES):
        sc = atol[s] + rtol * abs(work[_ERK_YN, ln, s])
        num += ((work[_ERK_K1 + 6, ln, s] - work[_ERK_K1 + 5, ln, s]) / sc) ** 2
        den += ((work[_ERK_YN, ln, s] - work[_ERK_Y6, ln, s]) / sc) ** 2
    if den > 0.0 and hh * math.sqrt(num / den) > limit:
        return n_stiff + 1, 0
    n_nonstiff += 1
    return (0 if n_nonstiff == _ERK_NNONSTIFF else n_stiff), n_nonstiff


@njit(cache=True, error_model="numpy", inline="always")
def _erk_accept(work, ln):
    """Move lane ``ln`` to the end of its accepted step: ``y = y_new``, ``k1 = k7`` (FSAL)."""
    for s in range(N_STATES):
        work[_ERK_Y, ln, s] = work[_ERK_YN, ln, s]
        work[_ERK_K1, ln, s] = work[_ERK_K1 + 6, ln, s]


@njit(cache=True, error_model="numpy", inline="always")
def _erk_floor(t, h, min_step):
    """The step-size floor at ``t``: 10 ulp(t) when ``h`` is that small, else ``min_step``
    (ulp(t) <= eps |t|, so the exact value is only needed then: saves a libm call a step)."""
    if h < 10.0 * _ERK_EPS * abs(t) + 1e-300:
        return 10.0 * (np.nextafter(t, np.inf) - t)
    return min_step


@njit(cache=True, error_model="numpy", inline="always")
def _erk_clip(t, h, t_end):
    """``(t_new, hh)``: the trial end ``t + h`` clipped to ``t_end``, and the trial step."""
    t_new = t + h
    if t_new > t_end:
        t_new = t_end
    return t_new, t_new - t


@njit(cache=True, error_model="numpy", inline="always")
def _erk_step(work, tableau, t, h, t_end, w, rtol, atol, sqrt_n, budget):
    """Trial steps from ``(t, y)`` (lane 0) until one is accepted (scipy ``RK45._step_impl``).

    ``h`` is the proposed step, raised to the floor of ``_erk_floor``; ``budget`` the number
    of trials allowed. Returns ``(status, t_new, hh, h, n_trials)``: ``STATUS_DONE`` with the
    accepted step ``hh`` ending at ``t_new`` (its stages, ``y_new`` and error in ``work``),
    the next proposed step ``h`` and the trials taken (accepted one included); or
    ``STATUS_MAX_STEPS``, ``STATUS_STEP_TOO_SMALL``, ``STATUS_NONFINITE``.
    """
    min_step = _erk_floor(t, h, 0.0)
    if h < min_step:
        h = min_step
    rejected = False
    nonfinite = False
    n_trials = 0
    while True:
        if n_trials >= budget:
            return STATUS_MAX_STEPS, t, 0.0, h, n_trials
        if h < min_step:
            return (STATUS_NONFINITE if nonfinite else STATUS_STEP_TOO_SMALL), t, 0.0, h, n_trials
        t_new, hh = _erk_clip(t, h, t_end)
        _erk_stage(work, 0, tableau, 2, t, hh, w)  # stages as constants: LLVM folds them
        _erk_stage(work, 0, tableau, 3, t, hh, w)
        _erk_stage(work, 0, tableau, 4, t, hh, w)
        _erk_stage(work, 0, tableau, 5, t, hh, w)
        _erk_stage(work, 0, tableau, 6, t, hh, w)
        _erk_stage(work, 0, tableau, 7, t, hh, w)
        err = _erk_error(work, 0, tableau, hh, rtol, atol, sqrt_n)
        n_trials += 1
        accepted, h = _erk_control(err, hh, rejected)
        if accepted:
            return STATUS_DONE, t_new, hh, h, n_trials
        rejected = True
        nonfinite = not math.isfinite(err)
        min_step = _erk_floor(t, h, min_step)


@njit(cache=True, error_model="numpy")
def _erk_advance(
    w, t, y, h, t_eval, rtol, atol, max_steps, ys, us, ts, stats, tableau, detect_stiff
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
    The step itself (stages, error norm, dense output, interpolant, stiffness test) is the
    inlined helpers above, shared with the lane kernel (``problem/_lanes.py``); this function
    owns the control flow: output rows, events, counters, the stiffness switch. The work
    vectors are rows of one array ``(vector, 1, N_STATES)`` (the state is copied in and out):
    LLVM then knows that they do not overlap, forwards stored stage values in registers
    instead of reloading them after every store, and the serial chain of a step (stage after
    stage, then the controller) gets shorter: 19 % less time per solve than with one
    ``np.empty`` per vector (Lotka-Volterra, 500 outputs). The dense-output coefficients and
    the interpolant (Horner) are fma chains: fewer instructions next to the latency-bound
    step chain (another 9 %).

    Floating-point order. The error estimate ``h sum_j e_j k_j`` is a sum of terms up to 1e8
    times larger than itself (median 4e4 on Lotka-Volterra), so rounding its terms one ulp
    differently changes it by thousands of ulps (~1e-12 relative, up to 1e-8), the step
    factor by a fifth of that, and after a few hundred steps the step times differ from
    scipy's by ~1e-11 relative.
    To take *exactly* scipy's steps, the stage, solution and error sums are evaluated as
    scipy's ``np.dot`` evaluates them through OpenBLAS (0.3.x ``dgemv_n`` for 2 or 3 rows,
    Haswell/SkylakeX/Zen kernels, compiled with FMA contraction): columns in blocks of four,
    ``fma(k0, a0, k1 a1) + fma(k2, a2, k3 a3)``, then a chain ``s = fma(k_j, a_j, s)`` over
    the remaining columns (``_erk_dot``); the RMS norm is ``sqrt(ddot(x, x)) / sqrt(n)`` with
    ``ddot`` an fma chain (OpenBLAS ``ddot`` for n < 16), and the step factor uses ``pow``.
    With these, DOPRI5 reproduces scipy ``RK45`` bit for bit on 2- and 3-state problems on
    such machines; for other sizes OpenBLAS uses vector kernels with other orders, and the
    agreement is to round-off (~1e-11 relative in the step times). Tsit5 shares the code
    path. Each fused multiply-add is one instruction on x86-64 with FMA, as cheap as the
    multiply and add it replaces.
    """
    n_t = t_eval.shape[0]
    _ev_write_entry(w, t, y, t_eval, ys, us, ts, stats)
    if stats[STAT_K] >= n_t:
        return STATUS_DONE, t, h
    t_end = t_eval[n_t - 1]
    # One allocation for all work vectors: rows of one array at constant offsets, so that
    # LLVM can prove that they do not overlap and keep stage values in registers. The step's
    # helpers get borrowed arrays (no reference counting, _views.py); `owner` stays alive to
    # the end, where the state is copied back from it.
    owner = np.empty((_ERK_NV, 1, N_STATES))
    work = borrowed(owner)
    w = borrowed(w)
    atol = borrowed(atol)
    o = np.empty(max(N_OUTPUTS, 1))
    n_g = max(N_STOP, 1)
    g_lo = np.zeros(n_g)
    g_hi = np.zeros(n_g)
    g_tmp = np.zeros(n_g)
    for i in range(N_STATES):
        work[_ERK_Y, 0, i] = y[i]
    rhs(t, y, w, work[_ERK_K1, 0])
    stats[STAT_NRHS] += 1
    for i in range(N_STATES):
        if not (math.isfinite(y[i]) and math.isfinite(work[_ERK_K1, 0, i])):
            return STATUS_NONFINITE, t, h
    if N_STOP > 0:
        stop(t, y, w, g_lo)
    if h <= 0.0:
        h = _erk_initial_step(
            w,
            t,
            y,
            work[_ERK_K1, 0],
            t_end,
            rtol,
            atol,
            work[_ERK_YT, 0],
            work[_ERK_K1 + 1, 0],
            stats,
        )
    limit = _ERK_STIFF_LIMIT[0] if tableau == 0 else _ERK_STIFF_LIMIT[1]
    sqrt_n = float(N_STATES) ** 0.5
    n_stiff = 0
    n_nonstiff = 0
    # Counters live in locals during the loop (stores to `stats` could alias the output
    # arrays and would be re-read every step) and are written back on every return.
    k = stats[STAT_K]
    n_trials = 0
    n_acc = 0
    steps_left = max_steps - stats[STAT_NACC] - stats[STAT_NREJ]
    status = STATUS_DONE
    while True:
        status, t_new, hh, h, n = _erk_step(
            work, tableau, t, h, t_end, w, rtol, atol, sqrt_n, steps_left - n_trials
        )
        n_trials += n
        if status != STATUS_DONE:
            break
        n_acc += 1
        # --- dense output (only when a row or a root needs it) -------------------------------
        need_rows = k < n_t and t_eval[k] <= t_new
        if N_STOP > 0:
            stop(t_new, borrowed_row(work, _ERK_YN, 0), w, g_hi)
            if _ev_has_root(g_lo, g_hi):
                need_rows = True
        if need_rows:
            _erk_dense(work, 0, tableau, hh)
        # --- events: stop roots on the dense output (rare path: helpers) ---------------------
        t_hi = t_new
        idx = -1
        if N_STOP > 0:
            if _ev_has_root(g_lo, g_hi):
                Q = work[_ERK_Q : _ERK_Q + _ERK_NQ, 0]  # noqa: N806
                idx, t_hi = _ev_find_root(
                    w, t, hh, Q, _ERK_NQ, g_lo, g_hi, g_tmp, work[_ERK_Y6, 0]
                )
            for i in range(n_g):
                g_lo[i] = g_hi[i]
        # --- output rows in (t, t_hi] (before a root: in (t, t_root)) ------------------------
        inv_h = 1.0 / hh
        while k < n_t:
            tk = t_eval[k]
            if tk > t_hi or (idx >= 0 and tk >= t_hi):
                break
            _erk_interpolate(work, 0, (tk - t) * inv_h)
            out(tk, borrowed_row(work, _ERK_YT, 0), w, o)
            for j in range(N_OUTPUTS):
                ys[k, j] = o[j]
            for i in range(N_STATES):
                us[k, i] = work[_ERK_YT, 0, i]
            ts[k] = tk
            k += 1
        if idx >= 0:  # the root's state (_ev_find_root wrote it into row y6)
            for i in range(N_STATES):
                work[_ERK_Y, 0, i] = work[_ERK_Y6, 0, i]
            stats[STAT_ROOT] = idx
            stats[STAT_NROOTS] += 1
            t = t_hi
            status = STATUS_ROOT
            break
        if detect_stiff:
            n_stiff, n_nonstiff = _erk_stiffness(
                work, 0, hh, rtol, atol, limit, n_stiff, n_nonstiff
            )
        t = t_new
        _erk_accept(work, 0)
        if k >= n_t:
            break
        if detect_stiff and n_stiff >= _ERK_NSTIFF:
            status = STATUS_STIFF
            break
    for i in range(N_STATES):
        y[i] = owner[_ERK_Y, 0, i]
    stats[STAT_K] = k
    stats[STAT_NRHS] += 6 * n_trials
    stats[STAT_NACC] += n_acc
    stats[STAT_NREJ] += n_trials - n_acc
    return status, t, h


@njit(cache=True, error_model="numpy")
def _erk_record_steps(w, t, y, t_end, rtol, atol, max_steps, t_steps, stats, tableau):
    """Integrate to ``t_end`` recording the accepted step times (parity tests with scipy).

    The same steps as ``_erk_advance`` without output rows, events or stiffness test.
    ``t_steps`` (max_steps + 1,) receives t0 and the end of each accepted step; ``y``
    (N_STATES,) the final state. Returns ``(status, n)`` with ``n`` the number of times
    written.
    """
    work = np.empty((_ERK_NV, 1, N_STATES))
    for i in range(N_STATES):
        work[_ERK_Y, 0, i] = y[i]
    rhs(t, y, w, work[_ERK_K1, 0])
    h = _erk_initial_step(
        w, t, y, work[_ERK_K1, 0], t_end, rtol, atol, work[_ERK_YT, 0], work[_ERK_K1 + 1, 0], stats
    )
    sqrt_n = float(N_STATES) ** 0.5
    t_steps[0] = t
    n = 1
    n_trials = 0
    status = STATUS_DONE
    while t < t_end and status == STATUS_DONE:
        status, t_new, _, h, trials = _erk_step(
            work, tableau, t, h, t_end, w, rtol, atol, sqrt_n, max_steps - n_trials
        )
        n_trials += trials
        if status == STATUS_DONE:
            t = t_new
            _erk_accept(work, 0)
            t_steps[n] = t
            n += 1
    for i in range(N_STATES):
        y[i] = work[_ERK_Y, 0, i]
    stats[STAT_NRHS] += 1 + 6 * n_trials
    stats[STAT_NACC] += n - 1
    stats[STAT_NREJ] += n_trials - n + 1
    return status, n
