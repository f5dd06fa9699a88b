"""FunctionProblem: Python objectives (scalar and vector form) evaluated in batches.

Where the expected numbers come from:

- scalar rows: the closed form ``sum(x^2)`` (``_function_objectives.sphere``);
- vector form: data ``t^2`` and model ``1.5 t^2`` at ``t = 1..20``, so ``r = 0.5 t^2`` and
  ``SSE = 0.25 sum t^4 = 0.25 * 722666 = 180666.5`` (``sum_{t=1}^{n} t^4 =
  n(n+1)(2n+1)(3n^2+3n-1)/30``); ``RMSE = sqrt(SSE / 20)``;
  ``NLL = (20/2) ln(2 pi sigma^2) + SSE / (2 sigma^2)`` (diffid's formulas,
  ``docs/diffid-reference.md`` section 1.7);
- the Lotka-Volterra vector form is compared with the ODE ``Problem`` on the same data: its
  kernel computes the same predictions (``solve``) and, in the same order, the same sums, so
  the costs must agree bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import _function_objectives as objectives
import numpy as np
import pytest

from diffid_plugins.parallel import (
    CANCELLED_MESSAGE,
    ExecutionCancelledError,
    TaskTimeoutError,
    WorkerDiedError,
)
from diffid_plugins.problem import RMSE, SSE, GaussianNLL, Problem, ProblemError
from diffid_plugins.problem._function import FunctionProblem
from diffid_plugins.problem._function_objective import ObjectiveResultError

SSE_CLOSED_FORM = 0.25 * 722666  # 0.25 * sum_{t=1}^{20} t^4
T = np.arange(1.0, 21.0)
QUADRATIC_DATA = np.column_stack([T, T**2])


@pytest.fixture(scope="module")
def sphere_problem() -> Iterator[FunctionProblem]:
    """One 2-process scalar problem shared by the tests that only read results."""
    with FunctionProblem(objectives.fails_when_negative, ["a", "b", "c"], n_workers=2) as p:
        yield p


def test_batch_equals_closed_form_in_input_order(sphere_problem: FunctionProblem) -> None:
    X = np.random.default_rng(0).uniform(0.0, 2.0, size=(50, 3))
    costs = sphere_problem.evaluate_batch(X)
    np.testing.assert_array_equal(costs, np.sum(X * X, axis=1))  # closed form, row order
    assert costs.dtype == np.float64 and costs.shape == (50,)
    assert [sphere_problem.evaluate(x) for x in X[:5]] == costs[:5].tolist()
    assert sphere_problem.failed_indices == [] and sphere_problem.exceptions_map == {}
    assert sphere_problem.last_statuses is not None and not sphere_problem.last_statuses.any()


def test_failures_cost_inf_and_are_recorded(sphere_problem: FunctionProblem) -> None:
    sphere_problem.reset_stats()
    X = np.array([[1.0, 0, 0], [-1.0, 0, 0], [np.nan, 0, 0], [2.0, 0, 0], [-3.0, 1, 1]])
    costs, statuses = sphere_problem.evaluate_batch(X, return_status=True)
    np.testing.assert_array_equal(costs, [1.0, np.inf, np.inf, 4.0, np.inf])
    assert sphere_problem.failed_indices == [1, 2, 4]
    assert isinstance(sphere_problem.exceptions_map[1], ValueError)
    assert "negative first parameter -1.0" in str(sphere_problem.exceptions_map[1])
    assert "NONFINITE_PARAMS" in str(sphere_problem.exceptions_map[2])  # never sent
    assert statuses.tolist() == [0, -30, -23, 0, -30]
    assert sphere_problem.stats.evaluations == 5
    assert sphere_problem.stats.failures == {"RAISED": 2, "NONFINITE_PARAMS": 1}
    # The bookkeeping is reset by the next call (DSPy's is not).
    sphere_problem.evaluate_batch(np.ones((2, 3)))
    assert sphere_problem.failed_indices == [] and sphere_problem.exceptions_map == {}


def test_evaluate_never_raises_for_a_bad_row(sphere_problem: FunctionProblem) -> None:
    assert sphere_problem.evaluate([1.0, 2.0, 2.0]) == 9.0
    cost, status = sphere_problem.evaluate([-1.0, 0.0, 0.0], return_status=True)
    assert (cost, status) == (math.inf, -30)
    assert isinstance(sphere_problem.exceptions_map[0], ValueError)
    with pytest.raises(ProblemError, match=r"`x` must have shape \(3,\)"):
        sphere_problem.evaluate([1.0, 2.0])
    with pytest.raises(ProblemError, match=r"`X` must have shape \(n, 3\)"):
        sphere_problem.evaluate_batch(np.ones((4, 2)))


def test_unusable_results_fail_their_rows() -> None:
    problem = FunctionProblem(objectives.odd_results, ["kind"], backend="thread", n_workers=2)
    costs = problem.evaluate_batch([[0.0], [1.0], [2.0], [3.0]])
    assert np.isinf(costs).all()
    assert problem.last_statuses is not None
    assert problem.last_statuses.tolist() == [-31, -31, -21, -31]  # BAD_RESULT, NONFINITE_COST
    assert isinstance(problem.exceptions_map[0], ObjectiveResultError)
    assert "must return a real number" in str(problem.exceptions_map[1])


def test_workers_receive_the_objective_once_and_persist() -> None:
    with FunctionProblem(objectives.pid_cost, ["x"], n_workers=2) as problem:
        first = set(problem.evaluate_batch(np.zeros((20, 1))).tolist())
        second = set(problem.evaluate_batch(np.zeros((20, 1))).tolist())
    assert len(first) == 2 and first == second  # the same two worker processes


def test_max_errors_cancels_with_dspy_message() -> None:
    problem = FunctionProblem(
        objectives.fails_when_negative, ["a"], backend="thread", n_workers=1, max_errors=2
    )
    with pytest.raises(ExecutionCancelledError, match=CANCELLED_MESSAGE):
        problem.evaluate_batch([[1.0], [-1.0], [2.0], [-2.0], [3.0], [-3.0]])
    assert problem.failed_indices == [1, 3]  # the two failures that triggered it
    assert problem.evaluate_batch([[1.0], [-1.0]]).tolist() == [1.0, math.inf]  # 1 < 2


def test_hung_row_is_terminated_by_timeout() -> None:
    X = np.array([[1.0], [500.0], [2.0], [3.0]])  # row 1 sleeps 1000 s
    with FunctionProblem(
        objectives.hangs_when_large, ["a"], n_workers=2, timeout=0.5, straggler_limit=0
    ) as problem:
        start = time.monotonic()
        costs = problem.evaluate_batch(X)
        assert time.monotonic() - start < 15
    np.testing.assert_array_equal(costs, [1.0, np.inf, 4.0, 9.0])
    assert isinstance(problem.exceptions_map[1], TaskTimeoutError)
    assert problem.stats.failures == {"TIMEOUT": 1}


def test_crashed_worker_fails_only_its_row() -> None:
    with FunctionProblem(objectives.crash_when_large, ["a"], n_workers=2) as problem:
        costs = problem.evaluate_batch([[1.0], [500.0], [2.0]])
    np.testing.assert_array_equal(costs, [1.0, np.inf, 4.0])
    assert isinstance(problem.exceptions_map[1], WorkerDiedError)
    assert problem.last_statuses is not None and problem.last_statuses[1] == -33


def test_progress_bar_on_and_off(capsys: pytest.CaptureFixture[str]) -> None:
    for progress in (True, False):
        problem = FunctionProblem(
            objectives.sphere, ["a"], backend="thread", n_workers=1, progress=progress
        )
        problem.evaluate_batch(np.ones((3, 1)))
        shown = "Processed 3 / 3 examples" in capsys.readouterr().out
        assert shown == progress


def test_lambda_runs_on_threads() -> None:
    problem = FunctionProblem(lambda x: float(x[0] + 1), ["a"], backend="thread", n_workers=2)
    assert problem.evaluate_batch([[1.0], [2.0]]).tolist() == [2.0, 3.0]
    with pytest.raises(TypeError, match="cannot be pickled"):
        FunctionProblem(lambda x: 0.0, ["a"], n_workers=1).evaluate_batch([[1.0]])


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        (SSE(), SSE_CLOSED_FORM),
        (RMSE(), math.sqrt(SSE_CLOSED_FORM / 20)),
        (GaussianNLL(sigma=2.0), 10 * math.log(2 * math.pi * 4.0) + SSE_CLOSED_FORM / 8.0),
        (GaussianNLL(variance=0.5), 10 * math.log(math.pi) + SSE_CLOSED_FORM),
        (SSE(2.0) + RMSE(), 2 * SSE_CLOSED_FORM + math.sqrt(SSE_CLOSED_FORM / 20)),
        (0.5 * SSE(output_weights=[3.0]), 1.5 * SSE_CLOSED_FORM),
    ],
)
def test_vector_costs_equal_closed_form(cost: Any, expected: float) -> None:
    problem = FunctionProblem(
        objectives.scaled_square, ["a"], data=QUADRATIC_DATA, cost=cost, backend="thread"
    )
    assert problem.evaluate([1.5]) == pytest.approx(expected, rel=1e-13)
    assert problem.evaluate([1.0]) == 0.0 or isinstance(cost, GaussianNLL)


def test_estimated_sigma_is_an_extra_parameter() -> None:
    data = np.column_stack([np.arange(20.0), np.arange(20.0) ** 2, 2 * np.arange(20.0)])
    cost = SSE() + GaussianNLL(sigma=0.7, estimate_sigma="per_output")
    problem = FunctionProblem(
        objectives.quadratic_predictions,
        ["a", "b"],
        {"a": (0.0, 3.0)},
        data=data,
        cost=cost,
        backend="thread",
    )
    assert problem.parameter_names == ["a", "b", "sigma_0", "sigma_1"]
    np.testing.assert_array_equal(problem.x0, [1.5, 0.0, 0.7, 0.7])  # mid-box, 0, sigma
    assert problem.bounds == [(0.0, 3.0), (-math.inf, math.inf), (0.0, math.inf), (0, math.inf)]
    # a = 1, b = 2 reproduce the data: SSE 0, NLL = sum_j 10 ln(2 pi sigma_j^2).
    expected = 10 * math.log(2 * math.pi * 0.25) + 10 * math.log(2 * math.pi * 4.0)
    assert problem.evaluate([1.0, 2.0, 0.5, 2.0]) == pytest.approx(expected, rel=1e-13)
    costs = problem.evaluate_batch([[1.0, 2.0, 0.5, 2.0], [1.0, 2.0, 0.0, 1.0]])
    assert problem.last_statuses is not None and problem.last_statuses.tolist() == [0, -22]
    assert costs[1] == math.inf  # BAD_SIGMA, as in the core kernel


def test_wrong_prediction_shape_fails_the_row() -> None:
    problem = FunctionProblem(
        objectives.wrong_shape_predictions, ["a"], data=QUADRATIC_DATA, backend="thread"
    )
    assert problem.evaluate([1.0]) == math.inf
    assert "shape (3, 1), but `data` needs (20, 1)" in str(problem.exceptions_map[0])


def test_lotka_volterra_vector_form_equals_the_ode_problem(
    lv_model: Any, lv_data: np.ndarray
) -> None:
    # lv_predictions calls solve() on the same model text; the ODE Problem's kernel calls
    # the same solver entry point and sums the residuals in the same order.
    X = np.random.default_rng(1).uniform([0.9, 0.3, 0.05, 0.3], [1.3, 0.5, 0.15, 0.5], (12, 4))
    for cost in (SSE(), RMSE() + GaussianNLL(sigma=[0.3, 0.4])):
        ode = Problem(lv_model, lv_data, cost=cost)
        python = FunctionProblem(
            objectives.lv_predictions,
            ode.parameter_names,
            data=lv_data,
            cost=cost,
            backend="thread",
            n_workers=2,
        )
        costs = python.evaluate_batch(X)
        assert not python.failed_indices, python.exceptions_map
        np.testing.assert_array_equal(costs, ode.evaluate_batch(X))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"parameters": "a"}, TypeError, "list of parameter names"),
        ({"parameters": ["a", "a"]}, ProblemError, r"lists \['a'\] more than once"),
        ({"parameters": []}, ProblemError, "`parameters` is empty"),
        ({"bounds": [(1.0, 0.0)]}, ProblemError, "lower < upper"),
        ({"bounds": {"z": (0.0, 1.0)}}, ProblemError, "'z', which is not a fitted parameter"),
        ({"cost": SSE()}, ProblemError, "`cost` .* needs `data`"),
        ({"data": np.ones(3)}, ProblemError, "`data` must be 2-dimensional"),
        ({"data": [[0.0, 1.0], [1.0, np.nan]]}, ProblemError, "`data` must be finite"),
        ({"data": [[1.0, 1.0], [0.0, 1.0]]}, ProblemError, "must be non-decreasing"),
        ({"x0": [1.0, 2.0]}, ProblemError, "`x0` must hold 1 finite numbers"),
        ({"backend": "mpi"}, ValueError, "`backend` must be 'process', 'thread', 'dask'"),
        ({"n_workers": 0.5}, ProblemError, "`n_workers` must be a positive integer"),
        ({"timeout": -1.0}, ValueError, "`timeout` must be a finite number of seconds >= 0"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    arguments: dict[str, Any] = {"function": objectives.sphere, "parameters": ["a"]}
    arguments.update(kwargs)
    with pytest.raises(error, match=pattern):
        FunctionProblem(**arguments)


def test_pickles_without_its_workers(sphere_problem: FunctionProblem) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(sphere_problem))
    costs, statuses = copy._evaluate_rows(np.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 0.0]]), 1)
    np.testing.assert_array_equal(costs, [5.0, np.inf])
    assert statuses.tolist() == [0, -30]
    assert copy.stats.evaluations == 0  # _evaluate_rows leaves the counters alone


def test_problem_from_function_delegates() -> None:
    problem = Problem.from_function(objectives.sphere, ["a", "b"], backend="thread")
    assert isinstance(problem, FunctionProblem)
    assert problem.evaluate_batch([[1.0, 2.0], [3.0, 0.0]]).tolist() == [5.0, 9.0]  # sum x^2
    vector = Problem.from_function(
        objectives.scaled_square, ["a"], [(0.0, 3.0)], data=QUADRATIC_DATA, backend="thread"
    )
    assert vector.evaluate([1.5]) == SSE_CLOSED_FORM and vector.bounds == [(0.0, 3.0)]
