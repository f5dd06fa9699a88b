"""`stop` roots and `reset` (diffsl-reference.md Sec. 8.3).

References: closed forms (free fall: root at sqrt(2 h / g); periodic logistic with reset:
period ln(81) / r) and the corpus oracle (``../shared/diffsl_corpus/models.json``: pydiffsol
0.6.2, BDF, rtol 1e-8, atol 1e-10). The models are the corpus models compiled with
``compile_model`` (shared with ``test_corpus.py``; skipped until the compiler is available).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _solver_models import corpus_cases, corpus_model

from diffid_plugins.solvers import Status, solve

T_IMPACT = math.sqrt(2 * 10.0 / 9.81)  # free fall from 10 m


def _oracle(model_id: str) -> dict[str, Any]:
    return corpus_cases()[model_id]


def ball_reset() -> Any:
    return corpus_model("bouncing_ball_reset")


def logistic_hybrid() -> Any:
    return corpus_model("hybrid_logistic_reset")


def logistic_model_index() -> Any:
    return corpus_model("logistic_model_index")


def _assert_oracle_close(got: np.ndarray, want: np.ndarray, rel: float = 1e-6) -> None:
    """Relative error with the scale max(|y|, 1e-3 max|y|) per output (issue 3 metric)."""
    scale = np.maximum(np.abs(want), 1e-3 * np.abs(want).max(axis=0, keepdims=True))
    err = np.abs(got - want) / np.where(scale > 0, scale, 1.0)
    assert err.max() < rel, err.max()


@pytest.fixture(scope="module")
def ball() -> Any:
    return corpus_model("bouncing_ball_stop")


@pytest.mark.parametrize("method", ["dopri5", "tsit5", "rodas5p", "auto"])
def test_stop_ends_at_the_root(ball: Any, method: str) -> None:
    sol = solve(ball, None, [0.5, 1.0, 1.5, 2.0], method=method, rtol=1e-8, atol=1e-10)
    assert sol.success and sol.status == Status.ROOT == 1
    assert "stop" in sol.message
    # Rows: the requested times before the root, then the root itself (as the reference).
    np.testing.assert_array_equal(sol.t[:2], [0.5, 1.0])
    assert sol.t.shape == (3,) and sol.y.shape == (3, 2)
    assert abs(sol.t_root - T_IMPACT) < 1e-10 * T_IMPACT
    assert sol.t[-1] == sol.t_root and sol.root_index == 0
    assert abs(sol.y[-1, 0]) < 1e-9  # position at the root
    assert abs(sol.y[-1, 1] + 9.81 * T_IMPACT) < 1e-7  # velocity -g t
    np.testing.assert_allclose(sol.y[0], [10 - 9.81 / 8, -9.81 / 2], rtol=1e-8)
    assert sol.stats["n_roots"] == 1


def test_stop_matches_the_oracle_solve_to_5(ball: Any) -> None:
    oracle = _oracle("bouncing_ball_stop")["oracle"]
    sol = solve(ball, None, [5.0], rtol=1e-8, atol=1e-10)
    assert sol.t.shape == (1,)  # no requested time before the root: only the root row
    assert abs(sol.t[0] - oracle["solve5_last_t"]) < 1e-9
    np.testing.assert_allclose(sol.y[0], oracle["solve5_last_y"], atol=1e-8)


def test_reset_bouncing_ball_matches_oracle() -> None:
    case = _oracle("bouncing_ball_reset")
    model = ball_reset()
    sol = solve(model, None, case["t_eval"], rtol=1e-8, atol=1e-10)
    assert sol.success and sol.status == Status.DONE
    assert sol.stats["n_roots"] == 2  # bounces at 1.428 and 3.713 before t = 4
    _assert_oracle_close(sol.y, np.array(case["oracle"]["ys"]).T)
    end = solve(model, None, [5.0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(end.y[0], case["oracle"]["solve5_last_y"], rtol=1e-6)


def test_reset_bounce_times_closed_form() -> None:
    # Each bounce keeps 0.8 of the speed: flight times 2 * 0.8^k * v1 / g after the first.
    sol = solve(ball_reset(), None, [10.0], rtol=1e-10, atol=1e-12)
    v1 = 9.81 * T_IMPACT
    t, n = T_IMPACT, 1
    while True:
        flight = 2 * 0.8**n * v1 / 9.81
        if t + flight > 10.0:
            break
        t, n = t + flight, n + 1
    assert sol.stats["n_roots"] == n
    v = 0.8**n * v1  # upward speed after the last bounce at time t
    tau = 10.0 - t
    np.testing.assert_allclose(sol.y[0], [v * tau - 4.905 * tau**2, v - 9.81 * tau], atol=1e-6)


def test_periodic_logistic_with_reset_closed_form() -> None:
    case = _oracle("hybrid_logistic_reset")
    r = case["params"][0]
    t = np.array(case["t_eval"])
    sol = solve(logistic_hybrid(), [r], t, rtol=1e-10, atol=1e-12)
    period = math.log(81.0) / r  # 0.1 -> 0.9 takes ln(81) / r
    tau = np.mod(t, period)
    exact = 1.0 / (1.0 + 9.0 * np.exp(-r * tau))
    np.testing.assert_allclose(sol.y[:, 0], exact, rtol=1e-7)
    assert sol.stats["n_roots"] == int(t[-1] // period)
    _assert_oracle_close(sol.y, np.array(case["oracle"]["ys"]).T)


def test_model_index_selects_rate_and_reset() -> None:
    case = _oracle("logistic_model_index")
    model = logistic_model_index()
    sol = solve(model, case["params"], case["t_eval"], rtol=1e-8, atol=1e-10)
    assert sol.stats["n_roots"] == 3  # component i fires at t = 0.5 i, and N becomes i
    _assert_oracle_close(sol.y, np.array(case["oracle"]["ys"]).T)
    end = solve(model, case["params"], [5.0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(end.y[0], case["oracle"]["solve5_last_y"], rtol=1e-6)


def test_zero_at_segment_start_is_not_a_root() -> None:
    # Starting at t0 = 0.5, stop component 1 (t - 0.5) is exactly 0: not a root. Only the
    # components at t = 1 and t = 1.5 fire.
    sol = solve(logistic_model_index(), [1.0], [2.0], t0=0.5, rtol=1e-8, atol=1e-10)
    assert sol.success and sol.stats["n_roots"] == 2


def test_exact_zero_at_step_end_is_a_root() -> None:
    # The last step is clipped to t = 1.0, where t - 1.0 is exactly 0: a root, so N := 2 and
    # the reset applies at t = 1.0. The row at t = 1.0 holds the state just before the event
    # (pydiffsol's convention): the logistic with rate a[1] = 1 from 0.18 at t = 0.5.
    model = logistic_model_index()
    sol = solve(model, [1.0], [1.0], rtol=1e-10, atol=1e-12)
    assert sol.stats["n_roots"] == 2
    before = 1.0 / (1.0 + (1.0 / 0.18 - 1.0) * math.exp(-0.5))
    np.testing.assert_allclose(sol.y[0, 0], before, rtol=1e-8)
    after = solve(model, [1.0], [1.0, 1.0 + 1e-12], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(after.y[1, 0], 1.2 * 0.2, rtol=1e-9)  # reset b[2] * 0.2


def test_illinois_root_location_picks_the_earliest_crossing() -> None:
    # _ev_find_root on one "step" (0, 2) where three components cross (t = 0.5, 1, 1.5):
    # the first crossing, component 1 at t = 0.5, is reported to round-off.
    model = logistic_model_index()
    find_root = model.kernels.entry("_ev_find_root")  # the serving tier's helper
    w = model.workspace()
    Q = np.array([[0.3]])  # noqa: N806  (constant state; stop depends only on t)
    g_lo = np.ascontiguousarray(model.stop(None, 0.0, Q[0]))
    g_hi = np.ascontiguousarray(model.stop(None, 2.0, Q[0]))
    idx, t_root = find_root(w, 0.0, 2.0, Q, 1, g_lo, g_hi, np.zeros(4), np.zeros(1))
    assert idx == 1 and abs(t_root - 0.5) < 1e-12 and t_root >= 0.5
    no_root, t_end = find_root(w, 0.0, 0.25, Q, 1, g_lo, g_lo, np.zeros(4), np.zeros(1))
    assert no_root == -1 and t_end == 0.25


def test_output_time_exactly_at_a_reset_gets_the_state_before_it() -> None:
    # pydiffsol 0.6.2 convention (checked against it: at t = 6.0, where the dose of 1000
    # is added, solve_dense returns the amount before the dose, 429.32).
    case = _oracle("pk_tdose_pydiffsol")
    eps = 1e-7
    t = np.array([6.0 - eps, 6.0, 6.0 + eps])
    sol = solve(corpus_model("pk_tdose_pydiffsol"), case["params"], t, rtol=1e-10, atol=1e-8)
    before, at, after = sol.y[:, 0]
    assert abs(at - before) < 1e-3 and abs(after - at - 1000.0) < 1e-3
    np.testing.assert_allclose(at, 429.3226053, rtol=1e-7)
