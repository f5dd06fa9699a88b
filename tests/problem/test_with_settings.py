"""``Problem.with_settings`` and ``Problem.atol``; ``Cost.is_log_likelihood``."""

from __future__ import annotations

import numpy as np
import pytest

from diffid_plugins import RMSE, SSE, GaussianNLL, Problem, compile_model

DECAY = "in_i { k = 0.5 }\nu_i { y = 2.0 }\nF_i { -k * y }\n"


@pytest.fixture(scope="module")
def problem() -> Problem:
    t = np.linspace(0.0, 4.0, 20)
    data = np.column_stack([t, 2.0 * np.exp(-0.5 * t)])
    return Problem(compile_model(DECAY), data, cost=GaussianNLL(sigma=0.1), bounds={"k": (0, 1)})


def test_with_settings_keeps_everything_else(problem: Problem) -> None:
    same = problem.with_settings()
    assert same.rtol == problem.rtol and same.atol == problem.atol == 1e-8
    assert same.parameter_names == problem.parameter_names and same.bounds == problem.bounds
    x = np.array([[0.3], [0.5], [0.9]])
    np.testing.assert_array_equal(same.evaluate_batch(x), problem.evaluate_batch(x))
    tight = problem.with_settings(rtol=1e-10, atol=1e-12)
    assert (tight.rtol, tight.atol) == (1e-10, 1e-12)
    assert problem.rtol == 1e-6  # the original is unchanged
    # the exact solution is 2 exp(-k t): the tighter solve is closer to the exact cost
    t, y = problem.data[:, 0], problem.data[:, 1]
    exact = [
        0.5 * np.sum((2 * np.exp(-k * t) - y) ** 2) / 0.01 + 10 * np.log(2 * np.pi * 0.01)
        for k in x[:, 0]
    ]
    assert np.max(np.abs(tight.evaluate_batch(x) - exact)) < np.max(
        np.abs(problem.evaluate_batch(x) - exact)
    )


def test_is_log_likelihood() -> None:
    assert GaussianNLL(sigma=0.3).is_log_likelihood
    assert not GaussianNLL(sigma=0.3, weight=2.0).is_log_likelihood
    assert not SSE().is_log_likelihood and not RMSE().is_log_likelihood
    assert not (GaussianNLL(sigma=0.3) + GaussianNLL(sigma=0.3)).is_log_likelihood
