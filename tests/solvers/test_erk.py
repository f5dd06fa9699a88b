"""DOPRI5 and Tsit5: step-by-step parity with scipy, dense output, order, accuracy, cost.

References: scipy ``solve_ivp(method="RK45")`` (the same Dormand-Prince pair and controller:
the same steps, their times equal up to the summation order of numpy's BLAS, see
``SCIPY_STEP_RTOL``), scipy ``DOP853`` at rtol 1e-13 (a tight reference), and closed-form
solutions (``_solver_models.convergence_exact``).
"""

from __future__ import annotations

import numpy as np
import pytest
from _solver_models import (
    LV_TUTORIAL_P,
    convergence_exact,
    convergence_model,
    lotka_volterra,
)
from scipy.integrate import solve_ivp

from diffid_plugins.solvers import BoundModel, solve

LV_T = np.linspace(0.0, 100.0, 500)

#: Relative tolerance on accepted step times compared with scipy's RK45, whose stage and error
#: sums are ``np.dot`` calls: numpy's OpenBLAS (DYNAMIC_ARCH) picks a kernel per CPU, and the
#: kernels sum in different orders (with or without fused multiply-adds). Where 1e-6 comes from
#: (numbers for the two cases of the test below, LV_TUTORIAL_P first):
#:
#: * Conditioning: the error estimate ``h * sum_j E_j K_j`` is a sum of terms ~1e3-1e5 times
#:   larger than itself (sum |E_j K_j| / |sum E_j K_j|, median over the trial steps 7e4 / 2.5e3,
#:   99th percentile 3e7 / 6e6, worst 5e8 / 1.6e8). A rounding difference of ~1e-16 relative in
#:   its terms is then ~1e-12..1e-11 relative in ``err`` (3e-9 at the 99th percentile, 6e-8 at
#:   the worst step).
#: * Propagation: the step factor ``0.9 err**(-1/5)`` passes a fifth of that to the next step,
#:   and the step times add up ~300 steps. Multiplying ``err`` by ``1 + eps N(0, 1)`` at every
#:   trial step of ``_naive_rk45_steps`` moves the step times by at most 0.6 eps relative, so
#:   even the worst step's 6e-8 at every step would give < 4e-8.
#: * Observed: forcing numpy's OpenBLAS kernel with OPENBLAS_CORETYPE = Prescott, Nehalem,
#:   SandyBridge, Haswell, SkylakeX moves scipy's step times by up to 7.1e-10 / 1.7e-13
#:   relative (ours equal SkylakeX's bit for bit); 200 random orders of every stage and error
#:   sum in ``_naive_rk45_steps`` differ from scipy by at most 8.5e-10 / 2.6e-13. Step and RHS
#:   counts never changed: the trial ``err`` closest to 1 is 0.998 / 0.997 (1.02 / 1.02 above)
#:   and the last step is 0.79 / 0.45 of the proposed one, so a different accept/reject or one
#:   more step needs a ~1e-3 relative change of ``err``, 1e4 times the worst step's rounding.
#:
#: 1e-6 is > 1000x every difference observed and > 25x the bound above, yet far below what a
#: genuine difference in the method gives: in ``_naive_rk45_steps``, a safety factor of 0.9009
#: moves step times by 1.8e-3 / 6.6e-3, an exponent of -0.2002 by 7e-4 / 1.1e-3, the weight
#: B_2 times (1 + 1e-6) by 9e-2 / 4e-5, and E_3 times (1 + 1e-4) changes the step / RHS counts.
SCIPY_STEP_RTOL = 1e-6


@pytest.fixture(scope="module")
def lv() -> BoundModel:
    return lotka_volterra()


@pytest.fixture(scope="module")
def conv() -> BoundModel:
    return convergence_model()


def _lv_fun(p: np.ndarray):  # type: ignore[no-untyped-def]
    a, b, d, g = p

    def fun(t: float, y: np.ndarray) -> list[float]:
        return [a * y[0] - b * y[0] * y[1], d * y[0] * y[1] - g * y[1]]

    return fun


def _record_steps(
    model: BoundModel,
    p: np.ndarray,
    y0: list[float],
    t_end: float,
    rtol: float,
    atol: float,
    tableau: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    k = model.kernels.module
    w = np.zeros(k.N_WORK)
    k.prepare(np.asarray(p, float), 0, w)
    y = np.array(y0, dtype=float)
    t_steps = np.zeros(100_001)
    stats = np.zeros(10, dtype=np.int64)
    atol_arr = np.full(k.N_STATES, atol)
    status, n = k._erk_record_steps(
        w, 0.0, y, t_end, rtol, atol_arr, 100_000, t_steps, stats, tableau
    )
    assert status == 0
    return t_steps[:n], stats


def _naive_rk45_steps(
    fun, y0: list[float], t_end: float, rtol: float, atol: float
) -> tuple[np.ndarray, int]:  # type: ignore[no-untyped-def]
    """scipy ``RK45`` re-stated in plain Python with sequential sums (a naive reference).

    Same tableau (``scipy.integrate.RK45.A/B/C/E``), the same Hairer starting step as
    ``select_initial_step`` and the same controller (safety 0.9, factors 0.2 / 10, exponent
    -1/5, RMS norm of err / (atol + rtol max(|y|, |y_new|))). Only the rounding of the dot
    products differs from scipy (which uses BLAS, with fused multiply-adds).
    """
    from scipy.integrate import RK45

    A, B, C, E = RK45.A, RK45.B, RK45.C, RK45.E  # noqa: N806
    y = np.array(y0, float)
    f = np.asarray(fun(0.0, y), float)
    nfev = 1
    sc = atol + np.abs(y) * rtol
    d0, d1 = np.sqrt(np.mean((y / sc) ** 2)), np.sqrt(np.mean((f / sc) ** 2))
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, t_end)
    f1 = np.asarray(fun(h0, y + h0 * f), float)
    nfev += 1
    d2 = np.sqrt(np.mean(((f1 - f) / sc) ** 2)) / h0
    h1 = max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** 0.2
    h = min(100 * h0, h1, t_end)
    t, ts = 0.0, [0.0]
    while t < t_end:
        rejected = False
        while True:
            t_new = min(t + h, t_end)
            hh = t_new - t
            K = [f]  # noqa: N806
            for s in range(1, 6):
                dy = sum((K[j] * A[s][j] for j in range(1, s)), K[0] * A[s][0])
                K.append(np.asarray(fun(t + C[s] * hh, y + dy * hh), float))
            y_new = y + hh * sum((K[j] * B[j] for j in range(1, 6)), K[0] * B[0])
            K.append(np.asarray(fun(t + hh, y_new), float))
            nfev += 6
            err_vec = sum((K[j] * E[j] for j in range(1, 7)), K[0] * E[0]) * hh
            err = np.sqrt(np.mean((err_vec / (atol + np.maximum(abs(y), abs(y_new)) * rtol)) ** 2))
            if err < 1:
                factor = 10.0 if err == 0 else min(10.0, 0.9 * err**-0.2)
                h = hh * (min(1.0, factor) if rejected else factor)
                break
            h = hh * max(0.2, 0.9 * err**-0.2)
            rejected = True
        t, y, f = t_new, y_new, K[-1]
        ts.append(t)
    return np.array(ts), nfev


def _max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / |b| over the step times after t = 0 (both start exactly at 0)."""
    return float(np.max(np.abs(a[1:] - b[1:]) / np.abs(b[1:])))


@pytest.mark.parametrize(
    ("p", "rtol", "atol"),
    [(LV_TUTORIAL_P, 1e-6, 1e-8), (np.array([1.5, 1.0, 3.0, 1.0]), 1e-4, 1e-7)],
)
def test_dopri5_takes_the_steps_of_scipy_rk45(
    lv: BoundModel, p: np.ndarray, rtol: float, atol: float
) -> None:
    """The same accepted steps as scipy's RK45: the same number of steps and of RHS calls
    (exact), step times within ``SCIPY_STEP_RTOL`` (scipy's sums go through numpy's BLAS,
    whose summation order depends on the CPU; see ``SCIPY_STEP_RTOL`` for the numbers)."""
    ref = solve_ivp(_lv_fun(p), (0.0, 100.0), [10.0, 5.0], method="RK45", rtol=rtol, atol=atol)
    ours, stats = _record_steps(lv, p, [10.0, 5.0], 100.0, rtol, atol)
    # The same algorithm restated in Python with sequential (unfused) sums: another order.
    naive, nfev = _naive_rk45_steps(_lv_fun(p), [10.0, 5.0], 100.0, rtol, atol)
    # Same accepted steps and right-hand side count (incl. the starting-step probe) as scipy.
    assert ours.shape == ref.t.shape, (ours.shape, ref.t.shape)
    assert stats[0] == ref.nfev
    assert naive.shape == ref.t.shape, (naive.shape, ref.t.shape)
    assert nfev == ref.nfev
    # Our stage and error sums are rounded as scipy's np.dot rounds them through OpenBLAS's
    # SkylakeX kernel (fused multiply-adds in dgemv's order, norm = sqrt(ddot) / sqrt(n), pow
    # in the controller: see _erk_advance, "Floating-point order"): with that kernel the step
    # times are bitwise equal to scipy's. Another kernel sums in another order (7.1e-10 with
    # Haswell's); the naive restatement shows the order effect under this machine's kernel
    # (1.4e-11 and 1.7e-13 under SkylakeX's, 6.9e-10 and 1.1e-13 under Haswell's).
    d_ours, d_naive = _max_rel_diff(ours, ref.t), _max_rel_diff(naive, ref.t)
    print(f"max relative step-time difference to scipy: ours {d_ours:.3g}, naive {d_naive:.3g}")
    np.testing.assert_allclose(ours, ref.t, rtol=SCIPY_STEP_RTOL, atol=0)
    np.testing.assert_allclose(naive, ref.t, rtol=SCIPY_STEP_RTOL, atol=0)
    # Ours against the naive restatement: neither goes through BLAS (fixed-order loops in
    # numba; elementwise numpy operations), so this does not depend on the BLAS kernel:
    # 1.4e-11 and 1.7e-13 relative under each OPENBLAS_CORETYPE of SCIPY_STEP_RTOL's notes.
    np.testing.assert_allclose(ours, naive, rtol=1e-10, atol=0)


def test_dopri5_dense_output_matches_scipy_rk45(lv: BoundModel) -> None:
    # Same steps and the same continuous extension (scipy's RkDenseOutput with RK45.P).
    ref = solve_ivp(
        _lv_fun(LV_TUTORIAL_P),
        (0.0, 100.0),
        [10.0, 5.0],
        method="RK45",
        rtol=1e-6,
        atol=1e-8,
        dense_output=True,
    )
    sol = solve(lv, LV_TUTORIAL_P, LV_T, method="dopri5")
    assert sol.success and sol.status == 0
    np.testing.assert_allclose(sol.y, ref.sol(LV_T).T, rtol=1e-9, atol=1e-12)
    assert sol.stats["n_rhs"] == ref.nfev == 2204
    assert sol.stats["n_jac"] == sol.stats["n_lu"] == 0


def test_steps_do_not_depend_on_output_times(lv: BoundModel) -> None:
    # No step clipping at output times: 2 or 500 output times give the same steps.
    few = solve(lv, LV_TUTORIAL_P, [0.0, 100.0], method="tsit5")
    many = solve(lv, LV_TUTORIAL_P, LV_T, method="tsit5")
    for key in ("n_rhs", "n_accepted", "n_rejected"):
        assert few.stats[key] == many.stats[key]
    np.testing.assert_array_equal(few.y[-1], many.y[-1])


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_accuracy_against_tight_reference(lv: BoundModel, method: str) -> None:
    ref = solve_ivp(
        _lv_fun(LV_TUTORIAL_P),
        (0.0, 100.0),
        [10.0, 5.0],
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
        t_eval=LV_T,
    ).y.T
    sol = solve(lv, LV_TUTORIAL_P, LV_T, method=method, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.t, LV_T)
    err = np.abs(sol.y - ref).max()
    assert err < 1e-7, err
    assert sol.stats["n_accepted"] < 2500


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_closed_form_and_tolerance_proportionality(conv: BoundModel, method: str) -> None:
    t = np.linspace(0.0, 10.0, 41)
    errors = []
    for tol in (1e-5, 1e-8):
        sol = solve(conv, None, t, method=method, rtol=tol, atol=tol)
        errors.append(np.abs(sol.y - convergence_exact(t)).max())
        assert errors[-1] < 50 * tol
    assert errors[1] < errors[0] / 100  # error shrinks with the tolerance


@pytest.mark.parametrize(("tableau", "name"), [(0, "dopri5"), (1, "tsit5")])
def test_fixed_step_order_is_five(conv: BoundModel, tableau: int, name: str) -> None:
    """Global error at t = 4 with N equal steps, each step taken through the resumable
    ``_erk_advance`` (one call per step, tolerances so loose that every step is accepted and
    the step ends exactly at the requested time); regress log error on log h."""
    k = conv.kernels.module
    T = 4.0
    n_steps = np.array([40, 56, 80, 112, 160])  # asymptotic range; errors 1e-8 .. 1e-12
    errors = []
    for n in n_steps:
        w = np.zeros(k.N_WORK)
        k.prepare(np.zeros(0), 0, w)
        y = np.array([0.1, 1.0, 1.0, 0.0])
        h = T / n
        stats = np.zeros(10, dtype=np.int64)
        for j in range(n):
            stats[5] = 0  # STAT_K: one output row per call
            out = (np.zeros((1, 4)), np.zeros((1, 4)), np.zeros(1))
            # h * (1 + 1e-9): the step is clipped to end exactly at the requested time.
            status, _, _ = k._erk_advance(
                w,
                j * h,
                y,
                h * (1 + 1e-9),
                np.array([(j + 1) * h]),
                1e6,
                np.full(4, 1e6),
                10**6,
                *out,
                stats,
                tableau,
                False,
            )
            assert status == 0
        assert stats[3] == n and stats[4] == 0  # n accepted steps, none rejected
        errors.append(np.abs(y - convergence_exact(np.array([T]))[0]).max())
    slope = np.polyfit(np.log(T / n_steps), np.log(errors), 1)[0]
    print(f"{name}: observed order {slope:.3f}")
    assert abs(slope - 5.0) < 0.3, (name, slope, errors)


def test_output_rows_at_start_duplicates_and_end(lv: BoundModel) -> None:
    t = np.array([0.0, 0.0, 3.0, 3.0, 7.5, 100.0])
    sol = solve(lv, LV_TUTORIAL_P, t, method="dopri5")
    np.testing.assert_array_equal(sol.t, t)
    np.testing.assert_array_equal(sol.y[0], [10.0, 5.0])
    np.testing.assert_array_equal(sol.y[2], sol.y[3])
    np.testing.assert_array_equal(sol.states, sol.y)  # no `out`: outputs are the states


def test_t0_shifts_the_start(lv: BoundModel) -> None:
    a = solve(lv, LV_TUTORIAL_P, [1.0, 5.0], t0=1.0)
    b = solve(lv, LV_TUTORIAL_P, [0.0, 4.0])
    np.testing.assert_allclose(a.y, b.y, rtol=1e-12)  # autonomous: time-shift invariant
