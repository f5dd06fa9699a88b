"""``Problem.evaluate_batch_per_output``: the cost restricted to each model output.

References: a two-output model with a closed-form solution (``x = a t``, ``y = b t``: an
explicit Runge-Kutta method integrates a constant right-hand side exactly, up to rounding) fit
to zero data, so ``S_x = a^2 sum t^2`` and ``S_y = b^2 sum t^2`` and every cost's per-output
value has a closed form (the formulas of ``Problem.evaluate_batch_per_output``); and our own
``evaluate_batch`` for the sums. Where a sum is compared exactly, the kernel adds the same
products in the same order (one term of weight 1), so the comparison does not depend on this
machine's summation order: the test adds the columns left to right in Python.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffid_plugins import Problem, compile_model
from diffid_plugins.examples import TUTORIAL_TRUE
from diffid_plugins.problem import RMSE, SSE, GaussianNLL, ProblemError, status_name

RAMPS = "in_i { a = 1, b = 2 }\nu_i { x = 0, y = 0 }\nF_i { a, b }\n"
"""x' = a, y' = b from 0: x = a t, y = b t (two outputs, the states)."""

T = np.linspace(0.0, 2.0, 9)
FAILING = np.array([1.1, -0.4, 0.1, 0.4])  # b < 0: the prey explodes (STEP_TOO_SMALL)


def _left_to_right(values: np.ndarray) -> np.ndarray:
    """Row sums added left to right from 0.0 (the kernel's order), independent of numpy."""
    out = []
    for row in values:
        total = 0.0
        for v in row:
            total += float(v)
        out.append(total)
    return np.array(out)


@pytest.fixture(scope="module")
def ramps():
    return compile_model(RAMPS)


@pytest.fixture(scope="module")
def zero_data() -> np.ndarray:
    return np.column_stack([T, np.zeros_like(T), np.zeros_like(T)])


def _lv_rows(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = TUTORIAL_TRUE * rng.uniform(0.7, 1.3, (n, 4))
    X[::9] = FAILING
    return X


def test_per_output_sse_rmse_nll_match_closed_forms(ramps, zero_data) -> None:
    s2 = float(np.sum(T**2))
    n_t = len(T)
    X = np.array([[1.0, 2.0], [0.5, -3.0]])
    sq = np.column_stack([X[:, 0] ** 2 * s2, X[:, 1] ** 2 * s2])  # S_x, S_y per row
    sigma = np.array([0.5, 2.0])
    nll = 0.5 * n_t * np.log(2 * math.pi * sigma**2) + sq / (2 * sigma**2)
    cases = {
        "sse": (SSE(), sq),
        "weighted sse": (SSE(weight=0.5, output_weights=(2.0, 3.0)), 0.5 * sq * [2.0, 3.0]),
        "rmse": (RMSE(weight=2.0), 2.0 * np.sqrt(sq / n_t)),
        "nll": (GaussianNLL(sigma=(0.5, 2.0)), nll),
        "sum": (SSE() + 3.0 * RMSE(), sq + 3.0 * np.sqrt(sq / n_t)),
    }
    for name, (cost, expected) in cases.items():
        problem = Problem(ramps, zero_data, cost=cost)
        values = problem.evaluate_batch_per_output(X)
        assert values.shape == (2, 2) and values.dtype == np.float64, name
        np.testing.assert_allclose(values, expected, rtol=1e-13, err_msg=name)


def test_estimated_sigma_is_read_from_the_row(ramps, zero_data) -> None:
    """A noise level estimated per output is the row's own column (closed form as above)."""
    problem = Problem(ramps, zero_data, cost=GaussianNLL(estimate_sigma="per_output"))
    assert problem.parameter_names == ["a", "b", "sigma_0", "sigma_1"]
    values = problem.evaluate_batch_per_output([[1.0, 2.0, 0.5, 2.0], [1.0, 2.0, -1.0, 1.0]])
    sq = np.array([1.0, 4.0]) * np.sum(T**2)
    sigma = np.array([0.5, 2.0])
    expected = 0.5 * len(T) * np.log(2 * math.pi * sigma**2) + sq / (2 * sigma**2)
    np.testing.assert_allclose(values[0], expected, rtol=1e-13)
    assert np.all(np.isinf(values[1]))  # sigma <= 0: the row fails (BAD_SIGMA)
    assert status_name(int(problem.last_statuses[1])) == "BAD_SIGMA"


@pytest.mark.parametrize("cost", [SSE(), GaussianNLL(sigma=0.3)], ids=["sse", "nll"])
def test_columns_add_up_to_the_cost_exactly(lv_model, lv_data, cost) -> None:
    """One term of weight 1: the left-to-right row sum is the evaluate_batch cost bit for bit;
    failed rows are inf in every column and carry evaluate_batch's status."""
    problem = Problem(lv_model, lv_data, cost=cost)
    X = _lv_rows(40)
    costs, statuses = problem.evaluate_batch(X, return_status=True)
    values, per_statuses = problem.evaluate_batch_per_output(X, return_status=True)
    assert values.shape == (40, 2)
    assert np.array_equal(per_statuses, statuses)
    assert np.array_equal(_left_to_right(values), costs)
    failed = statuses < 0
    assert failed.sum() == 5 and np.all(np.isinf(values[failed]))
    assert np.all(np.isfinite(values[~failed]))


def test_weighted_sums_add_up_to_within_rounding(lv_model, lv_data) -> None:
    """Several weighted terms: the per-output values and the total group the same positive
    products differently (T = 2 terms, m = 2 outputs), so they agree to a few ulp: each
    side is a sum of at most T + m rounded positive terms, within (T + m) eps of the exact
    sum; the bound used is 4 (T + m) eps relative."""
    cost = SSE(weight=0.7, output_weights=(1.0, 3.0)) + 2.0 * GaussianNLL(sigma=3.0)
    problem = Problem(lv_model, lv_data, cost=cost)
    X = _lv_rows(30)
    costs = problem.evaluate_batch(X)
    values = problem.evaluate_batch_per_output(X)
    ok = np.isfinite(costs)
    assert np.all(values[ok] > 0)  # all terms positive: the relative bound applies
    bound = 4 * (2 + 2) * np.finfo(float).eps * costs[ok]
    assert np.all(np.abs(_left_to_right(values[ok]) - costs[ok]) <= bound)
    assert np.all(np.isinf(values[~ok]))


def test_rmse_columns_give_the_total_by_their_root_mean_square(lv_model, lv_data) -> None:
    """RMSE is not additive: total = w sqrt(mean_j (value_j / w)^2) (the documented relation)."""
    problem = Problem(lv_model, lv_data, cost=RMSE(weight=2.0))
    X = _lv_rows(20)
    costs = problem.evaluate_batch(X)
    values = problem.evaluate_batch_per_output(X)
    ok = np.isfinite(costs)
    total = 2.0 * np.sqrt(np.mean((values[ok] / 2.0) ** 2, axis=1))
    np.testing.assert_allclose(total, costs[ok], rtol=1e-14)


def test_threads_statistics_and_shapes(lv_model, lv_data) -> None:
    problem = Problem(lv_model, lv_data)
    X = _lv_rows(37)
    one = problem.evaluate_batch_per_output(X, n_threads=1)
    problem.reset_stats()
    two = problem.evaluate_batch_per_output(X, n_threads=2)
    assert np.array_equal(one, two)  # bit-identical for any thread count
    assert problem.stats.evaluations == 37
    assert sum(problem.stats.failures.values()) == 5
    assert problem.n_outputs == 2
    assert problem.evaluate_batch_per_output(np.empty((0, 4))).shape == (0, 2)
    with pytest.raises(ProblemError, match="`X` must have shape"):
        problem.evaluate_batch_per_output(np.ones((3, 5)))
    with pytest.raises(ProblemError, match="`n_threads`"):
        problem.evaluate_batch_per_output(X, n_threads=0)
