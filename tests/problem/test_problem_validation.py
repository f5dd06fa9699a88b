"""Construction-time validation of Problem: every bad input gets a clear error.

Reference: the rules of ``../shared/docs/architecture.md`` ("Semantics that users rely on":
data layout, parameters by name, errors that name the argument, the value, the expectation
and the fix). No numbers are compared except the model defaults written in the model text.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffid_plugins import Problem
from diffid_plugins.errors import DiffidError
from diffid_plugins.problem import ProblemError


def test_defaults(lv_model, lv_data) -> None:
    """Parameters default to every `in` label in order, x0 to the values in the model text."""
    problem = Problem(lv_model, lv_data)
    assert problem.parameter_names == ["a", "b", "d", "g"]
    assert problem.n_params == 4
    np.testing.assert_array_equal(problem.x0, [1.1, 0.4, 0.1, 0.4])
    assert problem.bounds == [(-math.inf, math.inf)] * 4
    assert problem.stats.evaluations == 0 and problem.last_statuses is None
    assert "n_params=4" in repr(problem)
    assert lv_data.flags.writeable and not problem.data.flags.writeable  # a private copy


def test_parameters_by_name_hold_the_others(lv_model, lv_data) -> None:
    """Fitting [g, a] holds b and d at their defaults: same cost as the full vector."""
    full = Problem(lv_model, lv_data)
    sub = Problem(lv_model, lv_data, parameters=["g", "a"], bounds={"a": (0.5, 2.0)})
    assert sub.parameter_names == ["g", "a"]
    np.testing.assert_array_equal(sub.x0, [0.4, 1.1])
    assert sub.bounds == [(-math.inf, math.inf), (0.5, 2.0)]
    assert sub.evaluate([0.45, 1.05]) == full.evaluate([1.05, 0.4, 0.1, 0.45])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.arange(5.0), r"`data` must be 2-dimensional .* got an array of shape \(5,\)"),
        (np.zeros((4, 2)), r"`data` has 2 columns, but the model has 2 output\(s\)"),
        (np.zeros((0, 3)), r"`data` has no rows"),
        (
            np.array([[0.0, 1.0, np.nan], [1.0, 1.0, 1.0]]),
            r"`data` must be finite, got nan at row 0, column 2",
        ),
        (
            np.array([[0.0, 1.0, 1.0], [2.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
            r"non-decreasing, got 2.0 followed by 1.0 at row 2. Sort the rows",
        ),
        (
            np.array([[-1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
            r"`data` times must be >= t0 = 0.0 .* got -1.0 in row 0",
        ),
        ([["a", "b", "c"]], r"`data` must be a numeric array of shape \(n_times, 3\)"),
    ],
)
def test_bad_data(lv_model, data, match) -> None:
    with pytest.raises(ProblemError, match=match) as info:
        Problem(lv_model, data)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DiffidError)


def test_t0_after_data(lv_model, lv_data) -> None:
    with pytest.raises(ProblemError, match=r"Pass a smaller `t0`"):
        Problem(lv_model, lv_data, t0=1.0)


def test_unknown_parameter_names(lv_model, lv_data) -> None:
    with pytest.raises(ProblemError, match=r"'alpha' is not an input .* \['a', 'b', 'd', 'g'\]"):
        Problem(lv_model, lv_data, parameters=["alpha"])
    with pytest.raises(ProblemError, match=r"Did you mean 'g'\?"):
        Problem(lv_model, lv_data, parameters=["a", "gg"])
    with pytest.raises(ProblemError, match=r"lists 'a' twice"):
        Problem(lv_model, lv_data, parameters=["a", "a"])
    with pytest.raises(TypeError, match=r"got the string 'a'; write parameters=\['a'\]"):
        Problem(lv_model, lv_data, parameters="a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must hold input names \(str\), got 1"):
        Problem(lv_model, lv_data, parameters=[1])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("bounds", "error", "match"),
    [
        ([(0, 1)] * 3, ProblemError, r"`bounds` has 3 pairs, but the problem has 4 parameters"),
        ([(0, 1), (2, 1), (0, 1), (0, 1)], ProblemError, r"for 'b' must satisfy lower < upper"),
        ([(0, 1), (1, 1), (0, 1), (0, 1)], ProblemError, r"got \(1.0, 1.0\). Swap them"),
        ({"a": (math.nan, 1.0)}, ProblemError, r"for 'a' must not be NaN"),
        ({"alpha": (0, 1)}, ProblemError, r"names 'alpha', which is not a fitted parameter"),
        ({"a": 3.0}, ProblemError, r"for 'a' must be a pair \(lower, upper\) of numbers"),
        (5, TypeError, r"`bounds` must be a list of \(lower, upper\) pairs or a dict"),
    ],
)
def test_bad_bounds(lv_model, lv_data, bounds, error, match) -> None:
    with pytest.raises(error, match=match):
        Problem(lv_model, lv_data, bounds=bounds)


def test_bounds_list_may_omit_noise_parameters(lv_model, lv_data) -> None:
    from diffid_plugins import GaussianNLL

    problem = Problem(
        lv_model, lv_data, cost=GaussianNLL(estimate_sigma=True), bounds=[(0, 3)] * 4
    )
    assert problem.bounds == [(0.0, 3.0)] * 4 + [(0.0, math.inf)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "bdf"}, r"`method` must be one of \['auto', 'dopri5', 'rodas5p', 'tsit5'\]"),
        ({"rtol": 0.0}, r"`rtol` must be a positive finite number, got 0.0"),
        ({"atol": [1e-8]}, r"`atol` must be .* an array of 2 positive finite values"),
        ({"max_steps": 0}, r"`max_steps` must be a positive integer, got 0"),
        ({"t0": math.inf}, r"`t0` must be a finite number, got inf"),
    ],
)
def test_bad_settings(lv_model, lv_data, kwargs, match) -> None:
    with pytest.raises(ProblemError, match=match):
        Problem(lv_model, lv_data, **kwargs)


def test_bad_model_and_rows(lv_model, lv_data) -> None:
    with pytest.raises(TypeError, match=r"`model` must be a compiled model"):
        Problem("in_i { a = 1 }", lv_data)
    problem = Problem(lv_model, lv_data)
    with pytest.raises(ProblemError, match=r"`X` must have shape \(n, 4\) .* got \(4,\)"):
        problem.evaluate_batch(problem.x0)
    with pytest.raises(ProblemError, match=r"`x` must have shape \(4,\)"):
        problem.evaluate([1.0, 2.0])
    with pytest.raises(ProblemError, match=r"`n_threads` must be an integer in \[1, "):
        problem.evaluate_batch(problem.x0[None, :], n_threads=0)
    assert problem.stats.evaluations == 0
