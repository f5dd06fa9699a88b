"""Behaviour every ``ProblemLike`` implementation passes (``problem/_protocols.py``).

A reusable checker, in the manner of Optuna's ``optuna/testing/pytest_samplers.py``: the
problem tests run it on ``Problem`` and ``FunctionProblem``, and an adapter's tests can run it
on whatever problem the adapter wraps. Each check takes the problem and a few rows that it
must evaluate successfully (``good``) and one row it must fail (``bad``); the expected numbers
are the problem's own: the checks compare its entry points with one another.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffid_plugins.errors import DiffidError
from diffid_plugins.problem import ProblemLike


def check_problem_contract(problem: Any, good: np.ndarray, bad: np.ndarray) -> None:
    """Assert the ``ProblemLike`` contract on ``problem``.

    Parameters
    ----------
    problem : ProblemLike
    good : ndarray, shape (n, n_params)
        Rows that evaluate successfully (finite costs, status 0).
    bad : ndarray, shape (n_params,)
        A row that fails (cost ``inf``, non-zero status), e.g. NaN entries.
    """
    assert isinstance(problem, ProblemLike)
    d = problem.n_params
    assert problem.parameter_names and len(problem.parameter_names) == d
    x0 = problem.x0
    assert x0.shape == (d,) and x0.dtype == np.float64
    bounds = problem.bounds
    assert len(bounds) == d and all(lo <= hi for lo, hi in bounds)

    problem.reset_stats()
    X = np.vstack([good, bad[None, :], good[:1]])  # noqa: N806
    costs = problem.evaluate_batch(X)
    assert costs.shape == (len(X),) and costs.dtype == np.float64
    assert np.isfinite(costs[: len(good)]).all()
    assert costs[len(good)] == np.inf  # failures cost inf, never NaN, never raise
    assert costs[-1] == costs[0]  # deterministic within a batch
    statuses = problem.last_statuses
    assert statuses is not None and statuses.shape == (len(X),)
    assert (statuses[: len(good)] == 0).all() and statuses[len(good)] != 0

    again, status_again = problem.evaluate_batch(X, return_status=True)
    assert np.array_equal(again, costs) and np.array_equal(status_again, statuses)
    assert problem.evaluate(good[0]) == costs[0]  # evaluate(x) == evaluate_batch(x[None])[0]
    cost, status = problem.evaluate(bad, return_status=True)
    assert cost == np.inf and status != 0
    empty = problem.evaluate_batch(np.empty((0, d)))
    assert empty.shape == (0,)

    for wrong in (np.zeros((2, d + 1)), np.zeros(d), "not numbers"):
        try:
            problem.evaluate_batch(wrong)
        except DiffidError as exc:
            assert isinstance(exc, ValueError | TypeError)
            assert "X" in str(exc)
        else:  # pragma: no cover - the assertion message names the case
            raise AssertionError(f"evaluate_batch accepted {wrong!r}")
    problem.reset_stats()
